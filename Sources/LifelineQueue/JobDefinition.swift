import Foundation

/// Arguments of a job kind. `validate()` rejects values the type allows but the kind does
/// not (a negative sleep, an empty argv), so bad input fails at enqueue, not at run time.
public protocol JobArgs: Codable, Sendable {
    func validate() throws(JobInputError)
}

extension JobArgs {
    public func validate() throws(JobInputError) {}
}

/// A job kind: its stable name, its defaults and its handler.
///
/// The handler's contract: return = completed (with an optional result); throw = retry with
/// backoff; throw ``JobFailure/permanent(_:)`` = discard now; throw
/// ``JobFailure/retryAfter(_:)`` = run again later without spending an attempt.
public struct JobDefinition<Args: JobArgs>: Sendable {
    /// Persisted in every job row: never rename a kind that has shipped.
    public var kind: String
    public var defaults: JobDefaults
    /// Who enqueues jobs of this kind, when people may not do it by hand (e.g. a recovery
    /// server's stages, enqueued by its actions); `nil` when anyone may.
    public var enqueuedOnlyBy: String?
    public var handler: @Sendable (Args, JobContext) async throws -> JSONValue?

    public init(
        kind: String, defaults: JobDefaults = JobDefaults(), enqueuedOnlyBy: String? = nil,
        handler: @escaping @Sendable (Args, JobContext) async throws -> JSONValue?
    ) {
        self.kind = kind
        self.defaults = defaults
        self.enqueuedOnlyBy = enqueuedOnlyBy
        self.handler = handler
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
