import Foundation

/// The narrow storage interface of the queue. Every method is one transaction, and every
/// change it makes appends its events in that same transaction.
///
/// Methods are named entity + verb. A store must pass the conformance suite in
/// `LifelineTestKit`.
public protocol JobStore: Sendable {
    /// The store's time now, by the clock it stamps changes with (on PostgreSQL the server's):
    /// what a time computed outside it, such as "an hour ago", counts from.
    var now: Date { get }

    /// Inserts the jobs all-or-nothing. A job whose idempotency key exists with the same
    /// kind and args returns the existing job; with other kind or args the whole insert
    /// fails with ``JobStoreError/idempotencyConflict(key:existing:)``.
    func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob]

    /// Records the request's finishes (as ``jobFinish(_:)`` does), takes back expired leases,
    /// then claims up to `limit` available jobs of the given queues in (priority, run_at, id)
    /// order, marking them running under a lease. One transaction: a worker records what
    /// finished and refills its slots with one commit.
    ///
    /// The request is made once, where the store writes, just before the transaction (nil:
    /// none runs, and nil is returned), and `committed` is called there once it has committed,
    /// before any later write begins: exactly when a result is returned, and with nothing
    /// that can throw after it. A worker thus queues its next claim behind the one running: the
    /// store goes from one transaction to the next without waiting for the worker, and each
    /// claim is sized with the slots the one before filled.
    func jobClaim(_ claim: DeferredClaim) async throws -> ClaimResult?

    /// Renews the leases of running jobs and stores their progress.
    func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus]

    /// Finishes attempts, each fenced on (running, attempt, lease owner). Returns the ids
    /// whose finish applied; a missing id means its lease was lost and nothing changed.
    func jobFinish(_ finishes: [JobFinish]) async throws -> Set<Int64>

    /// Cancels waiting jobs at once and asks running ones to stop.
    func jobCancel(_ ids: [Int64]) async throws -> [Int64: CancelResult]

    /// Of the given jobs, the running ones a user asked to stop. A read: workers ask each
    /// time the store changes.
    func jobCancelRequested(_ ids: [Int64]) async throws -> Set<Int64>

    /// Puts discarded, cancelled, retryable or scheduled jobs back to available, due now, with
    /// a fresh attempt budget: `max_attempts` grows by the attempts made, which are numbered
    /// on, never again from 1 (see ``JobState/isRetriable``).
    func jobRetry(_ ids: [Int64]) async throws -> [Job]

    func jobGet(_ id: Int64) async throws -> Job?
    func jobList(_ filter: JobFilter) async throws -> [Job]
    func jobCount(_ filter: JobFilter) async throws -> Int

    /// Deletes finished jobs, and events, older than `before`, and appends a `pruned` event
    /// (``PruneResult/cutoffEventData(before:)``); with `dryRun`, only counts them.
    func jobPrune(before: Date, dryRun: Bool) async throws -> PruneResult

    /// Deletes finished jobs older than their queue's retention, with their events, in
    /// transactions of at most `batch` jobs so the write lock is never held long, each with a
    /// `pruned` event (``PruneResult/retentionEventData(queues:)``). Server events and
    /// transitions stay.
    func jobPruneExpired(batch: Int) async throws -> PruneResult

    func eventList(_ filter: EventFilter) async throws -> [JobEvent]

    /// Counts by queue and state, running jobs by worker, and what finished in the last 1, 5
    /// and 15 minutes.
    func statsGet() async throws -> QueueStats

    func queueList() async throws -> [QueueInfo]

    /// Changes a queue's settings. A queue that has never had a job or a setting is
    /// ``JobStoreError/unknownQueue(_:known:)`` unless `create` says to configure it ahead of
    /// its first job.
    func queueUpdate(_ queue: String, _ update: QueueUpdate, create: Bool) async throws
}

public struct ClaimRequest: Sendable, Hashable {
    public var owner: String
    /// The queues to take jobs from, in order; empty means every queue.
    public var queues: [String]
    /// Weights of the queues by name, if any were given (see ``ClaimFill``).
    public var weights: [String: Int]
    public var limit: Int
    public var lease: Duration
    /// Attempts to record before claiming, each fenced as in ``JobStore/jobFinish(_:)``.
    public var finishes: [JobFinish]
    /// Jobs whose handlers still run in the claiming worker, or whose ends it is about to record
    /// (a worker names those whose leases may have run out): the claim does not take back their
    /// leases, even run out (a machine too busy to stop them in time, a worker stopped), so that
    /// the job, and the next stage of its server, never start while they run there, and an end
    /// that came meanwhile is recorded, not run again. The worker records or gives up each
    /// attempt once its handler has ended. Another worker's claim takes them back as usual.
    public var running: Set<Int64>
    /// When the worker named ``running``. Its own leases that ran out since are spared too: a
    /// worker stopped between making its request and the store's running it (SIGSTOP, a
    /// machine that stalls) would otherwise take back the leases of handlers that ended
    /// meanwhile, and run them again, rather than record their ends next.
    public var madeAt: ContinuousClock.Instant

