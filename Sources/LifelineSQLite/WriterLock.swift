import CLifelineSystem
import Foundation
import LifelineQueue
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Lets one process at a time into SQLite's write lock. Writers of several processes that
/// meet at SQLite's lock can only poll for it, sleeping between tries, and the sleeps cost
/// more than the writes; a blocking `flock` on a file beside the database wakes the next
/// writer the moment the lock is free. SQLite's own locking still guards the data: this
/// lock only orders Lifeline's writers, and a process that cannot take it writes without it.
final class WriterLock: Sendable {
    private let fd: Int32
    private let path: String
    /// The database's shared-memory file, on which SQLite takes its own write lock.
    private let sharedMemoryPath: String
    private let timeout: Duration

    /// `nil` when the lock file cannot be opened (e.g. a read-only directory).
    init?(databasePath: String, timeout: Duration) {
        path = databasePath + "-writer"
        sharedMemoryPath = databasePath + "-shm"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        self.timeout = timeout
        if fd < 0 { return nil }
    }

    deinit {
        close(fd)
    }

    /// Told once a write has waited a second for the lock, with who holds it and how long
    /// the write waits in all (see ``SQLiteDatabase/onLongLockWait(_:)``).
    static let longWaitNotice = Mutex<(@Sendable (_ holder: LockHolder, _ timeout: Duration) -> Void)?>(nil)
    private static let patience: Duration = .seconds(1)

    /// Runs `body` holding the lock; waits for it at most the timeout.
    func hold<T>(_ body: () throws -> T) throws -> T {
        var result: Int32
        if timeout > Self.patience, let notice = Self.longWaitNotice.withLock({ $0 }) {
            result = lifeline_flock_deadline(fd, 0, Self.patience.milliseconds)
            if result == ETIMEDOUT {
                notice(holder(), timeout)
                result = lifeline_flock_deadline(fd, 0, (timeout - Self.patience).milliseconds)
            }
        } else {
            result = lifeline_flock_deadline(fd, 0, timeout.milliseconds)
        }
        guard result == 0 else {
            if result == ETIMEDOUT { throw WriterLockTimeout(waited: timeout, holder: holder()) }
            return try body()
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Who keeps this process waiting, from /proc/locks, whose lines read
    /// `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF` (waiters are marked `->`): the process
    /// holding the lock, unless it waits itself behind a program that holds SQLite's write lock
    /// without it (the sqlite3 CLI, a backup tool), which is then the one named.
    private func holder() -> LockHolder {
        guard let locks = Self.procLocks() else { return LockHolder(pid: nil, foreign: false) }
        let held = locks.split(separator: "\n").filter { !$0.contains("->") }.map { $0.split(separator: " ") }
        var writer: Int32?
        var info = stat()
        if fstat(fd, &info) == 0 {
            let file = Self.fileKey(info)
            writer = held.first { $0.count >= 6 && $0[1] == "FLOCK" && $0[5] == file }.flatMap { Int32($0[4]) }
        }
        // SQLite's write lock in WAL mode: byte 120 of the shared-memory file, locked for
        // writing. The file is looked up, never opened: closing a descriptor of it would
        // release this process's own SQLite locks on it.
        if lstat(sharedMemoryPath, &info) == 0 {
            let file = Self.fileKey(info)
            let sqlite = held.first { fields in
                guard fields.count >= 8, fields[1] == "POSIX", fields[3] == "WRITE", fields[5] == file,
                    let start = Int(fields[6]), start <= 120, fields[7] == "EOF" || Int(fields[7]).map({ $0 >= 120 }) == true
                else { return false }
                return true
            }.flatMap { Int32($0[4]) }
            if let sqlite, sqlite != writer, sqlite != getpid() { return LockHolder(pid: sqlite, foreign: true) }
        }
        return LockHolder(pid: writer, foreign: false)
    }

    /// How /proc/locks names a file: `MAJOR:MINOR:INODE`, in hexadecimal but the inode.
    private static func fileKey(_ info: stat) -> String {
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        return String(format: "%02x:%02x:%lu", major, minor, UInt64(info.st_ino))
    }

    /// /proc/locks read to its end: its size shows as 0, so read until read(2) says so.
    private static func procLocks() -> String? {
        let fd = open("/proc/locks", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A write that waited its whole allowance for another process's writer lock.
public struct WriterLockTimeout: StoreBusy {
    public var waited: Duration
    public var holder: LockHolder

    public var description: String {
        guard waited > .zero else { return "the database is busy: \(holder) holds \(holder.lock); set LIFELINE_LOCK_TIMEOUT to wait for it" }
        return "the database is busy: \(holder) has held \(holder.lock) for over \(DurationText.format(waited)) "
            + "(is it stopped, or its disk slow?); set LIFELINE_LOCK_TIMEOUT to wait longer"
    }
}

/// Who keeps a write waiting: a Lifeline writer holding its writer lock, or a program holding
/// SQLite's write lock without it (`foreign`), which Lifeline's writers wait behind.
public struct LockHolder: Sendable, Hashable, CustomStringConvertible {
    /// `nil` when the system does not say.
    public var pid: Int32?
    public var foreign: Bool

    public var description: String {
        (pid.map { "process \($0)" } ?? "another process") + (foreign ? " (not a Lifeline writer)" : "")
    }

    /// The lock it holds, as the holder's messages name it.
    public var lock: String { foreign ? "SQLite's write lock" : "its writer lock" }
}
