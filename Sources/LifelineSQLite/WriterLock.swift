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
    private let timeout: Duration

    /// `nil` when the lock file cannot be opened (e.g. a read-only directory).
    init?(databasePath: String, timeout: Duration) {
        path = databasePath + "-writer"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        self.timeout = timeout
        if fd < 0 { return nil }
    }

    deinit {
        close(fd)
    }

    /// Told once a write has waited a second for the lock, with the holder's pid and how long
    /// the write waits in all (see ``SQLiteDatabase/onLongLockWait(_:)``).
    static let longWaitNotice = Mutex<(@Sendable (_ holder: Int32?, _ timeout: Duration) -> Void)?>(nil)
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

    /// The pid holding the lock, from /proc/locks (whose lines read
    /// `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; waiters are marked `->`).
    private func holder() -> Int32? {
        var info = stat()
        guard fstat(fd, &info) == 0, let locks = Self.procLocks() else { return nil }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        let file = String(format: "%02x:%02x:%lu", major, minor, UInt64(info.st_ino))
        for line in locks.split(separator: "\n") where !line.contains("->") {
            let fields = line.split(separator: " ")
            if fields.count >= 6, fields[1] == "FLOCK", fields[5] == file { return Int32(fields[4]) }
        }
        return nil
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
    public var holder: Int32?

    public var description: String {
        let who = holder.map { "process \($0)" } ?? "another process"
        return "the database is busy: \(who) has held its writer lock for over \(DurationText.format(waited)) "
            + "(is it stopped?); set LIFELINE_LOCK_TIMEOUT to wait longer"
    }
}
