import Foundation

/// What a pool's writer and its runner processes say to each other: one JSON document per
/// line on the socket between them (canonical text, so a line never holds a line break).
enum RunnerMessage: Sendable, Hashable {
    /// Writer → runner: run this attempt.
    case run(Job)
    /// Writer → runner: stop this attempt (it timed out, was cancelled, lost its lease or
    /// the pool is shutting down; the writer knows which).
    case stop(AttemptKey)
    /// Runner → writer: the attempt's handler reported a checkpoint.
    case progress(AttemptKey, JSONValue)
    /// Runner → writer: the attempt's handler ended.
    case ended(AttemptKey, HandlerEnd)

    struct Malformed: Error, CustomStringConvertible {
        var line: String
        var description: String { "malformed message from the other end of a pool: \(line.prefix(200))" }
    }

    // Positional arrays, not objects: these are written and read for every attempt, and
    // keys cost more to write, parse and look up than the values they name.

    var json: JSONValue {
        switch self {
        case .run(let job): .array([.string("run")] + Self.encode(job))
        case .stop(let key): .array([.string("stop"), .int(key.id), .int(Int64(key.attempt))])
        case .progress(let key, let value): .array([.string("progress"), .int(key.id), .int(Int64(key.attempt)), value])
        case .ended(let key, let end): .array([.string("ended"), .int(key.id), .int(Int64(key.attempt))] + Self.encode(end))
        }
    }

    init<Bytes: Collection<UInt8>>(line: Bytes) throws {
        guard let json = try? JSONParser.parse(Array(line)), let message = Self.decode(json) else {
            throw Malformed(line: String(decoding: line, as: UTF8.self))
        }
        self = message
    }

    private static func decode(_ json: JSONValue) -> RunnerMessage? {
        guard let fields = json.arrayValue, fields.count >= 3, let kind = fields[0].stringValue else { return nil }
        if kind == "run" { return decodeJob(fields.dropFirst()).map(RunnerMessage.run) }
        guard let id = fields[1].intValue, let attempt = fields[2].intValue else { return nil }
        let key = AttemptKey(id: id, attempt: Int(attempt))
        switch (kind, fields.count) {
        case ("stop", 3): return .stop(key)
        case ("progress", 4): return .progress(key, fields[3])
        case ("ended", 5): return decodeEnd(how: fields[3], value: fields[4]).map { .ended(key, $0) }
        default: return nil
        }
    }

    private static func encode(_ end: HandlerEnd) -> [JSONValue] {
        switch end {
        case .returned(let value?): [.string("returned"), value]
        case .returned(nil): [.string("returned_nothing"), .null]
        case .threw(let message): [.string("threw"), .string(message)]
        case .threwPermanent(let message): [.string("threw_permanent"), .string(message)]
        case .threwRetryAfter(let delay): [.string("threw_retry_after_ms"), .int(delay.milliseconds)]
        case .abandoned: [.string("abandoned"), .null]
        case .notStarted: [.string("not_started"), .null]
        case .lost(let why): [.string("lost"), .string(why)]
        }
    }

    private static func decodeEnd(how: JSONValue, value: JSONValue) -> HandlerEnd? {
        switch (how.stringValue, value) {
        case ("returned", _): .returned(value)
        case ("returned_nothing", _): .returned(nil)
        case ("threw", .string(let message)): .threw(message)
        case ("threw_permanent", .string(let message)): .threwPermanent(message)
        case ("threw_retry_after_ms", .int(let ms)): .threwRetryAfter(.milliseconds(ms))
        case ("abandoned", _): .abandoned
        case ("not_started", _): .notStarted
        case ("lost", .string(let why)): .lost(why)
        default: nil
        }
    }

    /// The whole row as claimed: a handler in a runner sees the same `Job` as one in the
    /// writer's process would.
    private static func encode(_ job: Job) -> [JSONValue] {
        let time = { (date: Date?) in date.map { JSONValue.int($0.ms) } ?? .null }
        let text = { (string: String?) in string.map(JSONValue.string) ?? .null }
        let errors = job.errors.map { error in
            JSONValue.array([.int(Int64(error.attempt)), .int(error.at.ms), .string(error.error), text(error.worker)])
        }
        return [
            .int(job.id), .string(job.queue), .string(job.kind), job.args, .string(job.state.rawValue), .int(Int64(job.priority)),
            .int(Int64(job.attempt)), .int(Int64(job.maxAttempts)), .int(job.timeout.milliseconds), .int(job.backoff.base.milliseconds),
            .int(job.backoff.cap.milliseconds), .double(job.backoff.jitter), time(job.runAt), text(job.leaseOwner),
            time(job.leaseExpiresAt), time(job.heartbeatAt), job.progress.map { .array([$0]) } ?? .null,
            job.result.map { .array([$0]) } ?? .null, .array(errors), text(job.idempotencyKey), text(job.server),
            .bool(job.cancelRequested), time(job.createdAt), time(job.attemptedAt), time(job.finishedAt),
        ]
    }

    private static func decodeJob(_ fields: ArraySlice<JSONValue>) -> Job? {
        let field = Array(fields)
        guard field.count == 25 else { return nil }
        let time = { (value: JSONValue) in value.intValue.map { Date(ms: $0) } }
        // A present value is wrapped in an array, so that a JSON null stays apart from none.
        let wrapped = { (value: JSONValue) in value.arrayValue?.first }
        let jitter: Double? = switch field[11] {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
        guard let id = field[0].intValue, let queue = field[1].stringValue, let kind = field[2].stringValue,
            let state = field[4].stringValue.flatMap(JobState.init(rawValue:)), let priority = field[5].intValue,
            let attempt = field[6].intValue, let maxAttempts = field[7].intValue, let timeout = field[8].intValue,
            let base = field[9].intValue, let cap = field[10].intValue, let jitter, let runAt = time(field[12]),
            let errors = field[18].arrayValue, case .bool(let cancelRequested) = field[21], let createdAt = time(field[22])
        else { return nil }
        let attemptErrors: [AttemptError] = errors.compactMap { error in
            guard let parts = error.arrayValue, parts.count == 4, let attempt = parts[0].intValue, let at = parts[1].intValue,
                let text = parts[2].stringValue
            else { return nil }
            return AttemptError(attempt: Int(attempt), at: Date(ms: at), error: text, worker: parts[3].stringValue)
        }
        guard attemptErrors.count == errors.count else { return nil }
        return Job(
            id: id, queue: queue, kind: kind, args: field[3], state: state, priority: Int(priority), attempt: Int(attempt),
            maxAttempts: Int(maxAttempts), timeout: .milliseconds(timeout),
            backoff: Backoff(base: .milliseconds(base), cap: .milliseconds(cap), jitter: jitter), runAt: runAt,
            leaseOwner: field[13].stringValue, leaseExpiresAt: time(field[14]), heartbeatAt: time(field[15]),
            progress: wrapped(field[16]), result: wrapped(field[17]), errors: attemptErrors, idempotencyKey: field[19].stringValue,
            server: field[20].stringValue, cancelRequested: cancelRequested, createdAt: createdAt, attemptedAt: time(field[23]),
            finishedAt: time(field[24])
        )
    }
}
