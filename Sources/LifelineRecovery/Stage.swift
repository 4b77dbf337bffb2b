import LifelineQueue

/// The long, failure-prone steps of the lifecycle. Each runs as a job of its own kind on its
/// own queue, so limits such as "5 VM creations at once" apply per stage.
public enum Stage: String, Sendable, Codable, CaseIterable {
    /// Prepares the server: its machine's recovery points exist.
    case create
    /// Mounts the recovery point and starts the VM from it.
    case startVM = "start-vm"
    /// Switches the workload from the original machine to the recovery server.
    case switchWorkload = "switch-workload"
    /// Copies the disks from the mounted recovery point to high-performance storage.
    case finalize
    /// Switches the workload back, stops and deletes the VM and its disks.
    case cancelFailover = "cancel-failover"
    /// Powers the VM off and backs its disks up to cloud storage.
    case backup
    /// Releases the server's cloud resources after a confirmed failback.
    case release
    /// Powers the VM on again.
    case powerOn = "power-on"
    /// Creates a temporary VM from a recovery point in an isolated network.
    case startTest = "start-test"
    /// Deletes the temporary VM and its changes.
    case stopTest = "stop-test"
    /// Removes the server's files.
    case delete

    /// The job kind that runs the stage. Persisted: never renamed.
    public var kind: String { "recovery.\(rawValue)" }

    public init?(kind: String) {
        guard kind.hasPrefix("recovery.") else { return nil }
        self.init(rawValue: String(kind.dropFirst("recovery.".count)))
    }

    /// The stage's queue, under `recovery.` so that no queue of other jobs shares it (a bulk
    /// retry of queue `backup` never touches recovery backups).
    public var queue: String {
        let group = switch self {
        case .create: "provision"
        case .startVM, .powerOn, .startTest: "vm"
        case .switchWorkload: "network"
        case .finalize: "finalize"
        case .backup: "backup"
        case .cancelFailover, .release, .stopTest, .delete: "cleanup"
        }
        return "recovery.\(group)"
    }

    /// Whether `queue` is a stage's: known before its first job, as the lifecycle fills it.
    public static func isQueue(_ queue: String) -> Bool {
        allCases.contains { $0.queue == queue }
    }

    /// The queues a store knows (`stored`, with jobs or settings) and the stages' queues,
    /// sorted: what a name that is neither is told it may have meant.
    public static func knownQueues(_ stored: [String]) -> [String] {
        Set(stored + allCases.map(\.queue)).sorted()
    }

    /// A store's refusal of an unknown queue, naming the stages' queues among the known: the
    /// store knows only the queues it has seen. What the CLI and the API say.
    public static func unknownQueue(_ name: String, storeKnows known: [String]) -> JobStoreError {
        .unknownQueue(name, known: knownQueues(known))
    }

    /// The transitional state the stage runs in.
    public var state: ServerState {
        switch self {
        case .create: .creating
        case .startVM, .switchWorkload: .startingFailover
        case .finalize: .finalization
        case .cancelFailover: .cancellingFailover
        case .backup: .failingBack
        case .release: .releasingResources
        case .powerOn: .cancellingFailback
        case .startTest: .startingTest
        case .stopTest: .stoppingTest
        case .delete: .deleting
        }
    }

    /// Cleanup stages never give up: leaked cloud resources cost real money. They retry with
    /// capped backoff until they succeed.
    public var isCleanup: Bool {
        switch self {
        case .cancelFailover, .release, .powerOn, .stopTest, .delete: true
        case .create, .startVM, .switchWorkload, .finalize, .backup, .startTest: false
        }
    }
}
