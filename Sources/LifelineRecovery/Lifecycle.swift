/// The recovery-server lifecycle as a pure value: a state, the job of the operation in
/// progress, and a function from events to effects. No database, no clock, no I/O; the
/// caller persists the result and carries out the effects in one transaction.
public struct Lifecycle: Sendable, Hashable {
    public private(set) var state: ServerState
    /// The stage job of the operation in progress; events of other jobs are late or
    /// duplicates and change nothing.
    public private(set) var currentJob: Int64?
    /// The stage of the operation in progress.
    public private(set) var currentStage: Stage?
    public private(set) var lastError: String?

    public init(state: ServerState, currentJob: Int64? = nil, currentStage: Stage? = nil, lastError: String? = nil) {
        self.state = state
        self.currentJob = currentJob
        self.currentStage = currentStage
        self.lastError = lastError
    }

    /// A new server: being created, its create stage to run.
    public static func creating() -> (Lifecycle, [LifecycleEffect]) {
        (Lifecycle(state: .creating, currentStage: .create), [.enqueue(.create, after: nil)])
    }

    public var isResting: Bool { state.isResting }

    /// Records the job the caller enqueued for the `.enqueue` effect.
    public mutating func started(job: Int64) {
        currentJob = job
    }

    public mutating func handle(_ event: LifecycleEvent) throws(LifecycleError) -> [LifecycleEffect] {
        switch event {
        case .action(let action):
            guard let (next, stage) = Self.target(of: action, from: state) else {
                throw .refused(action: action, state: state, allowed: state.allowedActions, busyJob: state.isResting ? nil : currentJob)
            }
            // Stopping a finalization in progress: its late completion will be ignored, and
            // the stage that undoes it waits until it has stopped.
            let stopped = state == .finalization ? currentJob : nil
            lastError = nil
            return (stopped.map { [LifecycleEffect.cancelJob($0)] } ?? []) + run(stage, in: next, after: stopped)
        case .stage(let stage, let outcome, let job):
            guard job == currentJob else { return [.ignore(reason: "job \(job) is not the server's current operation")] }
            guard stage == currentStage, state == stage.state else { throw .unexpected(stage: stage, state: state) }
            return after(stage, outcome)
        }
    }

    /// Where an action leads from a state, and the stage it runs there; `nil` when the state
    /// does not allow it. This table is the one source of ``ServerState/allowedActions``.
    static func target(of action: ServerAction, from state: ServerState) -> (ServerState, Stage)? {
        switch action {
        case .failover: state == .standby ? (.startingFailover, .startVM) : nil
        case .testFailover: state == .standby ? (.startingTest, .startTest) : nil
        case .delete: state == .standby ? (.deleting, .delete) : nil
        case .cancelFailover:
            [.finalization, .finalizationFailed, .failover].contains(state) ? (.cancellingFailover, .cancelFailover) : nil
        case .retry: state == .finalizationFailed ? (.finalization, .finalize) : nil
        case .failback: state == .failover ? (.failingBack, .backup) : nil
        case .confirmFailback: state == .readyForFailback ? (.releasingResources, .release) : nil
        case .cancelFailback: state == .readyForFailback ? (.cancellingFailback, .powerOn) : nil
        case .stopTest: state == .testingFailover ? (.stoppingTest, .stopTest) : nil
        }
    }

