import Foundation

/// Arguments of a job kind. `validate()` rejects values the type allows but the kind does
/// not (a negative sleep, an empty argv), so bad input fails at enqueue, not at run time.
public protocol JobArgs: Codable, Sendable {
    func validate() throws(JobInputError)
    /// Whether a field the type does not have is let through at enqueue; by default it is
    /// refused, as a misspelt optional field would otherwise be dropped without a word.
    static var acceptsAnyFields: Bool { get }
}

extension JobArgs {
    public func validate() throws(JobInputError) {}
    public static var acceptsAnyFields: Bool { false }
}

/// A job kind: its stable name, its defaults and its handler.
///
/// The handler's contract: return = completed (with an optional result); throw = retry with
/// backoff; throw ``JobFailure/permanent(_:)`` = discard now; throw
/// ``JobFailure/retryAfter(_:)`` = run again later without spending an attempt.
///
/// The argument type is erased at creation, so kinds of any argument type live in one
/// registry, and no generic type is left to instantiate when a process starts (each one costs
/// a scan of the binary's protocol conformance records).
public struct JobDefinition: Sendable {
    /// Persisted in every job row: never rename a kind that has shipped.
    public let kind: String
    public let defaults: JobDefaults
    /// Who enqueues jobs of this kind, when people may not do it by hand (e.g. a recovery
    /// server's stages, enqueued by its actions); `nil` when anyone may.
    public let enqueuedOnlyBy: String?
    private let validateArgs: @Sendable (JSONValue) throws(JobInputError) -> Void
    private let runHandler: @Sendable (JSONValue, JobContext) async throws -> JSONValue?

    public init<Args: JobArgs>(
        kind: String, args: Args.Type, defaults: JobDefaults = JobDefaults(), enqueuedOnlyBy: String? = nil,
        handler: @escaping @Sendable (Args, JobContext) async throws -> JSONValue?
    ) {
        self.kind = kind
        self.defaults = defaults
        self.enqueuedOnlyBy = enqueuedOnlyBy
        validateArgs = { (args: JSONValue) throws(JobInputError) in
            let decoded: Args
            do {
                decoded = try Args.acceptsAnyFields ? args.decode(Args.self) : args.decodeStrictly(Args.self)
            } catch {
                throw JobInputError("invalid args for '\(kind)': \(Self.describe(error, in: args))")
            }
            try decoded.validate()
        }
        runHandler = { args, context in
            try await handler(try args.decode(Args.self), context)
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
        case let unknown as UnknownField:
            let known = unknown.known.isEmpty ? "" : " (fields: \(unknown.known.joined(separator: ", ")))"
            return "unknown field '\(path(unknown.codingPath))'\(known)"
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

/// What a job of a kind gets unless its enqueue says otherwise.
public struct JobDefaults: Sendable, Hashable {
    public var queue: String
    public var priority: Int
    public var maxAttempts: Int
    public var timeout: Duration
    public var backoff: Backoff

    public init(
        queue: String = "default", priority: Int = 5, maxAttempts: Int = 20,
        timeout: Duration = .seconds(1800), backoff: Backoff = .standard
    ) {
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.backoff = backoff
    }
}

/// Marker errors a handler throws to choose its outcome.
public enum JobFailure: Error, Sendable, CustomStringConvertible {
    /// Discard the job now: retrying cannot help.
    case permanent(String)
    /// Run again after the delay, without spending an attempt.
    case retryAfter(Duration)

    public var description: String {
        switch self {
        case .permanent(let message): message
        case .retryAfter(let delay): "retry after \(delay)"
        }
    }
}
