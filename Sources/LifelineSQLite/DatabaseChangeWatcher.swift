import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Tells when another process may have committed to the database: Lifeline's writers touch
/// the `-wal` file's times once a commit that changed rows is done
/// (``announceCommit(databasePath:)``, at most once per 10 ms from a busy process:
/// ``CommitAnnouncer``), and inotify reports that at once. Idle workers sleep
/// on this instead of polling.
///
/// Only the touch is watched, not the writes themselves: a commit's writes are reported
/// before the commit is visible (its sync is still to come), and every page written is an
/// event, which the writer's own kernel calls paid for — a sixth of a busy writer's time in
/// the kernel went to inotify reporting its WAL writes to its own watcher.
public final class DatabaseChangeWatcher: Sendable {
    private let fd: Int32
    private let watch: Int32

    /// Watches the directory of `databasePath`; `onChange` is called on a background thread
    /// after each burst of commits announced.
    public init(databasePath: String, onChange: @escaping @Sendable () -> Void) throws {
        let url = URL(fileURLWithPath: databasePath)
        let directory = url.deletingLastPathComponent().path
        let walName = url.lastPathComponent + "-wal"
        fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw DatabaseOpenError.cannotCreate(path: directory, reason: "inotify: \(String(cString: strerror(errno)))") }
        watch = inotify_add_watch(fd, directory, UInt32(IN_ATTRIB))
        guard watch >= 0 else {
            close(fd)
            throw DatabaseOpenError.cannotCreate(path: directory, reason: "inotify watch: \(String(cString: strerror(errno)))")
        }
        let fd = fd
        let thread = Thread {
            Self.readEvents(fd: fd, walName: walName, onChange: onChange)
        }
        thread.name = "lifeline-db-watch"
        thread.start()
    }

    /// Ends the watch, before the process exits: the kernel frees a watch that the exit
    /// leaves behind while the exit waits, often 8 to 25 ms more for a process whose work took
    /// 10 (an empty `worker --drain`), and one removed before at once. The reading thread
    /// reads the removal's own event, which names no file, and waits on for ever.
    deinit {
        inotify_rm_watch(fd, watch)
    }

    /// Says that a commit to `databasePath` is done. Only the file's times change: SQLite
    /// reads neither. A missing file (no WAL yet) needs no notice.
    static func announceCommit(databasePath: String) {
        _ = utimensat(AT_FDCWD, databasePath + "-wal", nil, 0)
    }

    private static let coalescingPause: useconds_t = 1000

    private static func readEvents(fd: Int32, walName: String, onChange: @Sendable () -> Void) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var offset = 0
            var relevant = false
            buffer.withUnsafeBytes { raw in
                while offset + MemoryLayout<inotify_event>.size <= count {
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let nameStart = offset + MemoryLayout<inotify_event>.size
                    if event.len > 0 {
                        let nameBytes = raw[nameStart..<nameStart + Int(event.len)].prefix { $0 != 0 }
                        if String(decoding: nameBytes, as: UTF8.self) == walName { relevant = true }
                    }
                    offset = nameStart + Int(event.len)
                }
            }
            if relevant {
                onChange()
                // Pausing lets the kernel merge a burst of announcements into one event, so a
                // busy database wakes workers at most ~1,000 times a second.
                usleep(Self.coalescingPause)
            }
        }
    }
}