    public init(
        owner: String, queues: [String], weights: [String: Int] = [:], limit: Int, lease: Duration, finishes: [JobFinish] = [],
        running: Set<Int64> = [], madeAt: ContinuousClock.Instant = .now
    ) {
        self.owner = owner
        self.queues = queues
        self.weights = weights
        self.limit = limit
        self.lease = lease
        self.finishes = finishes
        self.running = running
        self.madeAt = madeAt
    }

    /// Whether this claim, run at the store's time `now` (read at `readAt`), leaves the job's
    /// run-out lease alone (see ``running`` and ``madeAt``).
    public func spares(_ job: Job, now: Int64, readAt: ContinuousClock.Instant) -> Bool {
        guard job.leaseOwner == owner else { return false }
        if running.contains(job.id) { return true }
        // The store's time when the request was made: the two clocks may differ, not the time
        // that passed on each.
        let made = now - (readAt - madeAt).milliseconds
        return (job.leaseExpiresAt?.ms ?? .min) >= made
    }
}

/// A claim whose request is made when the store is about to run it (see the claim of
/// ``JobStore``).
public struct DeferredClaim: Sendable {
    public var request: @Sendable () -> ClaimRequest?
    public var committed: @Sendable (ClaimResult) -> Void

    public init(request: @escaping @Sendable () -> ClaimRequest?, committed: @escaping @Sendable (ClaimResult) -> Void) {
        self.request = request
        self.committed = committed
    }
}

extension JobStore {
    /// A claim whose request is made now.
    public func jobClaim(_ request: ClaimRequest) async throws -> ClaimResult {
        try await jobClaim(DeferredClaim(request: { request }, committed: { _ in })) ?? ClaimResult(jobs: [], nextWakeup: nil, at: Date(), readAt: .now)
    }
}

public struct ClaimResult: Sendable, Hashable {
    public var jobs: [Job]
    /// When a claim could next find work that is not there now: the earliest time a scheduled
    /// or retryable job comes due, or a running job's lease expires. `nil` when none will.
    public var nextWakeup: Date?
    /// The store's time at the claim: `nextWakeup` is by the store's clock (on PostgreSQL the
    /// server's), which the worker's host may not share.
    public var at: Date
    /// The ids of the request's finishes that applied; a missing one had lost its lease.
    public var finished: Set<Int64>
    /// When the store read `at`, by this process's monotonic clock: the claimed attempts'
    /// timeouts count from there, as their started events show, however long the claim had
    /// waited for the database before.
    public var readAt: ContinuousClock.Instant

    public init(jobs: [Job], nextWakeup: Date?, at: Date, readAt: ContinuousClock.Instant, finished: Set<Int64> = []) {
        self.jobs = jobs
        self.nextWakeup = nextWakeup
        self.at = at
        self.finished = finished
        self.readAt = readAt
    }

    /// How long after the claim `nextWakeup` comes, by the store's clock.
    public var untilWakeup: Duration? {
        nextWakeup.map { .milliseconds(max($0.ms - at.ms, 0)) }
    }
}

public struct LeaseRenewal: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var id: Int64
        public var attempt: Int
        public var progress: JSONValue?

        public init(id: Int64, attempt: Int, progress: JSONValue? = nil) {
            self.id = id
            self.attempt = attempt
            self.progress = progress
        }
    }

    public var owner: String
    public var lease: Duration
    public var jobs: [Entry]

    public init(owner: String, lease: Duration, jobs: [Entry]) {
        self.owner = owner
        self.lease = lease
        self.jobs = jobs
    }
}

public enum LeaseStatus: Sendable, Hashable {
    /// The lease was renewed.
    case held
    /// The lease was renewed, and a user asked the job to stop.
    case cancelRequested
    /// The job is no longer this worker's: stop it and do not finish it.
    case lost
}

/// How one attempt ended, as the worker reports it.
public enum JobOutcome: Sendable, Hashable {
    /// The handler returned.
    case completed(result: JSONValue?)
    /// The handler threw: retry after the job's backoff, or discard when attempts are spent.
    case failed(error: String)
    /// The handler threw a permanent error: discard now.
    case discarded(error: String)
    /// The handler asked to run again after `delay`, without spending an attempt.
    case snoozed(delay: Duration)
    /// The worker shut down before the job finished: available again, attempt not spent.
    case released
    /// The job stopped because a user cancelled it.
    case cancelled
}

