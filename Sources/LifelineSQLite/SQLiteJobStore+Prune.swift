import Foundation
import GRDB
import LifelineQueue

/// Deleting old rows: by hand (`jobs prune`), and by workers as queues' retention runs out.
extension SQLiteJobStore {
    public func jobPrune(before: Date, dryRun: Bool) async throws -> PruneResult {
        let now = nowMs()
        let cutoff = before.ms
        if dryRun {
            return try await writer.read { db in
                PruneResult(
                    jobs: try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE finished_at < ?", arguments: [cutoff]) ?? 0,
                    events: try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE \(Self.prunedEvents)", arguments: [cutoff]) ?? 0
                )
            }
        }
        return try await write { db in
            try db.execute(sql: "DELETE FROM events WHERE \(Self.prunedEvents)", arguments: [cutoff])
            let events = db.changesCount
            try db.execute(sql: "DELETE FROM jobs WHERE finished_at < ?", arguments: [cutoff])
            let jobs = db.changesCount
            let result = PruneResult(jobs: jobs, events: events)
            // Each deletion is said in the log; a prune that found nothing deleted nothing.
            if jobs + events > 0 { try EventLog.append(db, at: now, type: .pruned, job: nil, server: nil, data: result.cutoffEventData(before: before)) }
            return result
        }
    }

    /// The events older than the cutoff (?1) but those of the jobs the prune keeps: a job's
    /// history goes only with the job.
    private static let prunedEvents = """
        at < ?1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = events.job AND (jobs.finished_at IS NULL OR jobs.finished_at >= ?1))
        """

    /// Deletes the finished jobs whose queues' retention has run out (``RetentionWalk``): each
    /// batch is read in a read transaction and deleted in a short write of its own.
    public func jobPruneExpired(batch: Int) async throws -> PruneResult {
        let now = nowMs()
        // Throughput windows reach back 15 minutes: older outcome counts serve nothing.
        try await write { db in try db.execute(sql: "DELETE FROM outcome_counts WHERE second < ?", arguments: [now / 1000 - 900]) }
        return try await RetentionWalk.run(retention: try await retentions(), now: now, batch: batch) { before, cursor, limit in
            try await writer.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT id, queue, state, finished_at FROM jobs
                    WHERE finished_at IS NOT NULL AND finished_at < ? AND (finished_at, id) > (?, ?)
                    ORDER BY finished_at, id LIMIT ?
                    """, arguments: [before, cursor.finishedAt, cursor.id, limit]).map {
                    RetentionWalk.FinishedJob(id: try $0.value("id"), queue: try $0.value("queue"), state: try $0.value("state"), finishedAt: try $0.value("finished_at"))
                }
            }
        } delete: { expired in
            try await write { db in
                var result = PruneResult(jobs: 0, events: 0)
                var queues: [String] = []
                for job in expired {
                    try db.execute(
                        sql: "DELETE FROM jobs WHERE id = ? AND state = ? AND finished_at = ?", arguments: [job.id, job.state, job.finishedAt]
                    )
                    guard db.changesCount > 0 else { continue }
                    result.jobs += 1
                    queues.append(job.queue)
                    try db.execute(sql: "DELETE FROM events WHERE job = ?", arguments: [job.id])
                    result.events += db.changesCount
                }
                if result.jobs > 0 {
                    try EventLog.append(db, at: nowMs(), type: .pruned, job: nil, server: nil, data: result.retentionEventData(queues: queues))
                }
                return result
            }
        }
    }

    /// Each queue's retention in milliseconds (`nil`: forever), and the shortest of all.
    private func retentions() async throws -> QueueRetention {
        try await writer.read { db in
            var retention = QueueRetention()
            for row in try Row.fetchAll(db, sql: "SELECT name, retain_completed_ms, retain_failed_ms FROM queues") {
                retention.add(queue: try row.value("name"), completedMs: try row.value("retain_completed_ms"), failedMs: try row.value("retain_failed_ms"))
            }
            return retention
        }
    }
}
