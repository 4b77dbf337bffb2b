import Foundation
import GRDB
import LifelineRecovery

#if canImport(Glibc)
import Glibc
#endif

/// Where `lifeline store copy` writes a queue on SQLite: a file beside the target's path
/// (`PATH.partial-PID`), linked into place once the copy's counts check out. A copy that
/// fails or is killed leaves no half-made queue at the target's path for workers to open;
/// the next copy into it removes what a killed one left.
public final class SQLiteCopyTarget: CopyTarget {
    public let path: String
    private let partialPath: String
    private let store: SQLiteJobStore

    /// Starts a copy into the new file `path`: refuses one that exists, unless it is empty.
    public init(path: String, lockTimeout: Duration) throws {
        if Self.fileSize(path).map({ $0 > 0 }) == true { throw StoreCopyError.targetExists(path: path) }
        Self.removeAbandoned(beside: path)
        self.path = path
        partialPath = path + Self.partialMarker + String(getpid())
        store = SQLiteJobStore(writer: try SQLiteDatabase.openConnection(path: partialPath, lockTimeout: lockTimeout), lockTimeout: lockTimeout)
    }

    public func copyCounts() async throws -> CopyCounts {
        try await store.copyCounts()
    }

    public func copyInsert(_ batch: CopyBatch) async throws {
        try await store.copyInsert(batch)
    }

    public func copyFinish() async throws {
        try await store.copyFinish()
    }

    /// Moves every commit from the WAL into the file, so the file alone is the queue, then
    /// links it in at the target's path (`link`, unlike `rename`, never replaces a file that
    /// appeared meanwhile) and syncs the directory, so the new name survives a power cut.
    public func copyCommit() async throws {
        let busy = try await store.writer.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") ?? 1
        }
        guard busy == 0 else { throw DatabaseOpenError.cannotCreate(path: path, reason: "the copy's WAL file could not be emptied") }
        try store.writer.close()
        // A WAL file beside a target that is missing or empty belongs to no queue; left there,
        // the copy's first open would take its frames for its own.
        if Self.fileSize(path) ?? 0 == 0 {
            for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        }
        guard link(partialPath, path) == 0 else {
            if errno == EEXIST { throw StoreCopyError.targetExists(path: path) }
            throw DatabaseOpenError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        Self.remove(partialPath)
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public func copyAbandon() async {
        try? store.writer.close()
        Self.remove(partialPath)
    }

    private static let partialMarker = ".partial-"

    private static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Removes a database file and the files SQLite and Lifeline keep beside it.
    private static func remove(_ databasePath: String) {
        for suffix in ["", "-wal", "-shm", "-writer"] { unlink(databasePath + suffix) }
    }

    /// Removes the partial files of copies into `path` whose process is gone.
    private static func removeAbandoned(beside path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let prefix = (path as NSString).lastPathComponent + partialMarker
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix(while: \.isNumber)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink((directory as NSString).appendingPathComponent(name))
        }
    }
}
