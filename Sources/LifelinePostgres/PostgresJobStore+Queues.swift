import Foundation
import LifelineQueue

extension PostgresJobStore {
    public func queueList() async throws -> [QueueInfo] {
        try await read { connection in
            QueueInfo.listing(try Self.queueRecords(connection), counts: try Self.countsByQueue(connection))
        }
    }

    /// Every queue's settings, as stored, by name: for the list and for a copy.
    static func queueRecords(_ connection: BlockingConnection) throws -> [QueueRecord] {
        try connection.query("SELECT name, concurrency_limit, paused, retain_completed_ms, retain_failed_ms FROM queues ORDER BY name").map { row in
            let (name, limit, paused, completed, failed) = try row.decode((String, Int?, Bool, Int64?, Int64?).self)
            return QueueRecord(name: name, limit: limit, paused: paused, retainCompletedMs: completed, retainFailedMs: failed)
        }
    }

    /// Folded changes past which the change tables are vacuumed at once.
    static let bigFold: Int64 = 10_000

    /// Jobs per queue and state: the folded counts plus the changes the triggers appended since.
    /// The changes are folded first (unless another process is folding them), so a big batch
    /// that committed many is summed once, not at every read; the fold commits on its own.
    /// After a big fold the change tables are vacuumed, or every read would step over the
    /// dead rows until autovacuum came by (it may not be allowed to: then it waits for that).
    static func countsByQueue(_ connection: BlockingConnection) throws -> [(String, JobState, Int)] {
        let folded = try connection.query("SELECT lifeline.counts_fold()").first?.decode(Int64.self) ?? 0
        if folded > bigFold { _ = try? connection.query("VACUUM lifeline.job_count_changes, lifeline.outcome_count_changes") }
        return try connection.query("""
            SELECT queue, state, sum(n)::bigint FROM (
                SELECT queue, state, n FROM job_counts UNION ALL SELECT queue, state, n FROM job_count_changes
            ) counts GROUP BY queue, state HAVING sum(n) > 0
            """).compactMap { row in
            let (queue, state, count) = try row.decode((String, String, Int).self)
            return JobState(rawValue: state).map { (queue, $0, count) }
        }
    }

    public func queueUpdate(_ queue: String, _ update: QueueUpdate, create: Bool) async throws {
        try await transaction { transaction in
            let connection = transaction.connection
            let exists = try !connection.query("SELECT 1 FROM queues WHERE name = \(queue) FOR UPDATE").isEmpty
            if !exists {
                guard create else {
                    let known = try connection.query("SELECT name FROM queues ORDER BY name").map { try $0.decode(String.self) }
                    throw JobStoreError.unknownQueue(queue, known: known)
                }
                try connection.query("INSERT INTO queues (name) VALUES (\(queue)) ON CONFLICT DO NOTHING")
            }
            if let limit = update.limit {
                try connection.query("UPDATE queues SET concurrency_limit = \(limit) WHERE name = \(queue)")
            }
            if let paused = update.paused {
                try connection.query("UPDATE queues SET paused = \(paused) WHERE name = \(queue)")
            }
            if let retain = update.retainCompleted {
                try connection.query("UPDATE queues SET retain_completed_ms = \(retain.milliseconds) WHERE name = \(queue)")
            }
            if let retain = update.retainFailed {
                try connection.query("UPDATE queues SET retain_failed_ms = \(retain.milliseconds) WHERE name = \(queue)")
            }
            // Workers waiting on a paused or full queue look again.
            try connection.query("SELECT pg_notify(\(PostgresSession.channel), '')")
        }
    }
}
