import Foundation
import LifelineQueue

/// `enqueue --batch`: one JSON object per line. Every line is checked before anything is
/// written, and a bad line names its number.
enum BatchFile {
    static let fields: Set<String> = [
        "kind", "args", "queue", "priority", "idempotency_key", "max_attempts", "timeout", "backoff", "delay",
    ]

    static func parse(_ data: Data, defaults: EnqueueRequest, registry: JobRegistry) throws -> [NewJob] {
        var jobs: [NewJob] = []
        let now = Date()
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) else {
                continue
            }
            do {
                jobs.append(try registry.prepare(try request(Data(line), defaults: defaults, now: now)))
            } catch let error as JobInputError {
                throw CLIFailure(.invalidInput, "--batch line \(number): \(error.message)")
            } catch let error as JSONValueError {
                throw CLIFailure(.invalidInput, "--batch line \(number): \(error)")
            }
        }
        guard !jobs.isEmpty else { throw CLIFailure(.invalidInput, "--batch: the file has no jobs") }
        return jobs
    }

    private static func request(_ line: Data, defaults: EnqueueRequest, now: Date) throws -> EnqueueRequest {
        guard case .object(let fields) = try JSONValue(parsing: line) else {
            throw JobInputError("each line must be a JSON object")
        }
        if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw JobInputError("unknown field '\(unknown)' (fields: \(Self.fields.sorted().joined(separator: ", ")))")
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
            request.runAt = now.adding(try duration(delay, "delay"))
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
        return try DurationText.parse(text)
    }
}
