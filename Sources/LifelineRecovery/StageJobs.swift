import Foundation
import LifelineQueue
import Synchronization

/// The arguments of every stage job: what its infrastructure call needs, and the action
/// that started its operation (for idempotency keys).
public struct StageArgs: JobArgs, Hashable {
    public var server: String
    public var machine: String
    public var disks: Int
    public var diskSize: Int64
    public var recoveryPoint: String?
    public var action: String
    /// A job that must stop running before this stage acts (a cancelled finalization).
    public var afterJob: Int64?

    enum CodingKeys: String, CodingKey {
        case server, machine, disks, action
        case diskSize = "disk_size"
        case recoveryPoint = "recovery_point"
        case afterJob = "after_job"
    }

    public func validate() throws(JobInputError) {
        try ServerNames.check(server)
        try ServerNames.check(machine, what: "machine name")
    }
}

/// How stage jobs are made and run.
public enum StageJobs {
    /// The job that runs `stage` for a server; `action` is what started the operation.
    public static func newJob(
        _ stage: Stage, server: ServerInfo, action: String, recoveryPoint: String?, afterJob: Int64?, idempotencyKey: String?
    ) throws -> NewJob {
        let args = StageArgs(
            server: server.name, machine: server.machine, disks: server.disks, diskSize: server.diskSize,
            recoveryPoint: recoveryPoint, action: action, afterJob: afterJob
        )
        let defaults = defaults(for: stage)
        return NewJob(
            kind: stage.kind, args: try JSONValue(encoding: args), queue: defaults.queue, priority: defaults.priority,
            maxAttempts: defaults.maxAttempts, timeout: defaults.timeout, backoff: defaults.backoff,
            idempotencyKey: idempotencyKey, server: server.name
        )
    }

    static func defaults(for stage: Stage) -> JobDefaults {
        if stage.isCleanup {
            // Never give up; back off to at most 30 s between tries.
            return JobDefaults(queue: stage.queue, priority: 1, maxAttempts: JobLimits.maxAttempts.upperBound,
                               timeout: .seconds(600), backoff: Backoff(base: .seconds(1), cap: .seconds(30)))
        }
        // A worker lost to a crash costs an attempt too: five give room for that, and a stage
        // that truly fails (or throws a permanent error) still ends within a minute or so.
        let long = stage == .finalize || stage == .backup
        return JobDefaults(queue: stage.queue, priority: 2, maxAttempts: 5, timeout: long ? .seconds(6 * 3600) : .seconds(600),
                           backoff: Backoff(base: .milliseconds(500), cap: .seconds(10)))
    }

    /// Whether a job is a stage job that a retry would take, which only its server's action
    /// may retry: run outside its server's operation, it would act on a server that has moved
    /// on (start a VM for a server in standby). False for any other job, and for one no retry
    /// would take (completed, available or running), which is refused as any such job is.
    public static func retriedByItsServer(_ job: Job) -> Bool {
        Stage(kind: job.kind) != nil && job.state.isRetriable
    }

    /// Why such a job is not retried on its own, and what would retry it, its server read as it
    /// is now: the action, when the server allows it now, else what it allows. `nil` for any
    /// job ``retriedByItsServer(_:)`` lets through.
    public static func retryRefusal(_ job: Job, in servers: any ServerStore) async throws -> String? {
        guard retriedByItsServer(job), let stage = Stage(kind: job.kind) else { return nil }
        let name = job.server ?? job.args["server"]?.stringValue ?? "?"
        let what = "job \(job.id) is the \(stage.rawValue) stage of server '\(name)'; "
        guard let server = try await servers.serverGet(name) else { return what + "the server is gone, and nothing retries its stages" }
        let action = stage == .finalize ? "retry" : job.args["action"]?.stringValue ?? "retry"
        let allowed = server.allowedActions
        if let asked = ServerAction(rawValue: action), allowed.contains(asked) {
            return what + "its server retries it: lifeline server \(action) \(name)"
        }
        return what + "its server's actions retry stages, and it is in \(server.state.rawValue) now, allowing "
            + (allowed.isEmpty ? "nothing until its operation ends" : allowed.map(\.rawValue).joined(separator: ", "))
    }

    /// How long a cleanup waits before it looks again at the stage it stopped: half a second
    /// at first, as a stage stops within one; longer the longer it has waited (its worker died,
    /// and the stage goes on only when its lease runs out), up to 5 s, so a long wait does not
    /// fill the job's timeline with a `snoozed` twice a second.
    static func waitDelay(since enqueued: Date, now: Date = Date()) -> Duration {
        let waited = Duration.milliseconds(max(now.ms - enqueued.ms, 0))
        return min(max(waited / 4, .milliseconds(500)), .seconds(5))
    }

    /// Why a cancel of a cleanup stage's job is refused: a cleanup runs until it succeeds, so
    /// its server would start it again at once. `nil` for any other job.
    public static func cancelRefusal(_ job: Job) -> String? {
        guard let stage = Stage(kind: job.kind), stage.isCleanup, !job.state.isFinal else { return nil }
        let name = job.server ?? job.args["server"]?.stringValue ?? "?"
        return "job \(job.id) is the \(stage.rawValue) cleanup of server '\(name)', which runs until it succeeds: a cancel would only start it again"
    }

    /// Registers a job kind per stage, each running its stage on the infrastructure, which is
    /// asked for only when a stage runs (a process that only enqueues never builds it).
    /// `jobState` tells whether a job is still running, so a cleanup never races the stage
    /// it stopped; `currentJob` names a server's current operation, so a stage job that is
    /// not it (retried by hand, or late) does nothing.
    public static func register(
        in registry: inout JobRegistry, infrastructure: @escaping @Sendable () throws -> any Infrastructure,
        jobState: @escaping @Sendable (Int64) async throws -> JobState?,
        currentJob: @escaping @Sendable (_ server: String) async throws -> Int64?
    ) {
        for stage in Stage.allCases {
            let owner = "the actions of recovery servers (lifeline server ACTION NAME)"
            registry.register(JobDefinition(kind: stage.kind, args: StageArgs.self, defaults: defaults(for: stage), enqueuedOnlyBy: owner) { args, context in
                // Completing without acting: the lifecycle records the completion as ignored.
                guard try await currentJob(args.server) == context.job.id else {
                    return ["ignored": .string("not the current operation of server \(args.server)")]
                }
                if let after = args.afterJob, try await jobState(after) == .running {
                    throw JobFailure.retryAfter(waitDelay(since: context.job.createdAt))
                }
                let request = StageRequest(
                    stage: stage, server: args.server, machine: args.machine, disks: args.disks, diskSize: args.diskSize,
                    recoveryPoint: args.recoveryPoint, job: context.job.id, attempt: context.job.attempt
                )
                // A permanent failure ends the stage, but for a cleanup's: it never gives up,
                // and is retried as any failure is, with its job's backoff.
                do {
                    let rate = Mutex(ProgressRate())
                    let result = try await infrastructure().perform(request) { progress in
                        var measured = progress
                        measured.rate = rate.withLock { rate in
                            rate.add(progress.done)
                            return rate.perSecond.map { Int64(min($0, 9e18)) }
                        }
                        context.report(progress: measured.json)
                    }
                    CrashPoint.check("stage.after-effect")
                    return result
                } catch let failure as PermanentStageFailure {
                    guard stage.isCleanup else { throw JobFailure.permanent(failure.description) }
                    throw StageCheckFailure(message: "\(stage.rawValue) never gives up, so it is retried: \(failure.description)")
                }
            })
        }
    }
}
