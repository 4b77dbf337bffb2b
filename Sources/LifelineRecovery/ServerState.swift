/// The states of a recovery server. Resting states wait for a user; transitional states are
/// running a stage job. Persisted names never change.
public enum ServerState: String, Sendable, Codable, CaseIterable {
    case creating
    case standby
    case startingFailover = "starting_failover"
    case finalization
    case finalizationFailed = "finalization_failed"
    case failover
    case cancellingFailover = "cancelling_failover"
    case failingBack = "failing_back"
    case readyForFailback = "ready_for_failback"
    case releasingResources = "releasing_resources"
    case cancellingFailback = "cancelling_failback"
    case startingTest = "starting_test"
    case testingFailover = "testing_failover"
    case stoppingTest = "stopping_test"
    case deleting

    public var isResting: Bool {
        switch self {
        case .standby, .finalizationFailed, .failover, .readyForFailback, .testingFailover: true
        case .creating, .startingFailover, .finalization, .cancellingFailover, .failingBack, .releasingResources,
             .cancellingFailback, .startingTest, .stoppingTest, .deleting: false
        }
    }

    /// The actions a user may take in this state.
    public var allowedActions: [ServerAction] {
        ServerAction.allCases.filter { Lifecycle.target(of: $0, from: self) != nil }
    }

    /// The virtual machine's state, as the table in the design shows it; transitional states
    /// name the direction.
    public var vmState: String {
        switch self {
        case .creating, .standby, .deleting: "not_ready"
        case .startingFailover: "not_ready → running"
        case .finalization, .finalizationFailed, .failover: "running"
        case .cancellingFailover: "running → not_ready"
        case .failingBack: "running → stopped"
        case .readyForFailback: "stopped"
        case .releasingResources: "stopped → not_ready"
        case .cancellingFailback: "stopped → running"
        case .startingTest: "not_ready → running"
        case .testingFailover: "running (temporary)"
        case .stoppingTest: "running → not_ready"
        }
    }

    /// Whether the server holds its machine's workload, or is taking it over or giving it
    /// back: one server of a machine at a time may.
    public var holdsWorkload: Bool {
        workload != "original"
    }

    /// Where the protected workload runs.
    public var workload: String {
        switch self {
        case .creating, .standby, .startingTest, .testingFailover, .stoppingTest, .deleting: "original"
        case .startingFailover: "original → recovery"
        case .finalization, .finalizationFailed, .failover, .failingBack, .readyForFailback, .cancellingFailback: "recovery"
        case .cancellingFailover, .releasingResources: "recovery → original"
        }
    }
}

/// What a user can ask of a recovery server (besides creating it).
public enum ServerAction: String, Sendable, Codable, CaseIterable {
    case failover
    case testFailover = "test-failover"
    case cancelFailover = "cancel-failover"
    case failback
    case confirmFailback = "confirm-failback"
    case cancelFailback = "cancel-failback"
    case stopTest = "stop-test"
    case retry
    case delete

    /// Whether it starts a VM from a recovery point, which the request may name.
    public var takesRecoveryPoint: Bool { self == .failover || self == .testFailover }

    /// Where the action means to take the server: `nil` for delete, which removes it. A
    /// server that comes to rest anywhere else did not get there (a stage failed).
    public var goal: ServerState? {
        switch self {
        case .failover, .retry, .cancelFailback: .failover
        case .testFailover: .testingFailover
        case .cancelFailover, .confirmFailback, .stopTest: .standby
        case .failback: .readyForFailback
        case .delete: nil
        }
    }
}
