import Foundation
import GRDB

/// Keeps leases true across a step of this host's wall clock (an NTP correction, a VM
/// resumed). Leases are wall-clock times: a clock stepped an hour ahead showed every running
/// job's lease as run out to the next claim, which took the jobs back while their workers
/// still ran them, and one stepped back held the jobs of a dead worker an hour longer. All
/// processes of a SQLite queue run on one host and read one boot-time clock, which no step
/// moves: before a write that compares or sets leases, the wall clock's offset from it is
/// compared with the one last recorded, and when it moved, the running jobs' leases move by as
/// much, once, in that write's transaction.
enum WallClockSteps {
    /// Smaller moves are the clock's slewing: they leave the leases alone until they add up.
    static let threshold: Int64 = 1_000

    /// This boot's id: an offset recorded in another boot says nothing of this one's clock.
    /// Nil where the system does not say, and then steps are not followed.
    static let bootID: String? = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .flatMap { $0.isEmpty ? nil : $0 }

    /// Inside a write's transaction, with the wall-clock time `wallMs` it stamps: moves the
    /// running jobs' leases by the wall clock's step since the last write that looked.
    static func follow(_ db: Database, wallMs: Int64) throws {
        guard let bootID else { return }
        var boot = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let offset = wallMs - (Int64(boot.tv_sec) * 1_000 + Int64(boot.tv_nsec) / 1_000_000)
        if let recorded = try Row.fetchOne(db.cachedStatement(sql: "SELECT boot_id, offset_ms FROM wall_clock WHERE id = 1")),
            recorded["boot_id"] as String == bootID
        {
            let step = offset - (recorded["offset_ms"] as Int64)
            guard abs(step) >= threshold else { return }
            try db.cachedStatement(sql: "UPDATE jobs SET lease_expires_at = lease_expires_at + ? WHERE state = 'running'")
                .execute(arguments: [step])
        }
        try db.cachedStatement(sql: """
            INSERT INTO wall_clock (id, boot_id, offset_ms) VALUES (1, ?, ?)
            ON CONFLICT (id) DO UPDATE SET boot_id = excluded.boot_id, offset_ms = excluded.offset_ms
            """).execute(arguments: [bootID, offset])
    }
}
