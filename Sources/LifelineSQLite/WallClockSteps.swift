import Foundation
import GRDB

/// Keeps leases and retry times true across a step of this host's wall clock (an NTP
/// correction, a VM resumed). They are wall-clock times: a clock stepped an hour ahead showed
/// every running job's lease as run out to the next claim, which took the jobs back while
/// their workers still ran them, and one stepped back held a dead worker's jobs, and every
/// retry's backoff, an hour longer. All processes of a SQLite queue run on one host and read
/// one boot-time clock, which no step moves (slewing moves both alike): before a write that
/// compares or sets leases, the wall clock's offset from it is compared with the one last
/// recorded, and when it moved, the running jobs' leases and the retrying jobs' due times move
/// by as much, once, in that write's transaction.
enum WallClockSteps {
    /// A smaller move is how far apart the two clocks' readings can fall, not a step.
    static let threshold: Int64 = 20
    /// Readings of the boot-time clock further apart than this around the wall clock's (the
    /// thread was preempted between them) say too little: the next write looks again.
    static let readingSpread: Int64 = 5

    /// This boot's id: an offset recorded in another boot says nothing of this one's clock.
    /// Nil where the system does not say, and then steps are not followed.
    static let bootID: String? = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .flatMap { $0.isEmpty ? nil : $0 }

    /// Inside a write's transaction: reads the wall clock with `wallMs` and returns its time,
    /// having moved the running jobs' leases and the retrying jobs' due times by the wall
    /// clock's step since the last write that looked, if it stepped.
    static func now(_ db: Database, wallMs: () -> Int64) throws -> Int64 {
        let before = bootMs()
        let wall = wallMs()
        let after = bootMs()
        guard let bootID, after - before <= readingSpread else { return wall }
        let offset = wall - (before + after) / 2
        if let recorded = try Row.fetchOne(db.cachedStatement(sql: "SELECT boot_id, offset_ms FROM wall_clock WHERE id = 1")),
            recorded["boot_id"] as String == bootID
        {
            let step = offset - (recorded["offset_ms"] as Int64)
            guard abs(step) >= threshold else { return wall }
            try db.cachedStatement(sql: "UPDATE jobs SET lease_expires_at = lease_expires_at + ? WHERE state = 'running'").execute(arguments: [step])
            try db.cachedStatement(sql: "UPDATE jobs SET run_at = run_at + ? WHERE state = 'retryable'").execute(arguments: [step])
        }
        try db.cachedStatement(sql: """
            INSERT INTO wall_clock (id, boot_id, offset_ms) VALUES (1, ?, ?)
            ON CONFLICT (id) DO UPDATE SET boot_id = excluded.boot_id, offset_ms = excluded.offset_ms
            """).execute(arguments: [bootID, offset])
        return wall
    }

    private static func bootMs() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }
}
