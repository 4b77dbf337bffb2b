import Foundation
import LifelineQueue

/// Moving a queue from one store to another (`lifeline store copy`): every job, event, server,
/// transition and queue setting, with its id, so job and event numbers mean the same after the
/// move. Each store reads and writes its own rows; the order and the checks are here, once.
public protocol CopySource: Sendable {
    func copyCounts() async throws -> CopyCounts
    /// The largest job id the source has given, pruned jobs' included: the target never gives
    /// it again (a stage's fence is its job's id).
    func copyJobIDFloor() async throws -> Int64
    /// Queue settings, servers and transitions: the small tables, whole.
    func copySettingsAndServers() async throws -> CopyBatch
    /// Up to `limit` jobs with ids above `after`, by id.
    func copyJobs(after: Int64, limit: Int) async throws -> [Job]
    /// Up to `limit` events with numbers above `after`, in order.
    func copyEvents(after: Int64, limit: Int) async throws -> [JobEvent]
}

/// Where a copy goes. It keeps all of a copy or none of it: nothing written shows at the
/// target until ``copyCommit()``, and nothing is left after ``copyAbandon()`` or a crash.
public protocol CopyTarget: Sendable {
    /// Counts what the target holds, the copy's rows so far included.
    func copyCounts() async throws -> CopyCounts
    /// Inserts the rows as they are, ids included.
    func copyInsert(_ batch: CopyBatch) async throws
    /// After the last insert: new rows are numbered after the copied ones, and new jobs after
    /// `jobIDFloor` too.
    func copyFinish(jobIDFloor: Int64) async throws
    /// Makes the copy the target's queue.
    func copyCommit() async throws
    /// Drops everything the copy wrote.
    func copyAbandon() async
}

public struct CopyCounts: Sendable, Hashable, CustomStringConvertible, Encodable {
    public var jobs: Int
    public var events: Int
    public var servers: Int
    public var transitions: Int
    public var queues: Int

    public init(jobs: Int, events: Int, servers: Int, transitions: Int, queues: Int) {
        self.jobs = jobs
        self.events = events
        self.servers = servers
        self.transitions = transitions
        self.queues = queues
    }

    public var description: String {
        [(jobs, "job"), (events, "event"), (servers, "server"), (transitions, "transition"), (queues, "queue")]
            .map { count, noun in "\(count) \(noun)\(count == 1 ? "" : "s")" }.joined(separator: ", ")
    }
}

public struct CopyBatch: Sendable {
    public var queues: [QueueRecord] = []
    public var servers: [ServerRecord] = []
    public var transitions: [TransitionRecord] = []
    public var jobs: [Job] = []
    public var events: [JobEvent] = []

    public init(queues: [QueueRecord] = [], servers: [ServerRecord] = [], transitions: [TransitionRecord] = [], jobs: [Job] = [], events: [JobEvent] = []) {
        self.queues = queues
        self.servers = servers
        self.transitions = transitions
        self.jobs = jobs
        self.events = events
    }
}

