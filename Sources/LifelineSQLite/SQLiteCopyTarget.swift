import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

#if canImport(Glibc)
import Glibc
#endif

/// Where `lifeline store copy` writes a queue on SQLite: a file beside the target's path
/// (`PATH.partial-PID`), linked into place once the copy's counts check out. A copy that
/// fails or is killed leaves no half-made queue at the target's path for workers to open;
/// the next copy into it removes what a killed one left. A copy holds an `flock` on its
/// partial file while it runs, which its end releases however it comes (a killed process
/// not yet reaped still has a pid, but no longer its locks).
public final class SQLiteCopyTarget: CopyTarget {
    public let path: String
    private let partialPath: String
    private let store: SQLiteJobStore
    /// The descriptor holding the partial file's lock. SQLite's own locks are `fcntl` locks,
    /// which an `flock` does not touch; this descriptor is closed only after SQLite's.
    private let held: Int32
    private let lockTimeout: Duration

    /// Starts a copy into the new file `path`: refuses one that exists, unless it is empty.
    public init(path: String, lockTimeout: Duration) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw DatabaseOpenError.directory(path: path) }
            // An empty one is replaced: never a device (`--to /dev/null`), pipe or socket.
            if info.st_mode & S_IFMT != S_IFREG { throw DatabaseOpenError.notRegularFile(path: path) }
            if info.st_size > 0 { throw StoreCopyError.targetExists(path: path) }
        }
        self.path = path
        let partialPath = path + Self.partialMarker + String(getpid())
        self.partialPath = partialPath
        // Copies into one path set up, and link into place, one at a time, under the target's
        // writer lock: a copy's new file is locked before another copy looks for abandoned
        // ones, and only one copy's file is ever linked in.
        func setUp() throws -> (SQLiteJobStore, Int32) {
            Self.removeAbandoned(beside: path)
            let store: SQLiteJobStore
            do {
                store = SQLiteJobStore(writer: try SQLiteDatabase.openConnection(path: partialPath, lockTimeout: lockTimeout), lockTimeout: lockTimeout)
            } catch {
                // A full disk, say: what the open made is no copy.
                Self.remove(partialPath)
                throw error
            }
            // Unlocked, the new file would be taken for an abandoned one by the next copy.
            let held = open(partialPath, O_RDONLY | O_CLOEXEC)
            guard held >= 0, flock(held, LOCK_EX) == 0 else {
                let reason = String(cString: strerror(errno))
                if held >= 0 { close(held) }
                try? store.close()
                Self.remove(partialPath)
                throw DatabaseOpenError.cannotCreate(path: partialPath, reason: reason)
            }
            return (store, held)
        }
        self.lockTimeout = lockTimeout
        do {
            (store, held) = try Self.oneCopyAtATime(into: path, lockTimeout: lockTimeout, setUp)
        } catch {
            Self.removeIdleWriterLock(beside: path)
            throw error
        }
    }

    private static func oneCopyAtATime<T>(into path: String, lockTimeout: Duration, _ body: () throws -> T) throws -> T {
        try WriterLock(databasePath: path, timeout: lockTimeout).map { try $0.hold(body) } ?? body()
    }

    public func copyCounts() async throws -> CopyCounts {
        try await store.copyCounts()
    }

    public func copyInsert(_ batch: CopyBatch) async throws {
        try await store.copyInsert(batch)
    }

    public func copyFinish(jobIDFloor: Int64) async throws {
        try await store.copyFinish(jobIDFloor: jobIDFloor)
    }

    /// Moves every commit from the WAL into the file, so the file alone is the queue, then
    /// links it in at the target's path (`link`, unlike `rename`, never replaces a file that
    /// appeared meanwhile) and syncs the directory, so the new name survives a power cut.
    public func copyCommit() async throws {
        guard try await store.emptyWAL() else { throw DatabaseOpenError.cannotCreate(path: path, reason: "the copy's WAL file could not be emptied") }
        try store.writer.close()
        try Self.oneCopyAtATime(into: path, lockTimeout: lockTimeout) { [path, partialPath] in
            // A WAL file beside a target that is missing or empty belongs to no queue; left
            // there, the next open of the target would take its frames for the copy's own.
            if Self.fileSize(path) ?? 0 == 0 {
                for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
            }
            guard link(partialPath, path) == 0 else {
                if errno == EEXIST { throw StoreCopyError.targetExists(path: path) }
                throw DatabaseOpenError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
            }
        }
        Self.remove(partialPath)
        close(held)
        let directory = PathText.directory(of: path)
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public func copyAbandon() async {
        try? store.writer.close()
        close(held)
        Self.remove(partialPath)
        Self.removeIdleWriterLock(beside: path)
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

    /// Removes the writer lock file a copy made beside a target that holds no queue, unless
    /// another process holds the lock: a copy that fails leaves nothing at the target's path.
    private static func removeIdleWriterLock(beside path: String) {
        guard fileSize(path) ?? 0 == 0 else { return }
        let lockPath = path + "-writer"
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(lockPath) }
        close(fd)
    }

    /// Removes the partial files of copies into `path` that no running copy holds.
    private static func removeAbandoned(beside path: String) {
        let directory = PathText.directory(of: path)
        let prefix = PathText.name(of: path) + partialMarker
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []
        for name in names where name.hasPrefix(prefix) && !["-wal", "-shm", "-writer"].contains(where: name.hasSuffix) {
            let partial = (directory as NSString).appendingPathComponent(name)
            let fd = open(partial, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { remove(partial) }
            close(fd)
        }
    }
}