public struct JobFinish: Sendable, Hashable {
    public var id: Int64
    public var attempt: Int
    public var owner: String
    public var outcome: JobOutcome
    /// The attempt's last progress, if it reported any: written with the finish, since the
    /// heartbeat that would have written it may come after the job has ended.
    public var progress: JSONValue?

    public init(id: Int64, attempt: Int, owner: String, outcome: JobOutcome, progress: JSONValue? = nil) {
        self.id = id
        self.attempt = attempt
        self.owner = owner
        self.outcome = outcome
        self.progress = progress
    }
}

public enum CancelResult: Sendable, Hashable {
    case cancelled
    /// Running: its worker stops it as soon as it sees the request.
    case requested
    /// Already final: nothing changed.
    case alreadyFinal(JobState)
    case notFound
}

extension CancelResult {
    /// How the CLI's `--json` and the API name what was done; `nil` for a refusal.
    public var reported: String? {
        switch self {
        case .cancelled: "cancelled"
        case .requested: "requested"
        case .alreadyFinal(.cancelled): "already cancelled"
        case .alreadyFinal, .notFound: nil
        }
    }

    /// The refusal of a cancel of jobs that finished otherwise, each with its state, as the
    /// CLI and the API say it.
    public static func refusal(_ finished: [(id: Int64, state: JobState)]) -> String {
        finished.map { "job \($0.id) is already \($0.state.rawValue)" }.joined(separator: "; ") + ": only waiting or running jobs can be cancelled"
    }
}

public struct PruneResult: Sendable, Hashable {
    public var jobs: Int
    public var events: Int

    public init(jobs: Int, events: Int) {
        self.jobs = jobs
        self.events = events
    }

    /// The `pruned` event of a worker's deletions past the queues' retention, one per write
    /// (each commits with its event): what went, and from which queues.
    public func retentionEventData(queues: some Sequence<String>) -> JSONValue {
        ["jobs": .int(Int64(jobs)), "events": .int(Int64(events)), "queues": .array(Set(queues).sorted().map(JSONValue.string))]
    }

    /// The `pruned` event of `jobs prune`: what went, and the cutoff it was older than.
    public func cutoffEventData(before: Date) -> JSONValue {
        ["jobs": .int(Int64(jobs)), "events": .int(Int64(events)), "before": .string(LifelineJSON.formatTime(before))]
    }
}

/// A change to a queue's settings; `nil` fields stay as they are.
public struct QueueUpdate: Sendable, Hashable {
    /// At most this many running at once; `.some(nil)` removes the limit.
    public var limit: Int??
    public var paused: Bool?
    /// How long completed jobs are kept; zero keeps them forever.
    public var retainCompleted: Duration?
    /// How long discarded and cancelled jobs are kept; zero keeps them forever.
    public var retainFailed: Duration?

    public init(limit: Int?? = nil, paused: Bool? = nil, retainCompleted: Duration? = nil, retainFailed: Duration? = nil) {
        self.limit = limit
        self.paused = paused
        self.retainCompleted = retainCompleted
        self.retainFailed = retainFailed
    }
}

/// A store that could not answer in time for a reason an operator can act on, such as another
/// process holding the database's writer lock: said as it is (it names no secret), where the
/// API keeps other store failures to its log.
public protocol StoreBusy: Error, CustomStringConvertible {}

/// An error that running the same transaction again may clear: PostgreSQL rolls back one of
/// two transactions that wait on each other (a deadlock) or could not both stand (a
/// serialization failure).
public protocol TransactionConflict: Error {
    var isConflict: Bool { get }
}

public enum JobStoreError: Error, Hashable, CustomStringConvertible {
    case idempotencyConflict(key: String, existing: Int64)
    /// The key is another request's, named as its user made it (`failback of web-1`).
    case keyTaken(key: String, existing: Int64, by: String)
    case unknownQueue(String, known: [String])

    public var description: String {
        switch self {
        case .idempotencyConflict(let key, let existing):
            "idempotency key '\(key)' belongs to job \(existing) with another kind or args"
        case .keyTaken(let key, let existing, let request):
            "idempotency key '\(key)' belongs to \(request) (job \(existing))"
        case .unknownQueue(let name, let known):
            "no queue '\(name)'; \(EditDistance.didYouMean(name, among: known).map { $0 + " " } ?? "")"
                + "known queues: \(known.isEmpty ? "none yet" : known.joined(separator: ", "))"
        }
    }
}
