import Foundation
import GRDB
import LifelineQueue

/// What users do to jobs by hand: cancel and retry.
extension SQLiteJobStore {
    public func jobCancel(_ ids: [Int64]) async throws -> [Int64: CancelResult] {
        let hook = finishHook
        return try await write { [clock] db in
            let now = clock().ms
            var results: [Int64: CancelResult] = [:]
            for id in ids { results[id] = try Self.cancel(id, db, now: now, hook: hook) }
            return results
        }
    }

    public func jobCancelRequested(_ ids: [Int64]) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        return try await writer.read { db in
            // Cached: a worker with jobs running looks after every burst of commits, and
            // preparing the statement cost more than running it.
            let requested = try Int64.fetchAll(db.cachedStatement(sql: """
                SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) AND state = 'running' AND cancel_requested = 1
                """), arguments: [JSONValue.array(ids.map { .int($0) }).canonicalText])
            return Set(requested)
        }
    }

    /// Cancels a waiting job at once, or asks a running one to stop, inside the caller's
    /// transaction.
    static func cancel(_ id: Int64, _ db: Database, now: Int64, hook: (any JobFinishHook<SQLiteTransaction>)?) throws -> CancelResult {
        guard let job = try Job.fetchOne(db, sql: "SELECT \(Job.columns) FROM jobs WHERE id = ?", arguments: [id]) else {
            return .notFound
        }
        switch job.state {
        case .completed, .discarded, .cancelled:
            return .alreadyFinal(job.state)
        case .running:
            try db.execute(sql: "UPDATE jobs SET cancel_requested = 1 WHERE id = ?", arguments: [id])
            try EventLog.append(db, at: now, type: .cancelRequested, job: id, server: job.server)
            return .requested
        case .scheduled, .available, .retryable:
            try db.execute(sql: "UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ?", arguments: [now, id])
            try EventLog.append(db, at: now, type: .cancelled, job: id, server: job.server)
            try hook?.jobDidFinish(job, state: .cancelled, result: nil, error: "cancelled", in: SQLiteTransaction(db: db, nowMs: now, hook: hook))
            return .cancelled
        }
    }

    public func jobRetry(_ ids: [Int64]) async throws -> [Job] {
        try await write { [clock] db in
            let now = clock().ms
            var retried: [Job] = []
            for id in ids {
                let jobs = try Job.fetchAll(db, sql: """
                    UPDATE jobs
                    SET state = 'available', max_attempts = min(attempt + max_attempts, ?), run_at = ?,
                        finished_at = NULL, result = NULL, cancel_requested = 0
                    WHERE id = ? AND state IN ('discarded', 'cancelled', 'retryable', 'scheduled')
                    RETURNING \(Job.columns)
                    """, arguments: [JobLimits.retriedMaxAttempts, now, id])
                for job in jobs {
                    try EventLog.append(db, at: now, type: .retried, job: id, server: job.server)
                }
                retried += jobs
            }
            return retried
        }
    }
}
