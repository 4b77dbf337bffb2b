import Foundation

/// The job kinds a process knows. Enqueue refuses a kind that is not registered; the
/// worker runs each kind's handler.
public struct JobRegistry: Sendable {
    private var kinds: [String: AnyJobDefinition] = [:]

    public init() {}

    /// Registers a kind. Registering a kind twice is a programming error and fails loudly.
    public mutating func register<Args: JobArgs>(_ definition: JobDefinition<Args>) {
        precondition(kinds[definition.kind] == nil, "job kind '\(definition.kind)' is registered twice")
        kinds[definition.kind] = AnyJobDefinition(definition)
    }

    /// The kinds people may enqueue by hand.
    public var enqueueableKinds: [String] { kinds.values.filter { $0.enqueuedOnlyBy == nil }.map(\.kind).sorted() }

    public func definition(_ kind: String) -> AnyJobDefinition? { kinds[kind] }

    /// Checks a request against its kind and the queue's limits and fills in the kind's
    /// defaults. Throws one clear message for the first problem found.
    public func prepare(_ request: EnqueueRequest) throws(JobInputError) -> NewJob {
        guard let definition = kinds[request.kind] else {
            throw JobInputError("unknown job kind '\(request.kind)' (known: \(enqueueableKinds.joined(separator: ", ")))")
        }
        if let owner = definition.enqueuedOnlyBy {
            throw JobInputError("job kind '\(request.kind)' is enqueued only by \(owner), not by hand")
        }
        guard case .object = request.args else {
            throw JobInputError("args must be a JSON object, e.g. {\"ms\": 100}")
        }
        try definition.validate(request.args)
        let defaults = definition.defaults
        let queue = request.queue ?? defaults.queue
        try JobLimits.checkQueueName(queue)
        let priority = request.priority ?? defaults.priority
        guard JobLimits.priorities.contains(priority) else {
            throw JobInputError("priority \(priority) is out of range: use \(JobLimits.priorities.lowerBound) to \(JobLimits.priorities.upperBound) (0 runs first)")
        }
        let maxAttempts = request.maxAttempts ?? defaults.maxAttempts
        guard JobLimits.maxAttempts.contains(maxAttempts) else {
            throw JobInputError("max attempts \(maxAttempts) is out of range: use \(JobLimits.maxAttempts.lowerBound) to \(JobLimits.maxAttempts.upperBound)")
        }
        let timeout = request.timeout ?? defaults.timeout
        guard JobLimits.timeout.contains(timeout) else {
            throw JobInputError("timeout \(DurationText.format(timeout)) is out of range: use 1ms to 7d")
        }
        var backoff = defaults.backoff
        if let base = request.backoff {
            guard JobLimits.backoff.contains(base) else {
                throw JobInputError("backoff \(DurationText.format(base)) is out of range: use 0s to 1d")
            }
            backoff = Backoff(base: base, cap: defaults.backoff.cap, jitter: defaults.backoff.jitter)
        }
        if let key = request.idempotencyKey {
            guard JobLimits.idempotencyKeyLength.contains(key.utf8.count),
                  // The control characters (Unicode's Cc) are exactly these two ranges; asking
                  // each scalar for its properties cost more than the job's insert.
                  !key.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
            else {
                throw JobInputError("idempotency key must be 1 to 255 bytes without control characters")
            }
        }
        guard request.args.canonicalText.utf8.count <= JobLimits.argsBytes else {
            throw JobInputError("args are larger than 1 MiB")
        }
        return NewJob(
            kind: request.kind, args: request.args, queue: queue, priority: priority, maxAttempts: maxAttempts,
            timeout: timeout, backoff: backoff, runAt: request.runAt, idempotencyKey: request.idempotencyKey,
            server: request.server
        )
    }
}

/// A registered kind with its argument type erased, so kinds of any argument type live in
/// one registry.
public struct AnyJobDefinition: Sendable {
    public let kind: String
    public let defaults: JobDefaults
    public let enqueuedOnlyBy: String?
    private let validateArgs: @Sendable (JSONValue) throws(JobInputError) -> Void
    private let runHandler: @Sendable (JSONValue, JobContext) async throws -> JSONValue?

    init<Args: JobArgs>(_ definition: JobDefinition<Args>) {
        kind = definition.kind
        defaults = definition.defaults
        enqueuedOnlyBy = definition.enqueuedOnlyBy
        let kind = definition.kind
        validateArgs = { (args: JSONValue) throws(JobInputError) in
            let decoded: Args
            do {
                decoded = try args.decode(Args.self)
            } catch {
                throw JobInputError("invalid args for '\(kind)': \(Self.describe(error, in: args))")
            }
            try decoded.validate()
        }
        runHandler = { args, context in
            try await definition.handler(try args.decode(Args.self), context)
        }
    }

    public func validate(_ args: JSONValue) throws(JobInputError) {
        try validateArgs(args)
    }

    public func run(_ args: JSONValue, context: JobContext) async throws -> JSONValue? {
        try await runHandler(args, context)
    }

    /// The decoding error as the user would fix it: which field, what it must be, what it is.
    private static func describe(_ error: any Error, in args: JSONValue) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing field '\(path(context.codingPath + [key]))'"
        case DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty:
            return "args must be a JSON object, not \(kind(of: args))"
        case DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context):
            let found = value(at: context.codingPath, in: args).map { ", not \(kind(of: $0))" } ?? ""
            return "field '\(path(context.codingPath))' must be \(describe(type))\(found)"
        case DecodingError.dataCorrupted(let context):
            return "field '\(path(context.codingPath))': \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func value(at keys: [any CodingKey], in args: JSONValue) -> JSONValue? {
        var value: JSONValue? = args
        for key in keys {
            if let index = key.intValue, let array = value?.arrayValue {
                value = index < array.count ? array[index] : nil
            } else {
                value = value?[key.stringValue]
            }
        }
        return value
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "true or false"
        case .int, .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [String].Type: "an array of strings"
        case is [String: String].Type: "an object of strings"
        default:
            // Decoders name the container they expected: Array<Any>, Dictionary<String, Any>.
            "\(type)".hasPrefix("Array") ? "an array" : "\(type)".hasPrefix("Dictionary") ? "an object" : "a valid value"
        }
    }
}
