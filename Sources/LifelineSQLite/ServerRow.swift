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
               j.lease_expires_at AS job_lease_expires_at, \(ServerInfo.workloadHolderColumns)
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
        let stateText: String = try row.value("state")
        guard let state = ServerState(rawValue: stateText) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown server state '\(stateText)'")
        }
        let stage = (try row.value("job_kind") as String?).flatMap(Stage.init(kind:))
        let lifecycle = Lifecycle(state: state, currentJob: try row.value("current_job"), currentStage: stage, lastError: try row.value("last_error"))
        let lastTest = try (try row.value("last_test_at") as Int64?).map {
            ServerInfo.LastTest(at: Date(ms: $0), result: try row.value("last_test_result") ?? "")
        }
        return ServerInfo(
            name: try row.value("name"), machine: try row.value("machine"), disks: try row.value("disks"), diskSize: try row.value("disk_size"), lifecycle: lifecycle,
            recoveryPoint: try row.value("recovery_point"), currentJobState: (try row.value("job_state") as String?).flatMap(JobState.init(rawValue:)),
            progress: try (try row.value("job_progress") as String?).map(JSONValue.init(parsing:)), currentJobError: try row.value("job_error"),
            currentJobLease: try (try row.value("job_lease_owner") as String?).flatMap { owner in (try row.value("job_lease_expires_at") as Int64?).map { (owner, Date(ms: $0)) } },
            lastTest: lastTest,
            workloadHolder: try (try row.value("holder_name") as String?).flatMap { name in
                (try row.value("holder_state") as String?).flatMap(ServerState.init(rawValue:)).map { ServerInfo.WorkloadHolder(name: name, state: $0) }
            },
            stateSince: Date(ms: try row.value("updated_at"))
        )
    }
}
