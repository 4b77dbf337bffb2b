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
    /// The handler, on the job's arguments as stored.
    let runHandler: @Sendable (JSONValue, JobContext) async throws -> JSONValue?

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
                throw JobInputError("invalid args for '\(kind)': \(DecodingErrorText.describe(error, in: args, document: "args"))")
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
