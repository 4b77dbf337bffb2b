import Foundation
import LifelineQueue

/// Turning flag and file text into values, each failure one clear line (exit 64).
enum InputParsing {
    static func duration(_ text: String, flag: String) throws -> Duration {
        do {
            return try DurationText.parse(text)
        } catch {
            throw CLIFailure(.invalidInput, "\(flag): \(error.message)")
        }
    }

    /// A wait's `--timeout`: a wait of no time would start what it waits for and give up at once.
    static func waitTimeout(_ text: String) throws -> Duration {
        let limit = try duration(text, flag: "--timeout")
        guard limit > .zero else { throw CLIFailure(.invalidInput, "--timeout: a wait needs more than 0s") }
        return limit
    }

    /// The time `back` before the store's now, for `--since` and `--older-than`: on PostgreSQL
    /// the server's clock, which this host's may not agree with.
    static func ago(_ back: Duration, in store: any JobStore) -> Date {
        store.now.adding(.zero - back)
    }

    static func json(_ text: String, source: String) throws -> JSONValue {
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw CLIFailure(.invalidInput, "\(source): \(error)")
        }
    }

    static func time(_ text: String, flag: String) throws -> Date {
        guard let date = LifelineJSON.parseTime(text) else {
            throw CLIFailure(.invalidInput, "\(flag): invalid time '\(text)': give a date, a time and its offset, e.g. 2026-11-25T18:00:00Z or 2026-11-25T20:00:00+02:00")
        }
        return date
    }

    /// `data` as text; bytes that are not UTF-8 are refused with their offset, never replaced.
    static func utf8(_ data: some Collection<UInt8>, source: String) throws -> String {
        if let offset = firstInvalidUTF8(data) {
            throw CLIFailure(.invalidInput, "\(source): invalid UTF-8 at byte \(offset); the text must be UTF-8")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: some Collection<UInt8>) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The whole of a file, or of standard input (`-`), of at most `limit` bytes. Read as a
    /// stream (a pipe or a process substitution, `<(…)`, has no size); one that goes on past
    /// the limit (`/dev/zero`, `yes |`) is refused there, not read until memory runs out, and
    /// so is one past `mostLines` lines.
    static func readFile(_ path: String, flag: String, limit: Int, mostLines: Int = .max) throws -> Data {
        let name = path == "-" ? "standard input" : "'\(path)'"
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIFailure(.invalidInput, "\(flag): cannot read \(name): \(Self.reason(errno))") }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var lines = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            // A directory fails here, with EISDIR.
            guard n >= 0 else { throw CLIFailure(.invalidInput, "\(flag): cannot read \(name): \(Self.reason(errno))") }
            if n == 0 { return data }
            data.append(contentsOf: chunk[..<n])
            if mostLines < .max {
                lines += chunk[..<n].reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
                guard lines <= mostLines else { throw tooManyLines(flag: flag, source: path == "-" ? "standard input" : "the file", most: mostLines) }
            }
            guard data.count <= limit else {
                throw CLIFailure(.invalidInput, "\(flag): \(name) goes on past \(limit >> 20) MiB, more than \(flag) takes")
            }
        }
    }

    /// A file of more lines than `flag` takes.
    static func tooManyLines(flag: String, source: String, most: Int) -> CLIFailure {
        CLIFailure(.invalidInput, "\(flag): \(source) has more than \(most) lines; split it into batches of at most that many")
    }

    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code)).lowercased()
    }
}
