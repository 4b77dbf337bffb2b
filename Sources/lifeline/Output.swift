import Foundation
import LifelineQueue
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where a command writes. Lines are written whole, so output piped into another program
/// never interleaves half-lines.
struct Output: Sendable {
    let fd: Int32

    /// What the command changed before printing its answer (`enqueued job 401`): if the answer
    /// cannot be written, the error says the change was made, so it is not made twice.
    private static let changeMade = Mutex<String?>(nil)

    /// Says what the command changed, before it prints its answer (see ``changeMade``). From
    /// then on a pipe whose reader is gone fails the write (EPIPE), which is said, rather than
    /// ending the command unheard by SIGPIPE: a script must not take the change for not made.
    static func made(_ change: String) {
        changeMade.withLock { $0 = change }
        signal(SIGPIPE, SIG_IGN)
    }

    static let standardOutput = Output(fd: STDOUT_FILENO)
    static let standardError = Output(fd: STDERR_FILENO)

    var isTerminal: Bool { isatty(fd) == 1 }

    /// Colour only on a terminal, and never when NO_COLOR is set.
    var usesColor: Bool {
        isTerminal && Environment.value("NO_COLOR") == nil
    }

    /// The width to fit tables to: COLUMNS when set, else the terminal's; nil (no cutting)
    /// when writing to a pipe or file.
    var width: Int? {
        if let columns = Environment.value("COLUMNS").flatMap(Int.init), columns > 0 { return columns }
        guard isTerminal else { return nil }
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    func writeLine(_ text: String) {
        write(text + "\n")
    }

    /// A line that says what the command changed: said again on standard error if it cannot
    /// be written (see ``made(_:)``).
    func writeChange(_ text: String) {
        Self.made(text)
        writeLine(text)
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                // What a command prints is its answer (an enqueued job's id, a list): a full disk
                // or a broken device must not pass for success. A reader that went away (EPIPE,
                // `| head`) took what it wanted, unless the answer says what was changed.
                if fd == STDOUT_FILENO && n < 0 && (errno != EPIPE || Self.changeMade.withLock({ $0 }) != nil) { Self.cannotWrite(errno) }
                return
            }
            offset += n
        }
    }

    /// For a command that may print nothing for a long while (`events --follow` on a quiet
    /// queue): once the pipe or socket it writes to has no reader (`| head -1` took its
    /// line), it ends as a write there would end it (SIGPIPE), as `tail -f` does, rather than
    /// waiting for a line it will never be able to write.
    static func endWhenReaderLeaves() {
        var info = stat()
        guard fstat(STDOUT_FILENO, &info) == 0, [S_IFIFO, S_IFSOCK].contains(info.st_mode & S_IFMT) else { return }
        Thread.detachNewThread {
            // No events asked for: a pipe whose reader closed reports POLLERR, a socket POLLHUP.
            var watched = pollfd(fd: STDOUT_FILENO, events: 0, revents: 0)
            while poll(&watched, 1, -1) < 0 && errno == EINTR {}
            guard watched.revents & Int16(POLLERR | POLLHUP) != 0 else { return }
            signal(SIGPIPE, SIG_DFL)
            kill(getpid(), SIGPIPE)
        }
    }

    private static func cannotWrite(_ error: Int32) -> Never {
        let reason = "cannot write to standard output: \(String(cString: strerror(error)).lowercased())"
        standardError.writeLine("lifeline: " + (changeMade.withLock { $0 }.map { "\($0), but \(reason)" } ?? reason))
        exit(CLIFailure.Code.runtime.rawValue)
    }

    /// One JSON document on one line.
    func writeJSON<T: Encodable>(_ value: T) throws {
        do {
            writeLine(try LifelineJSON.line(value))
        } catch EncodingError.invalidValue(_, let context) {
            // Its own description holds the whole value: megabytes, on many lines.
            // The one value it refuses is one too deep: written no deeper than 512 levels.
            throw CLIFailure(.runtime, "cannot write the answer as JSON, which goes no deeper than 512 levels: \(context.debugDescription)")
        }
    }

    /// A list, as every read command prints one: with `json`, one object per line; for
    /// people, `empty` when there is nothing, else the table fitted to the width.
    func writeList<T: Encodable>(_ items: [T], json: Bool, empty: String, table: ([T]) -> Table) throws {
        if json {
            for item in items { try writeJSON(item) }
        } else if items.isEmpty {
            writeLine(empty)
        } else {
            table(items).render(width: width).forEach(writeLine)
        }
    }
}
