import Foundation
import Logging

public struct WorkerConfiguration: Sendable {
    /// The queues to serve, in order; empty serves every queue.
    public var queues: [String]
    /// Weights of the queues by name; empty takes them in order (see ``ClaimFill``).
    public var weights: [String: Int]
    /// Jobs run at once: in this process, or in all of a pool's processes, whose writer claims
    /// for every slot.
    public var concurrency: Int
    public var lease: Duration
    /// How long running jobs may take to finish after a shutdown request.
    public var grace: Duration
    /// Exit once the queues have nothing waiting or running.
    public var drain: Bool
    /// This process's name in leases and errors: host, pid and a random part.
    public var owner: String
    /// The longest wait without a wakeup, in case a change notification is missed.
    public var idleRecheck: Duration
    /// How long a handler may ignore its stop before it is reported (and, in a pool, its
    /// process killed), and how long a stopping worker waits for it.
    public var cancellationGrace: Duration
    /// How often finished jobs past their queue's retention are deleted; `nil` never.
    public var pruneInterval: Duration?
    /// Whether a store error says the database itself is damaged: no retry can work then, and
    /// the worker stops (see ``Worker/run()``).
    public var isDamage: @Sendable (any Error) -> Bool = { _ in false }
    /// Said beside the queues and concurrency when the worker starts: where its store is, and
    /// a pool's processes and slots in each, so that a worker started on the wrong queue shows
    /// it at once. A detail named as one of the worker's own is said instead of it.
    public var startDetails: Logger.Metadata = [:]

    public init(
        queues: [String] = [], weights: [String: Int] = [:], concurrency: Int = 10, lease: Duration = .seconds(30), grace: Duration = .seconds(30),
        drain: Bool = false, owner: String = WorkerConfiguration.defaultOwner(), idleRecheck: Duration = .seconds(30),
        cancellationGrace: Duration = .seconds(5), pruneInterval: Duration? = .seconds(600)
    ) {
        self.queues = queues
        self.weights = weights
        self.concurrency = concurrency
        self.lease = lease
        self.grace = grace
        self.drain = drain
        self.owner = owner
        self.idleRecheck = idleRecheck
        self.cancellationGrace = cancellationGrace
        self.pruneInterval = pruneInterval
    }

    public static func defaultOwner() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(host):\(ProcessInfo.processInfo.processIdentifier):\(suffix)"
    }

    /// Leases are renewed three times per lease period, so one missed renewal loses nothing.
    public var renewalInterval: Duration { max(lease.divided(by: 3), .milliseconds(50)) }

    /// How long before its lease runs out an attempt whose lease was not renewed is stopped:
    /// another worker may take the job back once it has.
    var leaseMargin: Duration { renewalInterval.divided(by: 2) }

    /// How soon new progress is written: people watch it (`jobs show`, `server show --wait`).
    var progressInterval: Duration { min(renewalInterval, .seconds(1)) }

    /// The queues as `--queues` names them, weights included; `*` for every queue.
    var queuesShown: String {
        guard !queues.isEmpty else { return "*" }
        return queues.map { name in weights[name].map { "\(name):\($0)" } ?? name }.joined(separator: ",")
    }
}
