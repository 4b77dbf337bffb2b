import Foundation
import LifelineQueue

/// What users do to jobs by hand: cancel and retry.
extension PostgresJobStore {
    public func jobCancel(_ ids: [Int64]) async throws -> [Int64: CancelResult] {
        try await transaction { transaction in
            var results: [Int64: CancelResult] = [:]
            for id in ids { results[id] = try Self.cancel(id, transaction) }
            return results
        }
    }

    public func jobCancelRequested(_ ids: [Int64]) async throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        return try await read { connection in
            Set(try connection.query("""
                SELECT id FROM jobs WHERE id = ANY(\(ids)) AND state = 'running' AND cancel_requested
                """).map { try $0.decode(Int64.self) })
        }
    }

    /// Cancels a waiting job at once, or asks a running one to stop, inside the caller's
    /// transaction.
    static func cancel(_ id: Int64, _ transaction: PostgresTransaction) throws -> CancelResult {
        let rows = try transaction.connection.query("SELECT \(unescaped: Job.pgColumns) FROM jobs WHERE id = \(id) FOR UPDATE")
        guard let job = try rows.first.map(Job.init(row:)) else { return .notFound }
        switch job.state {
        case .completed, .discarded, .cancelled:
            return .alreadyFinal(job.state)
        case .running:
            try transaction.connection.query("UPDATE jobs SET cancel_requested = true WHERE id = \(id)")
            try transaction.eventAppend(.cancelRequested, job: id, server: job.server, data: [:])
            return .requested
        case .scheduled, .available, .retryable:
            try transaction.connection.query("UPDATE jobs SET state = 'cancelled', finished_at = \(transaction.nowMs) WHERE id = \(id)")
            try transaction.eventAppend(.cancelled, job: id, server: job.server, data: [:])
            try transaction.hook?.jobDidFinish(job, state: .cancelled, result: nil, error: "cancelled", in: transaction)
            return .cancelled
        }
    }

    public func jobRetry(_ ids: [Int64]) async throws -> [Job] {
        try await transaction { transaction in
            var retried: [Job] = []
            for id in ids {
                let jobs = try transaction.connection.query("""
                    UPDATE jobs
                    SET state = 'available', max_attempts = LEAST(attempt::bigint + max_attempts, \(JobLimits.retriedMaxAttempts))::integer,
                        run_at = \(transaction.nowMs), finished_at = NULL, result = NULL, cancel_requested = false
                    WHERE id = \(id) AND state IN ('discarded', 'cancelled', 'retryable', 'scheduled')
                    RETURNING \(unescaped: Job.pgColumns)
                    """).map(Job.init(row:))
                for job in jobs {
                    try transaction.eventAppend(.retried, job: id, server: job.server, data: [:])
                }
                retried += jobs
            }
            return retried
        }
    }
}
