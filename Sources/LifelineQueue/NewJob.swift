import Foundation

/// A job to insert. The CLI and the lifecycle build these; kinds fill in their defaults
/// through ``JobRegistry/prepare(_:)``.
public struct NewJob: Sendable, Hashable {
    public var queue: String
    public var kind: String
    public var args: JSONValue
    public var priority: Int
    public var maxAttempts: Int
    public var timeout: Duration
    public var backoff: Backoff
    /// When the job may first run; `nil` means now, or `delay` after the store takes it.
    public var runAt: Date?
    /// How long after the store takes the job it may first run, by the store's clock (on
    /// PostgreSQL the server's, which the enqueuing host may not share); with no `runAt`.
    public var delay: Duration?
    public var idempotencyKey: String?
    public var server: String?

    public init(
        kind: String, args: JSONValue = .object([:]), queue: String = "default", priority: Int = 0,
        maxAttempts: Int = 20, timeout: Duration = .seconds(1800), backoff: Backoff = .standard,
        runAt: Date? = nil, delay: Duration? = nil, idempotencyKey: String? = nil, server: String? = nil
    ) {
        self.queue = queue
        self.kind = kind
        self.args = args
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.backoff = backoff
        self.runAt = runAt
        self.delay = delay
        self.idempotencyKey = idempotencyKey
        self.server = server
    }
}

/// The answer to an insert: the job, and whether it already existed under its
/// idempotency key.
public struct InsertedJob: Sendable, Hashable {
    public var job: Job
    public var existing: Bool

    public init(job: Job, existing: Bool) {
        self.job = job
        self.existing = existing
    }
}
