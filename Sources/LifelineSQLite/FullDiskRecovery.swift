import Foundation
import GRDB
import Synchronization

/// What a writer does once the disk has filled under it. The WAL only restarts from its
/// beginning after a checkpoint, which SQLite makes every thousand pages (4 MiB): space freed
/// afterwards, if less than that, went to the WAL's growth, and the disk filled again before
/// the checkpoint, which needs some room in the database file, could be made. So for a minute
/// after a write found the disk full, every commit is followed by a checkpoint, and the WAL
/// restarts instead of growing; the first that works also gives the WAL's file back.
final class FullDiskRecovery: Sendable {
    /// Until when, in ms since 1970, commits are followed by a checkpoint; 0 when the disk never filled.
    private let until = Atomic<Int64>(0)
    /// Whether the WAL's file has been given back since the disk last filled.
    private let truncated = Atomic<Bool>(true)
    private static let window: Int64 = 60_000

    /// A write found the disk full: a checkpoint now may give the WAL's space to the database.
    func struck(_ db: Database) {
        until.store(Date().ms + Self.window, ordering: .relaxed)
        truncated.store(false, ordering: .relaxed)
        checkpoint(db)
    }

    /// A write committed.
    func committed(_ db: Database) {
        guard until.load(ordering: .relaxed) != 0 else { return }
        guard Date().ms < until.load(ordering: .relaxed) else {
            until.store(0, ordering: .relaxed)
            return
        }
        checkpoint(db)
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
}
