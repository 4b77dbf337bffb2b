import Foundation
import LifelineQueue
import LifelineRecovery
import PostgresNIO

/// Reads a row's columns in order.
struct RowReader {
    private let cells: PostgresRandomAccessRow
    private var index = 0

    init(_ row: PostgresRow) {
        cells = row.makeRandomAccess()
    }

    mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        defer { index += 1 }
        return try cells[index].decode(T.self)
    }

    mutating func json() throws -> JSONValue {
        try JSONValue(parsing: next(String.self))
    }

    mutating func optionalJSON() throws -> JSONValue? {
        try next(String?.self).map(JSONValue.init(parsing:))
    }

    mutating func date() throws -> Date {
        Date(ms: try next(Int64.self))
    }

    mutating func optionalDate() throws -> Date? {
        try next(Int64?.self).map(Date.init(ms:))
    }
}

extension Job {
    /// The columns every query that decodes jobs selects, in ``init(row:)``'s order.
    static let pgColumns = """
        id, queue, kind, args, state, priority, attempt, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms, \
        backoff_jitter, run_at, lease_owner, lease_expires_at, heartbeat_at, progress, result, errors, \
        idempotency_key, server, cancel_requested, created_at, attempted_at, finished_at
        """

    init(row: PostgresRow) throws {
        var r = RowReader(row)
        let id: Int64 = try r.next(), queue: String = try r.next(), kind: String = try r.next(), args = try r.json()
        let stateText: String = try r.next()
        guard let state = JobState(rawValue: stateText) else { throw PostgresDataError("unknown job state '\(stateText)'") }
        let priority: Int = try r.next(), attempt: Int = try r.next(), maxAttempts: Int = try r.next()
        let timeout: Int64 = try r.next(), backoffBase: Int64 = try r.next(), backoffCap: Int64 = try r.next(), jitter: Double = try r.next()
        let runAt = try r.date(), leaseOwner: String? = try r.next(), leaseExpiresAt = try r.optionalDate(), heartbeatAt = try r.optionalDate()
        let progress = try r.optionalJSON(), result = try r.optionalJSON()
        let errorsText: String = try r.next()
        self.init(
            id: id, queue: queue, kind: kind, args: args, state: state, priority: priority, attempt: attempt, maxAttempts: maxAttempts,
            timeout: .milliseconds(timeout), backoff: Backoff(base: .milliseconds(backoffBase), cap: .milliseconds(backoffCap), jitter: jitter),
            runAt: runAt, leaseOwner: leaseOwner, leaseExpiresAt: leaseExpiresAt, heartbeatAt: heartbeatAt, progress: progress, result: result,
            errors: errorsText == "[]" ? [] : try LifelineJSON.decoder().decode([AttemptError].self, from: Data(errorsText.utf8)),
            idempotencyKey: try r.next(), server: try r.next(), cancelRequested: try r.next(), createdAt: try r.date(),
            attemptedAt: try r.optionalDate(), finishedAt: try r.optionalDate()
        )
    }
}

extension JobEvent {
    static let pgColumns = "seq, at, type, job, server, data"

    init(row: PostgresRow) throws {
        var r = RowReader(row)
        let seq: Int64 = try r.next(), at = try r.date(), typeText: String = try r.next()
        guard let type = EventType(rawValue: typeText) else { throw PostgresDataError("unknown event type '\(typeText)'") }
        self.init(seq: seq, at: at, type: type, job: try r.next(), server: try r.next(), data: try r.json())
    }
}

/// Reading `servers` rows, with the state and progress of each one's current job.
enum PostgresServerRow {
    /// The current stage is not stored: it is the kind of the current job.
    static let select = """
        SELECT s.name, s.machine, s.disks, s.disk_size, s.state, s.current_job, s.recovery_point, s.last_error,
               s.last_test_at, s.last_test_result, j.kind, j.state, j.progress, j.errors::json -> -1 ->> 'error',
               j.lease_owner, j.lease_expires_at, \(ServerInfo.workloadHolderColumns), s.updated_at
        FROM servers s LEFT JOIN jobs j ON j.id = s.current_job
        """

    static func decode(_ row: PostgresRow) throws -> ServerInfo {
        var r = RowReader(row)
        let name: String = try r.next(), machine: String = try r.next(), disks: Int = try r.next(), diskSize: Int64 = try r.next()
        let stateText: String = try r.next()
        guard let state = ServerState(rawValue: stateText) else { throw PostgresDataError("unknown server state '\(stateText)'") }
        let currentJob: Int64? = try r.next(), recoveryPoint: String? = try r.next(), lastError: String? = try r.next()
        let lastTestAt = try r.optionalDate(), lastTestResult: String? = try r.next()
        let jobKind: String? = try r.next(), jobState: String? = try r.next(), progress = try r.optionalJSON(), jobError: String? = try r.next()
        let leaseOwner: String? = try r.next(), leaseExpiresAt = try r.optionalDate()
        let holderName: String? = try r.next(), holderState: String? = try r.next(), stateSince = try r.date()
        let lifecycle = Lifecycle(state: state, currentJob: currentJob, currentStage: jobKind.flatMap(Stage.init(kind:)), lastError: lastError)
        return ServerInfo(
            name: name, machine: machine, disks: disks, diskSize: diskSize, lifecycle: lifecycle, recoveryPoint: recoveryPoint,
            currentJobState: jobState.flatMap(JobState.init(rawValue:)), progress: progress, currentJobError: jobError,
            currentJobLease: leaseOwner.flatMap { owner in leaseExpiresAt.map { (owner, $0) } },
            lastTest: lastTestAt.map { ServerInfo.LastTest(at: $0, result: lastTestResult ?? "") },
            workloadHolder: holderName.flatMap { name in holderState.flatMap(ServerState.init(rawValue:)).map { ServerInfo.WorkloadHolder(name: name, state: $0) } },
            stateSince: stateSince
        )
    }
}

/// Stored data this build cannot read.
struct PostgresDataError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
