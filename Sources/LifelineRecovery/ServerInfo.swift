import Foundation
import LifelineQueue

/// A recovery server as stored and shown.
public struct ServerInfo: Sendable, Hashable {
    public var name: String
    public var machine: String
    public var disks: Int
    public var diskSize: Int64
    public var lifecycle: Lifecycle
    public var recoveryPoint: String?
    /// The current operation's job, when there is one: its state, progress, and the error of
    /// its last failed attempt (why a stage that retries does).
    public var currentJobState: JobState?
    public var progress: JSONValue?
    public var currentJobError: String?
    /// The running job's lease: who holds it and until when (a worker that died holds it
    /// until a claim takes the job back).
    public var currentJobLease: (owner: String, expiresAt: Date)? {
        get { leaseOwner.flatMap { owner in leaseExpiresAt.map { (owner, $0) } } }
        set { (leaseOwner, leaseExpiresAt) = (newValue?.owner, newValue?.expiresAt) }
    }
    private var leaseOwner: String?
    private var leaseExpiresAt: Date?
    public var lastTest: LastTest?
    /// When the server last moved (its last transition's time, by the store's clock).
    public var stateSince: Date?
    /// Another server of the machine that holds its workload, if one does: this one's failover
    /// waits until it gives it back.
    public var workloadHolder: WorkloadHolder?
    /// When the store read the server, by its clock.
    public var readAt: Date?

    public struct WorkloadHolder: Sendable, Hashable {
        public var name: String
        public var state: ServerState

        public init(name: String, state: ServerState) {
            self.name = name
            self.state = state
        }
    }

    /// The columns a store's server query adds, as `holder_name` and `holder_state`, for
    /// ``workloadHolder``: the same SQL on SQLite and PostgreSQL, its server row named `s`.
    public static let workloadHolderColumns: String = {
        let holding = ServerState.allCases.filter(\.holdsWorkload).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let other = "FROM servers o WHERE o.machine = s.machine AND o.name <> s.name AND o.state IN (\(holding)) ORDER BY o.name LIMIT 1"
        return "(SELECT o.name \(other)) AS holder_name, (SELECT o.state \(other)) AS holder_state"
    }()

    public struct LastTest: Sendable, Hashable, Encodable {
        public var at: Date
        public var result: String

        public init(at: Date, result: String) {
            self.at = at
            self.result = result
        }
    }

    public init(
        name: String, machine: String, disks: Int, diskSize: Int64, lifecycle: Lifecycle, recoveryPoint: String?,
        currentJobState: JobState?, progress: JSONValue?, currentJobError: String? = nil,
        currentJobLease: (owner: String, expiresAt: Date)? = nil, lastTest: LastTest?, workloadHolder: WorkloadHolder? = nil,
        stateSince: Date? = nil
    ) {
        self.name = name
        self.machine = machine
        self.disks = disks
        self.diskSize = diskSize
        self.lifecycle = lifecycle
        self.recoveryPoint = recoveryPoint
        self.currentJobState = currentJobState
        self.progress = progress
        self.currentJobError = currentJobError
        self.lastTest = lastTest
        self.currentJobLease = currentJobLease
        self.workloadHolder = workloadHolder
        self.stateSince = stateSince
    }

    public var state: ServerState { lifecycle.state }

    /// The actions the server takes now: its state's, but a failover while another server of
    /// its machine holds the workload.
    public var allowedActions: [ServerAction] {
        workloadHolder == nil ? state.allowedActions : state.allowedActions.filter { $0 != .failover }
    }

    /// What went wrong last, as `last_error` shows it: the failure the lifecycle keeps (a stage
    /// that failed, which a cleanup may be running for), else why the current stage's last
    /// attempt failed while it retries, until it succeeds. A cleanup retries for as long as it
    /// takes; a server that keeps failing to clean up shows why, not nothing.
    public var lastError: String? {
        if let kept = lifecycle.lastError { return kept }
        guard let stage = lifecycle.currentStage, let error = currentJobError else { return nil }
        return "\(stage.rawValue): \(error)"
    }

    /// When the running job's lease ran out, if it had when the store read the server: its
    /// worker stopped renewing it (it died, is stopped, or cannot write), and nothing moves the
    /// server until a worker's next claim takes the job back. By the store's clock (on
    /// PostgreSQL the server's), which the reader's host may not share.
    public var stalledSince: Date? {
        guard currentJobState == .running, let lease = currentJobLease, lease.expiresAt < readAt ?? Date() else { return nil }
        return lease.expiresAt
    }

    /// The server as read by a store at `now`, its time.
    public func read(at now: Date) -> ServerInfo {
        var read = self
        read.readAt = now
        return read
    }

