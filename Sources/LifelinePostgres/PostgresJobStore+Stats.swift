import Foundation
import LifelineQueue

extension PostgresJobStore {
    public func statsGet() async throws -> QueueStats {
        let now = clock().ms
        return try await read { connection in
            var counts: [String: [JobState: Int]] = [:]
            for (queue, state, count) in try Self.countsByQueue(connection) { counts[queue, default: [:]][state] = count }
            var running: [String: Int] = [:]
            var expired: [String: Int] = [:]
            for row in try connection.query("""
                SELECT lease_owner, count(*), count(*) FILTER (WHERE lease_expires_at < \(now)) FROM jobs WHERE state = 'running' GROUP BY lease_owner
                """) {
                let (owner, count, expiredCount) = try row.decode((String, Int, Int).self)
                running[owner] = count
                if expiredCount > 0 { expired[owner] = expiredCount }
            }
            var oldest: [String: Duration] = [:]
            // One step into the claim index per queue and priority, not a read of every waiting
            // job; and the queue's first scheduled or retryable job whose time has come, which
            // only a claim makes available (a queue no worker serves keeps them so).
            for row in try connection.query("""
                SELECT q.name, min(first.run_at) FROM queues q CROSS JOIN LATERAL (
                    SELECT (SELECT run_at FROM jobs j WHERE j.queue = q.name AND j.state = 'available' AND j.priority = p.priority
                            ORDER BY run_at LIMIT 1) FROM generate_series(0, 9) p(priority)
                    UNION ALL
                    SELECT (SELECT run_at FROM jobs j WHERE j.queue = q.name AND j.state IN ('scheduled', 'retryable') AND j.run_at <= \(now)
                            ORDER BY run_at LIMIT 1)
                ) first(run_at) WHERE first.run_at IS NOT NULL GROUP BY q.name
                """) {
                let (queue, runAt) = try row.decode((String, Int64).self)
                oldest[queue] = .milliseconds(max(0, now - runAt))
            }
            return QueueStats(
                counts: counts, runningByWorker: running, expiredLeasesByWorker: expired, outcomes: try Self.outcomes(connection, now: now),
                oldestWaiting: oldest
            )
        }
    }

    /// Sums each queue's outcome events of the last 1, 5 and 15 minutes from their counts per
    /// second, folded or not.
    private static func outcomes(_ connection: BlockingConnection, now: Int64) throws -> QueueStats.OutcomeCounts {
        let cutoff = { (minutes: Int) in now / 1000 - Int64(minutes) * 60 }
        var counts: QueueStats.OutcomeCounts = [:]
        for row in try connection.query("""
            SELECT queue, type, (sum(n) FILTER (WHERE second >= \(cutoff(1))))::bigint, (sum(n) FILTER (WHERE second >= \(cutoff(5))))::bigint,
                   sum(n)::bigint
            FROM (
                SELECT queue, type, second, n FROM outcome_counts WHERE second >= \(cutoff(15))
                UNION ALL SELECT queue, type, second, n FROM outcome_count_changes WHERE second >= \(cutoff(15))
            ) outcomes GROUP BY queue, type
            """) {
            let (queue, type, m1, m5, m15) = try row.decode((String, String, Int?, Int?, Int).self)
            counts[queue, default: [:]][type] = [m1 ?? 0, m5 ?? 0, m15]
        }
        return counts
    }
}
