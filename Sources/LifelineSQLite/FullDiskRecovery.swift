import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// What a writer does when the disk is full, or nearly. The WAL only restarts from its
/// beginning after a checkpoint, which SQLite makes every thousand pages (4 MiB); until then
/// every commit grows it. On a disk with less room than that, the WAL took the last of it,
/// and the checkpoint, which needs a few pages more in the database file, could never be
/// made: no write committed again, and space freed went to the WAL too. So while the disk has
/// less than 8 MiB free, and for a minute after a write found it full, each write begins with
/// a checkpoint: the WAL restarts instead of growing, and the first checkpoint that works once
/// space is freed also gives the WAL's file back.
final class FullDiskRecovery: Sendable {
    /// Until when, in ms since 1970, writes begin with a checkpoint; 0 when the disk has room.
    private let until = Atomic<Int64>(0)
    /// Whether the WAL's file has been given back since the disk last filled.
    private let truncated = Atomic<Bool>(true)
    /// When the free space was last looked at, in ms since 1970: at most once a second.
    private let looked = Atomic<Int64>(0)
    private static let window: Int64 = 60_000
    private static let lowSpace: UInt64 = 8 << 20

    /// A write found the disk full: a checkpoint now may give the WAL's space to the database.
    func struck(_ db: Database) {
        begin(at: Date().ms)
        checkpoint(db)
    }

    /// A write transaction is about to begin.
    func beforeWrite(_ db: Database) {
        let now = Date().ms
        if now - looked.load(ordering: .relaxed) >= 1000 {
            looked.store(now, ordering: .relaxed)
            if Self.freeSpace(db) < Self.lowSpace { begin(at: now) }
        }
        let until = until.load(ordering: .relaxed)
        guard until != 0 else { return }
        guard now < until else {
            self.until.store(0, ordering: .relaxed)
            return
        }
        checkpoint(db)
    }

    private func begin(at now: Int64) {
        if until.exchange(now + Self.window, ordering: .relaxed) <= now { truncated.store(false, ordering: .relaxed) }
    }

    /// PASSIVE never waits for other connections: a reader holding part of the WAL back only
    /// leaves that part for the next one. The WAL's file is truncated once the checkpoint is whole.
    private func checkpoint(_ db: Database) {
        guard let row = try? Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)"),
              let busy: Int = row[0], let frames: Int = row[1], let done: Int = row[2], busy == 0, frames == done
        else { return }
        if !truncated.load(ordering: .relaxed), (try? Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")) != nil {
            truncated.store(true, ordering: .relaxed)
        }
    }

    /// Bytes free to this process where the database is; as good as unlimited when it cannot tell.
    private static func freeSpace(_ db: Database) -> UInt64 {
        var volume = statvfs()
        guard let path = sqlite3_db_filename(db.sqliteConnection, "main"), statvfs(path, &volume) == 0 else { return .max }
        return UInt64(volume.f_bavail) * UInt64(volume.f_frsize)
    }
}