    /// The current operation's progress, when its job reported a measurable one; its rate only
    /// while a worker runs it: a stage that waits to retry, or whose worker stopped, moves at none.
    public var stageProgress: StageProgress? {
        guard lifecycle.currentJob != nil, let done = progress?["done"]?.intValue, let total = progress?["total"]?.intValue,
              total > 0
        else { return nil }
        let moving = currentJobState == .running && stalledSince == nil
        return StageProgress(
            done: done, total: total, detail: progress?["detail"]?.stringValue ?? "", rate: moving ? progress?["rate"]?.intValue : nil
        )
    }
}

extension ServerInfo: Encodable {
    enum CodingKeys: String, CodingKey {
        case name, machine, state, workload, progress, disks
        case vmState = "vm_state"
        case recoveryPoint = "recovery_point"
        case allowedActions = "allowed_actions"
        case whyNot = "why_not"
        case currentJob = "current_job"
        case currentStage = "current_stage"
        case currentJobState = "current_job_state"
        case currentJobError = "current_job_error"
        case stalledSince = "stalled_since"
        case lastError = "last_error"
        case lastTest = "last_test"
        case diskSize = "disk_size"
    }

    /// The JSON shape of the CLI contract, with a few fields more.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(machine, forKey: .machine)
        try container.encode(state, forKey: .state)
        try container.encode(state.vmState, forKey: .vmState)
        try container.encode(state.workload, forKey: .workload)
        try container.encode(recoveryPoint, forKey: .recoveryPoint)
        try container.encode(allowedActions.map(\.rawValue), forKey: .allowedActions)
        try container.encode(Dictionary(uniqueKeysWithValues: refusals.map { ($0.action.rawValue, $0.reason) }), forKey: .whyNot)
        try container.encode(lifecycle.currentJob, forKey: .currentJob)
        try container.encode(lifecycle.currentStage, forKey: .currentStage)
        try container.encode(currentJobState, forKey: .currentJobState)
        try container.encode(currentJobError, forKey: .currentJobError)
        // When the current job's lease ran out unrenewed: its worker is gone or stopped.
        try container.encode(stalledSince.map(LifelineJSON.formatTime), forKey: .stalledSince)
        try container.encode(progress, forKey: .progress)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(lastTest, forKey: .lastTest)
        try container.encode(disks, forKey: .disks)
        try container.encode(diskSize, forKey: .diskSize)
    }
}

/// One recorded move of a server: `lifeline server history`.
public struct ServerTransition: Sendable, Hashable, Encodable {
    public var at: Date
    public var from: ServerState?
    public var to: ServerState?
    public var cause: String
    public var job: Int64?

    public init(at: Date, from: ServerState?, to: ServerState?, cause: String, job: Int64?) {
        self.at = at
        self.from = from
        self.to = to
        self.cause = cause
        self.job = job
    }

    enum CodingKeys: String, CodingKey { case at, from, to, cause, job }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(at, forKey: .at)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(cause, forKey: .cause)
        try container.encode(job, forKey: .job)
    }
}

/// The answer to an action: the stage job it started (or the one its idempotency key
/// already had), and the server as it is now.
public struct ActionResult: Sendable, Hashable, Encodable {
    public var job: Int64
    public var existing: Bool
    public var server: ServerInfo?
    /// A request replayed under its key whose server was removed since, and the name given to
    /// a server that exists now: `server` is that one, which the request never touched.
    public var serverReplaced: Bool

    public init(job: Int64, existing: Bool, server: ServerInfo?, serverReplaced: Bool = false) {
        self.job = job
        self.existing = existing
        self.server = server
        self.serverReplaced = serverReplaced
    }

    /// `server` is null once the server is gone (a delete waited for): the shape stays the same.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job, forKey: .job)
        try container.encode(existing, forKey: .existing)
        try container.encode(server, forKey: .server)
    }

    private enum CodingKeys: String, CodingKey { case job, existing, server }
}

/// What a new server is made of.
public struct ServerSpec: Sendable, Hashable {
    public var name: String
    public var machine: String
    public var disks: Int
    public var diskSize: Int64

    public init(name: String, machine: String, disks: Int, diskSize: Int64) {
        self.name = name
        self.machine = machine
        self.disks = disks
        self.diskSize = diskSize
    }
}

public enum ServerStoreError: Error, Hashable, CustomStringConvertible {
    case notFound(String)
    case exists(String)

    public var description: String {
        switch self {
        case .notFound(let name): "no server '\(name)'"
        case .exists(let name): "server '\(name)' already exists"
        }
    }
}

/// Storage of recovery servers. An action is checked, applied, recorded and its stage job
/// enqueued in one transaction; a stage job's completion moves its server in the
/// transaction that completes it.
public protocol ServerStore: Sendable {
    func serverCreate(_ spec: ServerSpec, idempotencyKey: String?) async throws -> ActionResult
    func serverAct(_ name: String, action: ServerAction, recoveryPoint: String?, idempotencyKey: String?) async throws -> ActionResult
    func serverGet(_ name: String) async throws -> ServerInfo?
    func serverList() async throws -> [ServerInfo]
    func serverHistory(_ name: String) async throws -> [ServerTransition]
}