    private mutating func after(_ stage: Stage, _ outcome: StageOutcome) -> [LifecycleEffect] {
        let succeeded: Bool
        switch outcome {
        case .succeeded:
            succeeded = true
            // A cleanup that failed, ran again and succeeded is no longer what went wrong.
            if stage.isCleanup, lastError?.hasPrefix("\(stage.rawValue): ") == true { lastError = nil }
        case .failed(let error):
            succeeded = false
            // A cleanup stage never gives up, even if its job was discarded or cancelled. What
            // made it necessary (a stage that failed) stays the server's last error; its own
            // failures are its job's.
            if stage.isCleanup {
                lastError = lastError ?? "\(stage.rawValue): \(error)"
                return run(stage, in: state)
            }
            lastError = "\(stage.rawValue): \(error)"
        }
        switch stage {
        case .create: return succeeded ? rest(.standby) : [.removeServer]
        case .startVM: return succeeded ? run(.switchWorkload, in: .startingFailover) : run(.cancelFailover, in: .cancellingFailover)
        case .switchWorkload: return succeeded ? run(.finalize, in: .finalization) : run(.cancelFailover, in: .cancellingFailover)
        case .finalize: return succeeded ? rest(.failover) : rest(.finalizationFailed)
        // The VM was powered off for the backup: power it on again and go back to failover.
        case .backup: return succeeded ? rest(.readyForFailback) : run(.powerOn, in: .cancellingFailback)
        case .startTest: return succeeded ? rest(.testingFailover) : run(.stopTest, in: .stoppingTest)
        case .cancelFailover, .release, .stopTest: return rest(.standby)
        case .powerOn: return rest(.failover)
        case .delete: return [.removeServer]
        }
    }

    private mutating func run(_ stage: Stage, in next: ServerState, after: Int64? = nil) -> [LifecycleEffect] {
        state = next
        currentJob = nil
        currentStage = stage
        return [.enqueue(stage, after: after)]
    }

    private mutating func rest(_ next: ServerState) -> [LifecycleEffect] {
        state = next
        currentJob = nil
        currentStage = nil
        return []
    }
}

public enum LifecycleEvent: Sendable, Hashable {
    case action(ServerAction)
    /// A stage job finished: succeeded, or failed for good (discarded or cancelled).
    case stage(Stage, StageOutcome, job: Int64)
}

public enum StageOutcome: Sendable, Hashable {
    case succeeded
    case failed(String)
}

/// What the caller must do, in the same transaction as saving the new state.
public enum LifecycleEffect: Sendable, Hashable {
    /// Enqueue the stage's job, then report its id with ``Lifecycle/started(job:)``. The job
    /// acts only once job `after` has stopped running (the copy it undoes), whatever order
    /// the effects are carried out in.
    case enqueue(Stage, after: Int64?)
    /// Cancel the job: it runs a stage that no longer matters.
    case cancelJob(Int64)
    /// The server is gone (deleted, or its creation failed); its history stays.
    case removeServer
    /// The event is recorded but changes nothing.
    case ignore(reason: String)
}

public enum LifecycleError: Error, Hashable, CustomStringConvertible {
    /// The action is not allowed in this state.
    case refused(action: ServerAction, state: ServerState, allowed: [ServerAction], busyJob: Int64?)
    /// The action would take over its machine's workload, which another server of the machine
    /// holds (or is taking over, or giving back); the server is in `own`, and allows `allowed`.
    case workloadHeld(action: ServerAction, machine: String, by: String, state: ServerState, own: ServerState, allowed: [ServerAction])
    /// A stage event that cannot happen in this state (persisted data disagrees with the
    /// machine): refused, nothing changes.
    case unexpected(stage: Stage, state: ServerState)

    public var description: String {
        switch self {
        case .refused(let action, let state, let allowed, let busyJob):
            let busy = busyJob.map { ", at work on job \($0)" } ?? ""
            return "cannot \(action.rawValue): the server is in \(state.rawValue)\(busy); allowed: \(Self.text(allowed))"
        case .workloadHeld(let action, let machine, let holder, let state, let own, let allowed):
            return "cannot \(action.rawValue): server \(holder) of machine \(machine) holds its workload (it is in \(state.rawValue)), and one server of a machine runs it at a time; this one is in \(own.rawValue); allowed: \(Self.text(allowed))"
        case .unexpected(let stage, let state):
            return "stage \(stage.rawValue) cannot finish while the server is in \(state.rawValue)"
        }
    }

    private static func text(_ allowed: [ServerAction]) -> String {
        allowed.isEmpty ? "none until it rests" : allowed.map(\.rawValue).joined(separator: ", ")
    }

    /// The refusal as the CLI and the API say it of server `name`: the lifecycle knows states,
    /// not names, and an operator acting on several servers needs to read which one refused.
    public func description(server name: String) -> String {
        "server \(name): \(description)"
    }
}
