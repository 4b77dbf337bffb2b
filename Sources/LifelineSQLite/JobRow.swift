import Foundation
import GRDB
import LifelineQueue

/// Reading a `jobs` row into a ``Job``.
extension Job {
    init(row: Row) throws {
        let errorsText: String = row["errors"]
        self.init(
            id: row["id"],
            queue: row["queue"],
            kind: row["kind"],
            args: try JSONValue(parsing: row["args"] as String),
            state: try Self.state(row["state"]),
            priority: row["priority"],
            attempt: row["attempt"],
            maxAttempts: row["max_attempts"],
            timeout: .milliseconds(row["timeout_ms"] as Int64),
            backoff: Backoff(
                base: .milliseconds(row["backoff_ms"] as Int64), cap: .milliseconds(row["backoff_cap_ms"] as Int64),
                jitter: row["backoff_jitter"]
            ),
            runAt: Date(ms: row["run_at"]),
            leaseOwner: row["lease_owner"],
            leaseExpiresAt: (row["lease_expires_at"] as Int64?).map(Date.init(ms:)),
            heartbeatAt: (row["heartbeat_at"] as Int64?).map(Date.init(ms:)),
            progress: try (row["progress"] as String?).map(JSONValue.init(parsing:)),
            result: try (row["result"] as String?).map(JSONValue.init(parsing:)),
            errors: errorsText == "[]" ? [] : try LifelineJSON.decoder().decode([AttemptError].self, from: Data(errorsText.utf8)),
            idempotencyKey: row["idempotency_key"],
            server: row["server"],
            cancelRequested: row["cancel_requested"],
            createdAt: Date(ms: row["created_at"]),
            attemptedAt: (row["attempted_at"] as Int64?).map(Date.init(ms:)),
            finishedAt: (row["finished_at"] as Int64?).map(Date.init(ms:))
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
