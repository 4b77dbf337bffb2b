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

    /// Says what the command changed, before it prints its answer (see ``changeMade``).
    static func made(_ change: String) {
        changeMade.withLock { $0 = change }
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
                // `| head`) took what it wanted.
                if fd == STDOUT_FILENO && n < 0 && errno != EPIPE { Self.cannotWrite(errno) }
                return
            }
            offset += n
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
