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
            // Each deletion is said in the log; a prune that found nothing deleted nothing.
            if jobs + events > 0 { try transaction.eventAppend(.pruned, job: nil, server: nil, data: result.cutoffEventData(before: before)) }
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

    /// Deletes the finished jobs whose queues' retention has run out (``RetentionWalk``): each
    /// batch is read in a read transaction and deleted in a short write of its own.
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
        return try await RetentionWalk.run(retention: retention, now: now, batch: batch) { before, cursor, limit in
            try await read { connection in
                try connection.query("""
                    SELECT id, queue, state, finished_at FROM jobs
                    WHERE finished_at IS NOT NULL AND finished_at < \(before)
                      AND (finished_at, id) > (\(cursor.finishedAt), \(cursor.id))
                    ORDER BY finished_at, id LIMIT \(limit)
                    """).map {
                    let (id, queue, state, finishedAt) = try $0.decode((Int64, String, String, Int64).self)
                    return RetentionWalk.FinishedJob(id: id, queue: queue, state: state, finishedAt: finishedAt)
                }
            }
        } delete: { expired in
            let ids = expired.map(\.id), states = expired.map(\.state), finishedAts = expired.map(\.finishedAt)
            return try await transaction { transaction in
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
        }
    }
}
