import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

/// Reading `servers` rows, with the state and progress of each one's current job.
enum ServerRow {
    /// The current stage is not stored: it is the kind of the current job.
    static let select = """
        SELECT s.*, j.kind AS job_kind, j.state AS job_state, j.progress AS job_progress,
               json_extract(j.errors, '$[#-1].error') AS job_error, j.lease_owner AS job_lease_owner,
               j.lease_expires_at AS job_lease_expires_at
        FROM servers s LEFT JOIN jobs j ON j.id = s.current_job
        """

    static func fetch(_ db: Database, name: String) throws -> ServerInfo? {
        try Row.fetchOne(db, sql: select + " WHERE s.name = ?", arguments: [name]).map(decode)
    }

    static func fetchAll(_ db: Database) throws -> [ServerInfo] {
        try Row.fetchAll(db, sql: select + " ORDER BY s.name").map(decode)
    }

    static func fetchAll(_ db: Database, machine: String) throws -> [ServerInfo] {
        try Row.fetchAll(db, sql: select + " WHERE s.machine = ? ORDER BY s.name", arguments: [machine]).map(decode)
    }

    static func decode(_ row: Row) throws -> ServerInfo {
        let stateText: String = row["state"]
        guard let state = ServerState(rawValue: stateText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown server state '\(stateText)'")
        }
        let stage = (row["job_kind"] as String?).flatMap(Stage.init(kind:))
        let lifecycle = Lifecycle(state: state, currentJob: row["current_job"], currentStage: stage, lastError: row["last_error"])
        let lastTest = (row["last_test_at"] as Int64?).map {
            ServerInfo.LastTest(at: Date(ms: $0), result: row["last_test_result"] ?? "")
        }
        return ServerInfo(
            name: row["name"], machine: row["machine"], disks: row["disks"], diskSize: row["disk_size"], lifecycle: lifecycle,
            recoveryPoint: row["recovery_point"], currentJobState: (row["job_state"] as String?).flatMap(JobState.init(rawValue:)),
            progress: try (row["job_progress"] as String?).map(JSONValue.init(parsing:)), currentJobError: row["job_error"],
            currentJobLease: (row["job_lease_owner"] as String?).flatMap { owner in (row["job_lease_expires_at"] as Int64?).map { (owner, Date(ms: $0)) } },
            lastTest: lastTest
        )
    }
}
