import Foundation
import LifelineQueue
import PostgresNIO

/// Deleting old rows: by hand (`jobs prune`), and by workers as queues' retention runs out.
extension PostgresJobStore {
    public func jobPrune(before: Date, dryRun: Bool) async throws -> PruneResult {
        let cutoff = before.ms
        if dryRun {
            return try await read { connection in
                let jobs = try connection.query("SELECT count(*) FROM jobs WHERE finished_at < \(cutoff)").first!.decode(Int.self)
                let events = try connection.query(Self.prunedEvents("SELECT count(*)", before: cutoff)).first!.decode(Int.self)
                return PruneResult(jobs: jobs, events: events)
            }
        }
        return try await transaction { transaction in
            let events = try transaction.connection.query(Self.prunedEvents("DELETE", before: cutoff, " RETURNING 1")).count
            let jobs = try transaction.connection.query("DELETE FROM jobs WHERE finished_at < \(cutoff) RETURNING 1").count
            let result = PruneResult(jobs: jobs, events: events)
            try transaction.eventAppend(.pruned, job: nil, server: nil, data: result.cutoffEventData(before: before))
            return result
        }
    }

    /// The events older than the cutoff but those of the jobs the prune keeps: a job's history
    /// goes only with the job.
    private static func prunedEvents(_ verb: String, before cutoff: Int64, _ tail: String = "") -> PostgresQuery {
        """
        \(unescaped: verb) FROM events WHERE at < \(cutoff) AND NOT EXISTS (
            SELECT 1 FROM jobs WHERE jobs.id = events.job AND (jobs.finished_at IS NULL OR jobs.finished_at >= \(cutoff)))\(unescaped: tail)
        """
    }

    /// Walks finished jobs from the oldest up to the newest that any retention could delete;
    /// each batch of expired ones is deleted in a short transaction that checks they are still
    /// as read (a job retried meanwhile stays).
    public func jobPruneExpired(batch: Int) async throws -> PruneResult {
        let now = clock().ms
        let retention = try await read { connection in
            var retention = QueueRetention()
            for row in try connection.query("SELECT name, retain_completed_ms, retain_failed_ms FROM queues") {
                let (name, completed, failed) = try row.decode((String, Int64?, Int64?).self)
                retention.add(queue: name, completedMs: completed, failedMs: failed)
            }
            return retention
        }
        let shortest = retention.shortest
        var total = PruneResult(jobs: 0, events: 0)
        var cursor: (finishedAt: Int64, id: Int64) = (.min, 0)
        while true {
            let rows = try await read { [cursor] connection in
                try connection.query("""
                    SELECT id, queue, state, finished_at FROM jobs
                    WHERE finished_at IS NOT NULL AND finished_at < \(now - shortest)
                      AND (finished_at, id) > (\(cursor.finishedAt), \(cursor.id))
                    ORDER BY finished_at, id LIMIT \(batch)
                    """).map { try $0.decode((Int64, String, String, Int64).self) }
            }
            guard let last = rows.last else { return total }
            cursor = (last.3, last.0)
            let expired = rows.filter { retention.expired(queue: $0.1, state: $0.2, finishedAt: $0.3, now: now) }
            guard !expired.isEmpty else { continue }
            let ids = expired.map(\.0), states = expired.map(\.2), finishedAts = expired.map(\.3)
            let pruned = try await transaction { transaction in
                let deleted = try transaction.connection.query("""
                    DELETE FROM jobs j USING unnest(\(ids)::bigint[], \(states)::text[], \(finishedAts)::bigint[]) AS e(id, state, finished_at)
                    WHERE j.id = e.id AND j.state = e.state AND j.finished_at = e.finished_at
                    RETURNING j.id, j.queue
                    """).map { try $0.decode((Int64, String).self) }
                let events = try transaction.connection.query("DELETE FROM events WHERE job = ANY(\(deleted.map(\.0))) RETURNING 1").count
                let result = PruneResult(jobs: deleted.count, events: events)
                if result.jobs > 0 {
                    try transaction.eventAppend(.pruned, job: nil, server: nil, data: result.retentionEventData(queues: deleted.map(\.1)))
                }
                return result
            }
            total.jobs += pruned.jobs
            total.events += pruned.events
        }
    }
}
