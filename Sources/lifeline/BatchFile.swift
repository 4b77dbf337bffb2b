import Foundation
import LifelineQueue

/// `enqueue --batch`: one JSON object per line. Every line is checked before anything is
/// written, and a bad line names its number.
enum BatchFile {
    /// The largest batch read, in bytes and in lines: a batch is read and parsed whole before
    /// its one transaction, and one larger is better split.
    static let largest = 256 << 20
    static let mostLines = 1_000_000

    static let fields: Set<String> = [
        "kind", "args", "queue", "priority", "idempotency_key", "max_attempts", "timeout", "backoff", "delay",
    ]

    /// The jobs of a file, with the number of the line each came from.
    struct Jobs {
        var jobs: [NewJob] = []
        var lineNumbers: [Int] = []

        /// What to say when the insert found `key` taken with another kind or args: the first
        /// line that differs from an earlier line with the key (the job it met was this batch's
        /// own, rolled back with it), else the key's first line and the job that holds the key.
        func conflict(key: String, existing: Int64) -> String {
            let indices = jobs.indices.filter { jobs[$0].idempotencyKey?.utf8.elementsEqual(key.utf8) == true }
            let stored = JobStoreError.idempotencyConflict(key: key, existing: existing).description
            guard let first = indices.first else { return stored }
            let same = { (index: Int) in jobs[index].kind == jobs[first].kind && jobs[index].args.isSameText(as: jobs[first].args) }
            if let differing = indices.first(where: { !same($0) }) {
                return "--batch line \(lineNumbers[differing]): idempotency key '\(key)' is on line \(lineNumbers[first]) with another kind or args"
            }
            return "--batch line \(lineNumbers[first]): \(stored)"
        }
    }

    /// Parses every line, in parallel chunks; the first bad line, by number, is the error.
    /// - Parameter source: what the lines were read from, as an error names it.
    static func parse(_ data: Data, source: String, defaults: EnqueueRequest, registry: JobRegistry) async throws -> Jobs {
        // Split no further than the most lines: each line's slice and job cost far more than its
        // bytes. What is left after the last split must be the end of the last line.
        let lines = data.split(separator: UInt8(ascii: "\n"), maxSplits: mostLines, omittingEmptySubsequences: false)
        guard lines.count <= mostLines || lines.last?.isEmpty == true else {
            throw InputParsing.tooManyLines(flag: "--batch", source: source, most: mostLines)
        }
        let chunkSize = max(1_000, lines.count / ProcessInfo.processInfo.activeProcessorCount + 1)
        let chunks = stride(from: 0, to: lines.count, by: chunkSize).map { $0..<min($0 + chunkSize, lines.count) }
        let parsed = await withTaskGroup(of: (Int, Result<Jobs, CLIFailure>).self) { group in
            for (index, range) in chunks.enumerated() {
                group.addTask {
                    (index, Result { () throws(CLIFailure) in try parse(lines[range], firstNumber: range.lowerBound + 1, source: source, defaults: defaults, registry: registry) })
                }
            }
            var results = [Result<Jobs, CLIFailure>?](repeating: nil, count: chunks.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
        var all = Jobs()
        all.jobs.reserveCapacity(lines.count)
        all.lineNumbers.reserveCapacity(lines.count)
        for result in parsed {
            let chunk = try result!.get()
            all.jobs += chunk.jobs
            all.lineNumbers += chunk.lineNumbers
        }
        guard !all.jobs.isEmpty else { throw CLIFailure(.invalidInput, "--batch: \(source) has no jobs") }
        return all
    }

    private static func parse(
        _ lines: ArraySlice<Data.SubSequence>, firstNumber: Int, source: String, defaults: EnqueueRequest, registry: JobRegistry
    ) throws(CLIFailure) -> Jobs {
        var jobs = Jobs()
        for (offset, line) in lines.enumerated() {
            let number = firstNumber + offset
            guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) else {
                continue
            }
            do {
                jobs.jobs.append(try registry.prepare(try request(Data(line), defaults: defaults)))
                jobs.lineNumbers.append(number)
            } catch let error as JobInputError {
                throw CLIFailure(.invalidInput, "--batch line \(number): \(error.message)")
            } catch JSONValueError.syntax(_, let column, let message) {
                // Bytes that are not UTF-8 never parse: say so, with where, rather than what
                // the parser met there. Only a failed line is scanned for them.
                if let offset = InputParsing.firstInvalidUTF8(line) {
                    throw CLIFailure(.invalidInput, "--batch line \(number): invalid UTF-8 at byte \(offset) of the line; the file must be UTF-8")
                }
                if number == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) {
                    throw CLIFailure(.invalidInput, "--batch line 1: \(source) starts with a byte-order mark (EF BB BF); save it as UTF-8 without one")
                }
                // An object cut at the line's end: likely JSON laid out over several lines.
                let hint = message.hasSuffix("found the end of the text") ? " (each job is one JSON object on a line of its own)" : ""
                throw CLIFailure(.invalidInput, "--batch line \(number), column \(column): invalid JSON: \(message)\(hint)")
            } catch {
                throw CLIFailure(.runtime, "--batch line \(number): \(error)")
            }
        }
        return jobs
    }

    private static func request(_ line: Data, defaults: EnqueueRequest) throws -> EnqueueRequest {
        guard case .object(let given) = try JSONValue(parsing: line) else {
            throw JobInputError("each line must be a JSON object")
        }
        // A field given as null is left out, as writers of JSON Lines put an optional one.
        let fields = given.filter { $0.value != .null }
        if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            let said = EditDistance.didYouMean(unknown, among: Self.fields.sorted()).map { "; \($0)" } ?? " (fields: \(Self.fields.sorted().joined(separator: ", ")))"
            throw JobInputError("unknown field '\(unknown)'" + said)
        }
        var request = defaults
        if let kind = fields["kind"] { request.kind = try string(kind, "kind") }
        if let args = fields["args"] { request.args = args }
        if let queue = fields["queue"] { request.queue = try string(queue, "queue") }
        if let priority = fields["priority"] { request.priority = try int(priority, "priority") }
        if let key = fields["idempotency_key"] { request.idempotencyKey = try string(key, "idempotency_key") }
        if let max = fields["max_attempts"] { request.maxAttempts = try int(max, "max_attempts") }
        if let timeout = fields["timeout"] { request.timeout = try duration(timeout, "timeout") }
        if let backoff = fields["backoff"] { request.backoff = try duration(backoff, "backoff") }
        if let delay = fields["delay"] {
            (request.runAt, request.delay) = (nil, try duration(delay, "delay"))
        }
        return request
    }

    private static func string(_ value: JSONValue, _ field: String) throws(JobInputError) -> String {
        guard let text = value.stringValue else { throw JobInputError("'\(field)' must be a string") }
        return text
    }

    private static func int(_ value: JSONValue, _ field: String) throws(JobInputError) -> Int {
        guard let number = value.intValue, let int = Int(exactly: number) else {
            throw JobInputError("'\(field)' must be an integer")
        }
        return int
    }

    private static func duration(_ value: JSONValue, _ field: String) throws(JobInputError) -> Duration {
        guard let text = value.stringValue else { throw JobInputError("'\(field)' must be a duration string such as \"30s\"") }
        do {
            return try DurationText.parse(text)
        } catch {
            throw JobInputError("'\(field)': \(error.message)")
        }
    }
}
