import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func statsGet() async throws -> QueueStats {
        let now = nowMs()
        return try await writer.read { db in
            var counts: [String: [JobState: Int]] = [:]
            for (queue, state, count) in try Self.countsByQueue(db) { counts[queue, default: [:]][state] = count }
            var running: [String: Int] = [:]
            var expired: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: Self.runningByOwnerSQL, arguments: [now]) {
                running[try row.value("lease_owner")] = try row.value("n")
                if let count: Int = try row.value("expired"), count > 0 { expired[try row.value("lease_owner")] = count }
            }
            var oldest: [String: Duration] = [:]
            for row in try Row.fetchAll(db, sql: Self.oldestWaitingSQL, arguments: [now]) {
                guard let runAt: Int64 = try row.value("run_at") else { continue }
                oldest[try row.value("queue")] = .milliseconds(max(0, now - runAt))
            }
            return QueueStats(
                counts: counts, runningByWorker: running, expiredLeasesByWorker: expired, outcomes: try Self.outcomes(db, now: now), oldestWaiting: oldest
            )
        }
    }

    /// Jobs per queue and state: the kept counts (``KeptCounts``), and the running jobs from
    /// their index.
    static func countsByQueue(_ db: Database) throws -> [(String, JobState, Int)] {
        try Row.fetchAll(db, sql: countsSQL).compactMap { row in
            try JobState(rawValue: try row.value("state")).map { (try row.value("queue"), $0, try row.value("n")) }
        }
    }

    // Every query of the stats reads counts or a few index entries, never the whole of the jobs
    // (a test checks the plans): running jobs, always few, from their own index.
    static let countsSQL = """
        SELECT queue, state, n FROM job_counts WHERE n > 0
        UNION ALL SELECT queue, 'running', count(*) FROM jobs WHERE state = 'running' GROUP BY queue
        """
    static let runningByOwnerSQL = """
        SELECT lease_owner, count(*) AS n, sum(lease_expires_at < ?) AS expired FROM jobs WHERE state = 'running' GROUP BY lease_owner
        """

    /// Each queue's earliest `run_at` among the jobs waiting to run: its available ones, and
    /// those scheduled or retryable whose time has come, which only a claim makes available (a
    /// queue no worker serves keeps them so). One step into the claim index per priority, so
    /// a million waiting jobs cost ten lookups; the due ones walk the due index from the
    /// earliest, stopping at the queue's first, and are few wherever workers claim.
    static let oldestWaitingSQL = """
        SELECT c.queue AS queue, (
            SELECT min(run_at) FROM (
                SELECT (SELECT j.run_at FROM jobs j WHERE j.queue = c.queue AND j.state = 'available' AND j.priority = p.column1
                        ORDER BY j.run_at LIMIT 1) AS run_at
                FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) p
                UNION ALL
                SELECT (SELECT j.run_at FROM jobs j WHERE j.state IN ('scheduled', 'retryable') AND j.run_at <= ?1 AND j.queue = c.queue
                        ORDER BY j.run_at LIMIT 1)
            )
        ) AS run_at
        FROM (SELECT DISTINCT queue FROM job_counts WHERE state IN ('available', 'scheduled', 'retryable') AND n > 0) c
        """

    static let outcomesSQL = """
        SELECT queue, type, sum(iif(second >= ?, n, 0)) AS m1, sum(iif(second >= ?, n, 0)) AS m5, sum(n) AS m15
        FROM outcome_counts WHERE second >= ? GROUP BY queue, type
        """

    /// Sums each queue's outcome events of the last 1, 5 and 15 minutes from their counts per second.
    private static func outcomes(_ db: Database, now: Int64) throws -> QueueStats.OutcomeCounts {
        let cutoff = { (minutes: Int) in now / 1000 - Int64(minutes) * 60 }
        var counts: QueueStats.OutcomeCounts = [:]
        for row in try Row.fetchAll(db, sql: outcomesSQL, arguments: [cutoff(1), cutoff(5), cutoff(15)]) {
            counts[try row.value("queue"), default: [:]][try row.value("type")] = [try row.value("m1"), try row.value("m5"), try row.value("m15")]
        }
        return counts
    }
}
