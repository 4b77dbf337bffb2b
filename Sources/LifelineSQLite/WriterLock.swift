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

    /// `nil` when the lock file cannot be opened (e.g. a read-only directory).
    init?(databasePath: String) {
        fd = open(databasePath + "-writer", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { return nil }
    }

    deinit {
        close(fd)
    }

    func hold<T>(_ body: () throws -> T) rethrows -> T {
        var result: Int32
        repeat { result = flock(fd, LOCK_EX) } while result != 0 && errno == EINTR
        defer { if result == 0 { flock(fd, LOCK_UN) } }
        return try body()
    }
}
