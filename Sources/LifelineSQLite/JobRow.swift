import Foundation
import GRDB
import LifelineQueue

/// Reading a `jobs` row into a ``Job``. Columns are read by position, in the order of
/// ``columns``, which every query that decodes jobs selects: looking columns up by name costs
/// more than the rest of the decoding on the claim and finish paths.
extension Job {
    static let columns = """
        id, queue, kind, args, state, priority, attempt, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms, \
        backoff_jitter, run_at, lease_owner, lease_expires_at, heartbeat_at, progress, result, errors, \
        idempotency_key, server, cancel_requested, created_at, attempted_at, finished_at
        """

    init(row: Row) throws {
        let errorsText: String = row[18]
        self.init(
            id: row[0],
            queue: row[1],
            kind: row[2],
            args: try JSONValue(parsing: row[3] as String),
            state: try Self.state(row[4]),
            priority: row[5],
            attempt: row[6],
            maxAttempts: row[7],
            timeout: .milliseconds(row[8] as Int64),
            backoff: Backoff(base: .milliseconds(row[9] as Int64), cap: .milliseconds(row[10] as Int64), jitter: row[11]),
            runAt: Date(ms: row[12]),
            leaseOwner: row[13],
            leaseExpiresAt: (row[14] as Int64?).map(Date.init(ms:)),
            heartbeatAt: (row[15] as Int64?).map(Date.init(ms:)),
            progress: try (row[16] as String?).map(JSONValue.init(parsing:)),
            result: try (row[17] as String?).map(JSONValue.init(parsing:)),
            errors: errorsText == "[]" ? [] : try LifelineJSON.decoder().decode([AttemptError].self, from: Data(errorsText.utf8)),
            idempotencyKey: row[19],
            server: row[20],
            cancelRequested: row[21],
            createdAt: Date(ms: row[22]),
            attemptedAt: (row[23] as Int64?).map(Date.init(ms:)),
            finishedAt: (row[24] as Int64?).map(Date.init(ms:))
        )
    }

    private static func state(_ text: String) throws -> JobState {
        guard let state = JobState(rawValue: text) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown job state '\(text)'")
        }
        return state
    }

    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Job] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Job.init(row:))
    }
}
