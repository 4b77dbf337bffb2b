import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Watches for the database file a long-running process has open (a worker, `serve`) being
/// deleted or replaced under it, and lets go of it cleanly when it is. SQLite's WAL and its
/// index stay at the path: the next database opened there would take the old file's
/// uncheckpointed frames for its own, overwriting a restored backup with the live data it
/// replaced, or corrupting a new database. So before the process leaves, its commits are
/// checkpointed into the file it has open (a moved-away file is then whole), and the WAL and
/// index it used are removed from the path, unless another database has already put its own
/// there.
///
/// A database named through a symbolic link is watched at the link, so that the link pointed
/// elsewhere is a database replaced too; its WAL and index are beside the file the link named.
public struct DatabaseSwapGuard: Sendable {
    public let path: String
    /// The file opened: `path`, or the file a link at `path` named.
    private let file: String
    private let database: DatabaseFileIdentity?
    private let wal: DatabaseFileIdentity?
    private let index: DatabaseFileIdentity?

    /// Notes the files at `path` now: call it once the database is open.
    public init(path: String, file: String? = nil) {
        self.path = path
        self.file = file ?? path
        database = DatabaseFileIdentity(path: path)
        wal = DatabaseFileIdentity(path: self.file + "-wal")
        index = DatabaseFileIdentity(path: self.file + "-shm")
    }

    /// What happened to the files opened, once one at its path is no longer the one opened
    /// ("was deleted or moved away", "was replaced by another file", "had its WAL file (-wal) deleted"); nil
    /// while all are. A WAL or index deleted under open connections splits the processes
    /// between two of them, where each overwrites the other's commits: the sooner a process
    /// leaves such a database, the less is lost.
    public var change: String? {
        let now = DatabaseFileIdentity(path: path)
        if now != database { return now == nil ? "was deleted or moved away" : "was replaced by another file" }
        for (name, suffix, identity) in [("WAL file", "-wal", wal), ("index", "-shm", index)] where identity != nil {
            let now = DatabaseFileIdentity(path: file + suffix)
            if now != identity { return "had its \(name) (\(suffix)) " + (now == nil ? "deleted" : "replaced") }
        }
        return nil
    }

    /// Whether the process may checkpoint and remove what it used on its way out: not once its
    /// WAL or index was swapped, as its view of the WAL is no longer the one on disk.
    public var mayLetGo: Bool {
        DatabaseFileIdentity(path: file + "-wal") == wal && DatabaseFileIdentity(path: file + "-shm") == index
    }

    /// Checkpoints `store`'s commits into the file it has open and removes its WAL and index
    /// from the path. Best effort: the process is about to exit.
    public func letGo(_ store: SQLiteJobStore) async {
        _ = try? await store.emptyWAL()
        // A link pointed at another file leaves the one opened in place, in use by others.
        if file != path, DatabaseFileIdentity(path: file) == database { return }
        for (suffix, identity) in [("-wal", wal), ("-shm", index)] where identity != nil && DatabaseFileIdentity(path: file + suffix) == identity {
            unlink(file + suffix)
        }
    }
}
