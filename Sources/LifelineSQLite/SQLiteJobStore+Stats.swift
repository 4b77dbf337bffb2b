import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func statsGet() async throws -> QueueStats {
        let now = nowMs()
        return try await writer.read { db in
            var counts: [String: [JobState: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state") {
                guard let state = JobState(rawValue: row["state"]) else { continue }
                counts[row["queue"], default: [:]][state] = row["n"]
            }
            var running: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT lease_owner, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY lease_owner
                """) {
                running[row["lease_owner"]] = row["n"]
            }
            var oldest: [String: Duration] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT queue, min(run_at) AS run_at FROM jobs WHERE state = 'available' GROUP BY queue
                """) {
                oldest[row["queue"]] = .milliseconds(max(0, now - (row["run_at"] as Int64)))
            }
            return QueueStats(counts: counts, runningByWorker: running, windows: try Self.windows(db, now: now), oldestWaiting: oldest)
        }
    }

    /// Counts the events of the last 1, 5 and 15 minutes in one pass, reading the log
    /// backwards from its end only as far as the widest window reaches.
    private static func windows(_ db: Database, now: Int64) throws -> [QueueStats.Window] {
        let cutoff = { (minutes: Int) in now - Int64(minutes) * 60_000 }
        let firstSeq = try Int64.fetchOne(
            db, sql: "SELECT seq FROM events WHERE at < ? ORDER BY seq DESC LIMIT 1", arguments: [cutoff(15)]
        ) ?? 0
        // Per type: events of the last minute, of the last five, of the last fifteen.
        var counts: [String: [Int]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT type, sum(at >= ?) AS m1, sum(at >= ?) AS m5, count(*) AS m15 FROM events
            WHERE seq > ? AND type IN ('completed', 'retrying', 'discarded') GROUP BY type
            """, arguments: [cutoff(1), cutoff(5), firstSeq]) {
            counts[row["type"]] = [row["m1"], row["m5"], row["m15"]]
        }
        return QueueStats.windows(counts)
    }
}
