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
            for queue in counts.keys {
                if let runAt = try Int64.fetchOne(db, sql: """
                    SELECT min(run_at) FROM jobs WHERE queue = ? AND state = 'available'
                    """, arguments: [queue]) {
                    oldest[queue] = .milliseconds(max(0, now - runAt))
                }
            }
            let windows = try [1, 5, 15].map { minutes in try Self.window(db, minutes: minutes, now: now) }
            return QueueStats(counts: counts, runningByWorker: running, windows: windows, oldestWaiting: oldest)
        }
    }

    /// Counts the window's events, reading the log backwards from its end only as far as the
    /// window reaches.
    private static func window(_ db: Database, minutes: Int, now: Int64) throws -> QueueStats.Window {
        let cutoff = now - Int64(minutes) * 60_000
        let firstSeq = try Int64.fetchOne(db, sql: "SELECT seq FROM events WHERE at < ? ORDER BY seq DESC LIMIT 1", arguments: [cutoff]) ?? 0
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT type, count(*) AS n FROM events
            WHERE seq > ? AND type IN ('completed', 'retrying', 'discarded') GROUP BY type
            """, arguments: [firstSeq]) {
            counts[row["type"]] = row["n"]
        }
        return QueueStats.Window(
            minutes: minutes, completed: counts["completed"] ?? 0,
            failedAttempts: (counts["retrying"] ?? 0) + (counts["discarded"] ?? 0), discarded: counts["discarded"] ?? 0
        )
    }
}
