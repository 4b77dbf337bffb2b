import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// What a writer does when the disk is full, or nearly. The WAL only restarts from its
/// beginning after a checkpoint, which SQLite makes every thousand pages (4 MiB); until then
/// every commit grows it. On a disk with less room than that, the WAL took the last of it,
/// and the checkpoint, which needs a few pages more in the database file, could never be
/// made: no write committed again, and space freed went to the WAL too. So while the disk has
/// less than 8 MiB free (looked at once a second), and for a minute after a write found it
/// full, each write begins with a checkpoint, and the WAL restarts instead of growing. Then,
/// and after a full disk, the first whole checkpoint also gives the WAL's file back to the
/// disk: a WAL grown while there was room (by another process, before this one started) holds
/// space the database needs to go on.
///
/// Used by the writer's connection alone, one transaction at a time.
final class FullDiskRecovery: Sendable {
    private struct State {
        /// Until when writes begin with a checkpoint; nil while the disk has room.
        var until: ContinuousClock.Instant?
        /// When the free space was last looked at.
        var looked: ContinuousClock.Instant?
        /// Whether the WAL's file is to be given back at the next whole checkpoint.
        var truncate = false
    }

    private let state = Mutex(State())
    private let freeSpace: @Sendable (Database) -> UInt64
    private static let window = Duration.seconds(60)
    private static let lowSpace: UInt64 = 8 << 20

    init(freeSpace: @escaping @Sendable (Database) -> UInt64 = FullDiskRecovery.freeSpace) {
        self.freeSpace = freeSpace
    }

    /// A write found the disk full: a checkpoint now may give the WAL's space to the database.
    func struck(_ db: Database) {
        state.withLock { state in
            state.until = .now + Self.window
            state.truncate = true
        }
        checkpoint(db)
    }

    /// Before each write transaction, which could otherwise grow the WAL into the last of the disk.
    func beforeWrite(_ db: Database) {
        let due = state.withLock { state in
            let now = ContinuousClock.now
            if state.looked.map({ now - $0 >= .seconds(1) }) ?? true {
                state.looked = now
                if freeSpace(db) < Self.lowSpace {
                    state.until = now + Self.window
                    state.truncate = true
                }
            }
            guard let until = state.until, now < until else {
                state.until = nil
                return false
            }
            return true
        }
        if due { checkpoint(db) }
    }

    /// PASSIVE never waits for other connections: a reader holding part of the WAL back only
    /// leaves that part for the next one. TRUNCATE waits for readers to leave the WAL, so it
    /// is tried without waiting: a reader there leaves it for the next write.
    private func checkpoint(_ db: Database) {
        guard let row = try? Row.fetchOne(db.cachedStatement(sql: "PRAGMA wal_checkpoint(PASSIVE)")),
              let busy: Int = row[0], let frames: Int = row[1], let done: Int = row[2], busy == 0, frames == done,
              state.withLock({ $0.truncate }), let connection = db.sqliteConnection
        else { return }
        let truncated = BusyWait.withoutWaiting(on: connection) {
            (try? Row.fetchOne(db.cachedStatement(sql: "PRAGMA wal_checkpoint(TRUNCATE)")))?[0] == 0
        }
        if truncated { state.withLock { $0.truncate = false } }
    }

    /// Bytes free to this process where the database is; as good as unlimited when it cannot tell.
    static func freeSpace(_ db: Database) -> UInt64 {
        var volume = statvfs()
        guard let path = sqlite3_db_filename(db.sqliteConnection, "main"), statvfs(path, &volume) == 0 else { return .max }
        let (bytes, overflow) = UInt64(volume.f_bavail).multipliedReportingOverflow(by: UInt64(volume.f_frsize))
        return overflow ? .max : bytes
    }
}