/// A `servers` row as stored (times in milliseconds).
public struct ServerRecord: Sendable {
    public var name: String
    public var machine: String
    public var disks: Int
    public var diskSize: Int64
    public var state: String
    public var currentJob: Int64?
    public var recoveryPoint: String?
    public var lastError: String?
    public var lastTestAt: Int64?
    public var lastTestResult: String?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(
        name: String, machine: String, disks: Int, diskSize: Int64, state: String, currentJob: Int64?, recoveryPoint: String?, lastError: String?,
        lastTestAt: Int64?, lastTestResult: String?, createdAt: Int64, updatedAt: Int64
    ) {
        self.name = name
        self.machine = machine
        self.disks = disks
        self.diskSize = diskSize
        self.state = state
        self.currentJob = currentJob
        self.recoveryPoint = recoveryPoint
        self.lastError = lastError
        self.lastTestAt = lastTestAt
        self.lastTestResult = lastTestResult
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A `transitions` row as stored.
public struct TransitionRecord: Sendable {
    public var id: Int64
    public var server: String
    public var from: String?
    public var to: String?
    public var cause: String
    public var job: Int64?
    public var at: Int64

    public init(id: Int64, server: String, from: String?, to: String?, cause: String, job: Int64?, at: Int64) {
        self.id = id
        self.server = server
        self.from = from
        self.to = to
        self.cause = cause
        self.job = job
        self.at = at
    }
}

public enum StoreCopyError: Error, CustomStringConvertible {
    case targetNotEmpty(CopyCounts)
    /// A file target that exists: a copy makes a new file.
    case targetExists(path: String)
    case countsDiffer(expected: CopyCounts, copied: CopyCounts)
    /// Another copy is writing into the same target now.
    case targetBusy

    public var description: String {
        switch self {
        case .targetBusy: "another store copy is writing into the target now; it keeps all of its copy or none"
        case .targetNotEmpty(let counts): "the target already holds a queue (\(counts)); copy into an empty one"
        case .targetExists(let path): "\(path) already exists; copy into a new file"
        case .countsDiffer(let expected, let copied):
            "the copy holds \(copied), but the source held \(expected) when it began, so it was dropped and the target left as it was; "
                + "stop every worker and command writing to the source, then copy again"
        }
    }
}

public enum StoreCopy {
    /// Copies everything in batches of `batch` rows and checks the target's counts against
    /// the source's at the start; the target keeps the copy only if they match. A cancelled
    /// task stops the copy between batches, and the target keeps nothing.
    /// `progress` hears the jobs and events copied so far.
    public static func run(
        from source: any CopySource, to target: any CopyTarget, batch: Int = 2000, progress: (Int, Int) -> Void = { _, _ in }
    ) async throws -> CopyCounts {
        do {
            let copied = try await copy(from: source, to: target, batch: batch, progress: progress)
            try await target.copyCommit()
            return copied
        } catch {
            await target.copyAbandon()
            throw error
        }
    }

    private static func copy(
        from source: any CopySource, to target: any CopyTarget, batch: Int, progress: (Int, Int) -> Void
    ) async throws -> CopyCounts {
        let existing = try await target.copyCounts()
        // Queue settings alone (a pause, a limit) are a queue too: a copy would replace them.
        guard existing == CopyCounts(jobs: 0, events: 0, servers: 0, transitions: 0, queues: 0) else { throw StoreCopyError.targetNotEmpty(existing) }
        let expected = try await source.copyCounts()
        let jobIDFloor = try await source.copyJobIDFloor()
        try await target.copyInsert(source.copySettingsAndServers())
        var (jobs, events) = (0, 0)
        var after: Int64 = 0
        while case let rows = try await source.copyJobs(after: after, limit: batch), let last = rows.last {
            try Task.checkCancellation()
            try await target.copyInsert(CopyBatch(jobs: rows))
            after = last.id
            jobs += rows.count
            progress(jobs, events)
        }
        after = 0
        while case let rows = try await source.copyEvents(after: after, limit: batch), let last = rows.last {
            try Task.checkCancellation()
            try await target.copyInsert(CopyBatch(events: rows))
            after = last.seq
            events += rows.count
            progress(jobs, events)
        }
        try await target.copyFinish(jobIDFloor: jobIDFloor)
        let copied = try await target.copyCounts()
        guard copied == expected else { throw StoreCopyError.countsDiffer(expected: expected, copied: copied) }
        return copied
    }
}

/// A job's columns in the order stores list them (`id, queue, kind, args, … finished_at`), as
/// stored: times in milliseconds, JSON as text.
public struct JobRecord {
    public enum Value {
        case int(Int64)
        case double(Double)
        case text(String)
        case bool(Bool)
    }

    public let values: [Value?]

    public init(_ job: Job) throws {
        // Most jobs have none, and an encoder is dear to make and run.
        let errors = job.errors.isEmpty ? "[]" : String(decoding: try LifelineJSON.encoder().encode(job.errors), as: UTF8.self)
        values = [
            .int(job.id), .text(job.queue), .text(job.kind), .text(job.args.canonicalText), .text(job.state.rawValue), .int(Int64(job.priority)),
            .int(Int64(job.attempt)), .int(Int64(job.maxAttempts)), .int(job.timeout.milliseconds), .int(job.backoff.base.milliseconds),
            .int(job.backoff.cap.milliseconds), .double(job.backoff.jitter), .int(job.runAt.ms), job.leaseOwner.map { .text($0) },
            job.leaseExpiresAt.map { .int($0.ms) }, job.heartbeatAt.map { .int($0.ms) }, job.progress.map { .text($0.canonicalText) },
            job.result.map { .text($0.canonicalText) }, .text(errors), job.idempotencyKey.map { .text($0) }, job.server.map { .text($0) },
            .bool(job.cancelRequested), .int(job.createdAt.ms), job.attemptedAt.map { .int($0.ms) }, job.finishedAt.map { .int($0.ms) },
        ]
    }
}
