import Foundation

/// A job as stored: what to run, how often it may be tried, and where it is now.
public struct Job: Sendable, Hashable, Identifiable {
    public var id: Int64
    public var queue: String
    public var kind: String
    public var args: JSONValue
    public var state: JobState
    public var priority: Int
    /// The number of attempts started so far; the running attempt when `running`.
    public var attempt: Int
    public var maxAttempts: Int
    /// The deadline of each attempt.
    public var timeout: Duration
    /// The backoff policy after a failed attempt.
    public var backoff: Backoff
    public var runAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var heartbeatAt: Date?
    public var progress: JSONValue?
    public var result: JSONValue?
    public var errors: [AttemptError]
    public var idempotencyKey: String?
    /// The recovery server the job works for, if any.
    public var server: String?
    /// Set when a user cancelled the job while it ran; the worker stops it at its next
    /// heartbeat.
    public var cancelRequested: Bool
    public var createdAt: Date
    public var attemptedAt: Date?
    public var finishedAt: Date?

    public init(
        id: Int64, queue: String, kind: String, args: JSONValue, state: JobState, priority: Int,
        attempt: Int, maxAttempts: Int, timeout: Duration, backoff: Backoff, runAt: Date,
        leaseOwner: String? = nil, leaseExpiresAt: Date? = nil, heartbeatAt: Date? = nil,
        progress: JSONValue? = nil, result: JSONValue? = nil, errors: [AttemptError] = [],
        idempotencyKey: String? = nil, server: String? = nil, cancelRequested: Bool = false,
        createdAt: Date, attemptedAt: Date? = nil, finishedAt: Date? = nil
    ) {
        self.id = id
        self.queue = queue
        self.kind = kind
        self.args = args
        self.state = state
        self.priority = priority
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.backoff = backoff
        self.runAt = runAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.heartbeatAt = heartbeatAt
        self.progress = progress
        self.result = result
        self.errors = errors
        self.idempotencyKey = idempotencyKey
        self.server = server
        self.cancelRequested = cancelRequested
        self.createdAt = createdAt
        self.attemptedAt = attemptedAt
        self.finishedAt = finishedAt
    }
}

extension Job: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, queue, kind, state, attempt, priority, args, server, errors, progress, result
        case maxAttempts = "max_attempts"
        case timeoutSeconds = "timeout_seconds"
        case backoffSeconds = "backoff_seconds"
        case backoffCapSeconds = "backoff_cap_seconds"
        case idempotencyKey = "idempotency_key"
        case runAt = "run_at"
        case createdAt = "created_at"
        case finishedAt = "finished_at"
        case attemptedAt = "attempted_at"
        case leaseOwner = "lease_owner"
        case leaseExpiresAt = "lease_expires_at"
        case heartbeatAt = "heartbeat_at"
    }

    /// The JSON shape of the CLI contract, and the running attempt's lease, by which a job of a
    /// worker that died shows as such. Absent values are written as `null` so that every object
    /// has the same fields.
    public func encode(to encoder: any Encoder) throws {
        try encode(to: encoder, withDocuments: true)
    }

    /// A job without its args and result, which may take megabytes: for a list that shows
    /// neither (`/api/jobs?brief=true`, the dashboard's table).
    public struct Brief: Encodable {
        public let job: Job

        public init(_ job: Job) {
            self.job = job
        }

        public func encode(to encoder: any Encoder) throws {
            try job.encode(to: encoder, withDocuments: false)
        }
    }

    private func encode(to encoder: any Encoder, withDocuments: Bool) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(queue, forKey: .queue)
        try container.encode(kind, forKey: .kind)
        try container.encode(state, forKey: .state)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(maxAttempts, forKey: .maxAttempts)
        try container.encode(Double(timeout.milliseconds) / 1000, forKey: .timeoutSeconds)
        try container.encode(Double(backoff.base.milliseconds) / 1000, forKey: .backoffSeconds)
        try container.encode(Double(backoff.cap.milliseconds) / 1000, forKey: .backoffCapSeconds)
        try container.encode(priority, forKey: .priority)
        if withDocuments { try container.encode(args, forKey: .args) }
        try container.encode(idempotencyKey, forKey: .idempotencyKey)
        try container.encode(server, forKey: .server)
        try container.encode(runAt, forKey: .runAt)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(attemptedAt, forKey: .attemptedAt)
        try container.encode(leaseOwner, forKey: .leaseOwner)
        try container.encode(leaseExpiresAt, forKey: .leaseExpiresAt)
        try container.encode(heartbeatAt, forKey: .heartbeatAt)
        try container.encode(errors, forKey: .errors)
        try container.encode(progress, forKey: .progress)
        if withDocuments { try container.encode(result, forKey: .result) }
    }
}

extension Job {
    /// What the CLI and the API say of ids that name no job, and why an id a job had may name
    /// none now.
    public static func missingText(_ ids: [Int64]) -> String {
        "no job \(ids.map(String.init).joined(separator: ", ")) (pruned with \(ids.count == 1 ? "its" : "their") events, or never enqueued)"
    }
}
