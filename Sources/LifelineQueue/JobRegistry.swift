import Foundation

/// The job kinds a process knows. Enqueue refuses a kind that is not registered; the
/// worker runs each kind's handler.
public struct JobRegistry: Sendable {
    /// In registration order. Not a dictionary: the first dictionary keyed by `String` a process
    /// makes has the runtime check `String: Hashable` by scanning every conformance record in
    /// the binary, 650,000 of a one-job enqueue's 4.2 million instructions (callgrind), and a
    /// build's score of kinds is found as fast one by one.
    private var kinds: [JobDefinition] = []

    public init() {}

    /// Registers a kind. Registering a kind twice is a programming error and fails loudly.
    public mutating func register(_ definition: JobDefinition) {
        precondition(self.definition(definition.kind) == nil, "job kind '\(definition.kind)' is registered twice")
        precondition(
            !kinds.contains { ($0.enqueuedOnlyBy == nil) != (definition.enqueuedOnlyBy == nil) && $0.defaults.queue == definition.defaults.queue },
            "job kind '\(definition.kind)' shares its default queue with kinds of another owner"
        )
        kinds.append(definition)
    }

    /// Every kind, those of the recovery stages too.
    public var allKinds: [String] { kinds.map(\.kind).sorted() }

    /// The kinds people may enqueue by hand.
    public var enqueueableKinds: [String] { kinds.filter { $0.enqueuedOnlyBy == nil }.map(\.kind).sorted() }

    public func definition(_ kind: String) -> JobDefinition? {
        index(of: kind).map { kinds[$0] }
    }

    /// The kind's handler alone, for each attempt: a copy of its whole definition retains
    /// its names, defaults and checks too.
    func handler(_ kind: String) -> (@Sendable (JSONValue, JobContext) async throws -> JSONValue?)? {
        index(of: kind).map { kinds[$0].runHandler }
    }

    /// Looked up in place: `first(where:)` copies each definition it passes over, every attempt.
    private func index(of kind: String) -> Int? {
        kinds.firstIndex { $0.kind == kind }
    }

    /// Checks a queue asked for by hand: its name, and that it is not a queue of kinds that
    /// only their owner enqueues, which is theirs alone, so that its limit or pause means the
    /// same thing to everyone who reads it.
    public func checkQueue(_ queue: String) throws(JobInputError) {
        try JobLimits.checkQueueName(queue, new: true)
        if let owner = kinds.first(where: { $0.enqueuedOnlyBy != nil && $0.defaults.queue == queue })?.enqueuedOnlyBy {
            throw JobInputError("queue '\(queue)' is kept for the jobs of \(owner); choose another queue")
        }
    }

    /// The definition of a kind that may be enqueued by hand.
    public func checkKind(_ kind: String) throws(JobInputError) -> JobDefinition {
        guard let definition = definition(kind) else {
            let near = EditDistance.didYouMean(kind, among: enqueueableKinds).map { "; " + $0 } ?? ""
            throw JobInputError("unknown job kind '\(JobInputError.quoted(kind))' (known: \(enqueueableKinds.joined(separator: ", ")))\(near)")
        }
        if let owner = definition.enqueuedOnlyBy {
            throw JobInputError("job kind '\(kind)' is enqueued only by \(owner), not by hand")
        }
        return definition
    }

    /// Checks a request against its kind and the queue's limits and fills in the kind's
    /// defaults. Throws one clear message for the first problem found.
    public func prepare(_ request: EnqueueRequest) throws(JobInputError) -> NewJob {
        let definition = try checkKind(request.kind)
        guard case .object = request.args else {
            throw JobInputError("args must be a JSON object, e.g. {\"ms\": 100}")
        }
        // Before they are decoded: the checks take time that grows with them.
        guard request.args.canonicalText.utf8.count <= JobLimits.argsBytes else {
            throw JobInputError("args are larger than 1 MiB")
        }
        let depth = request.args.depth
        guard depth <= JobLimits.argsDepth else {
            throw JobInputError("args nest \(depth) levels deep, more than \(JobLimits.argsDepth)")
        }
        try definition.validate(request.args)
        let defaults = definition.defaults
        let queue = request.queue ?? defaults.queue
        // A kind's own default queue is never another owner's (``register(_:)`` checks).
        if request.queue != nil { try checkQueue(queue) } else { try JobLimits.checkQueueName(queue) }
        let priority = request.priority ?? defaults.priority
        let maxAttempts = request.maxAttempts ?? defaults.maxAttempts
        let timeout = request.timeout ?? defaults.timeout
        try JobLimits.checkSettings(priority: priority, maxAttempts: maxAttempts, timeout: timeout, backoff: request.backoff)
        var backoff = defaults.backoff
        if let base = request.backoff {
            backoff = Backoff(base: base, cap: defaults.backoff.cap, jitter: defaults.backoff.jitter)
        }
        if let key = request.idempotencyKey { try JobLimits.checkIdempotencyKey(key) }
        return NewJob(
            kind: request.kind, args: request.args, queue: queue, priority: priority, maxAttempts: maxAttempts,
            timeout: timeout, backoff: backoff, runAt: request.runAt, delay: request.delay, idempotencyKey: request.idempotencyKey,
            server: request.server
        )
    }
}
