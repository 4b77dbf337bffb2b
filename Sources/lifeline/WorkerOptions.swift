import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery
import LifelineSQLite
import Logging
import Synchronization

/// What `lifeline worker` was asked to do, as plain values, and the doing of it. The parser
/// fills it from ``WorkerCommand``'s options; ``WorkerFastPath`` fills it directly, which
/// spares a worker's start the parser's reflection.
struct WorkerOptions: Equatable {
    var queues: String?
    var concurrency = 10
    var processes = 1
    var lease = "30s"
    var grace = "30s"
    var drain = false
    var store = SelectedStore()

    func validate() throws {
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 1000") }
        guard (1...64).contains(processes) else { throw ValidationError("--processes must be 1 to 64") }
    }

    func run() async throws {
        WorkerCommand.tuneAllocator()
        let leaseDuration = try InputParsing.duration(lease, flag: "--lease")
        let graceDuration = try InputParsing.duration(grace, flag: "--grace")
        // Leases are renewed while jobs run, so a long one only delays the rerun of a killed worker's jobs.
        guard (.milliseconds(100)...(.seconds(3600))).contains(leaseDuration) else {
            throw CLIFailure(.invalidInput, "--lease must be 100ms to 1h, not \(lease)")
        }
        let (queueNames, weights) = try WorkerCommand.queueList(queues)
        try WorkerLogging.bootstrap()
        try store.withholdCredentials()
        let logger = Logger(label: "lifeline.worker")
        if let limit = WorkerCommand.addressSpaceLimit, limit < WorkerCommand.addressSpaceWanted {
            logger.warning("the address-space limit (ulimit -v) is \(limit >> 20) MiB: a worker reserves more for its threads' stacks and memory pools, and may stall unable to start a thread; give it 256 MiB or more, or no limit")
        }
        // Made before the pool's processes start, each of which makes its own: a bad setting is
        // one line, not one from each of them.
        let infrastructure = try InfrastructureChoice.make(root: store.infraRoot)
        // Its stages write disks, fences and locks under the home.
        if InfrastructureChoice.isSimulated {
            for directory in [store.infraRoot.deletingLastPathComponent(), store.infraRoot] { try QueueOwner.check(directory.path) }
        }
        // A pool's processes start first, while this one opens the store: they open it only if
        // a job needs it. If this one cannot start, they go with it (their reapers kill them).
        // A pool's writer claims and records for all its processes' slots.
        var configuration = WorkerConfiguration(
            queues: queueNames, weights: weights, concurrency: concurrency * processes, lease: leaseDuration, grace: graceDuration, drain: drain
        )
        configuration.isDamage = StoreErrorText.isDamage
        let pool = processes > 1 ? try RunnerPool(
            childArguments: ["/proc/self/exe"] + WorkerCommand.runnerCommand, childEnvironment: WorkerCommand.runnerEnvironment(store), processes: processes,
            concurrency: concurrency, answerWithin: max(configuration.renewalInterval, .seconds(1)), logger: logger
        ) : nil
        let runners = Task { await pool?.superviseProcesses() ?? true }
        // Signals are taken from here on: a worker still waiting for its database stops waiting.
        // Asked again once the worker has stopped, a pool's processes that have not ended are killed.
        let stop = Mutex<(asked: Bool, opening: Task<OpenQueue, any Error>?, worker: Worker?)>((false, nil, nil))
        let signals = SignalTrap {
            let (opening, worker) = stop.withLock { stop in
                stop.asked = true
                return (stop.opening, stop.worker)
            }
            opening?.cancel()
            worker?.shutdown()
            pool?.killRemaining()
        }
        // A drain of a queue that does not exist has nothing to do: a mistyped LIFELINE_HOME
        // is said (exit 4) rather than made, and drained, and called a success. A worker that
        // starts before its database (a host's boot, a restart) waits for it.
        let opening = Task {
            var outage = StoreOutage(reading: "the queue")
            return try await outage.open { try await store.openStore(creating: !drain, concurrentReads: true) }
        }
        if stop.withLock({ stop in stop.opening = opening; return stop.asked }) { opening.cancel() }
        let opened: OpenQueue
        do {
            opened = try await opening.value
        } catch is CancellationError {
            logger.info("worker stopped before its database answered")
            pool?.shutdown()
            _ = await runners.value
            withExtendedLifetime(signals) {}
            return
        }
        let handlers = InProcessRunner(registry: store.registry(queue: { opened }, infrastructure: infrastructure))
        try await Self.warnAtStart(queueNames, drain: drain, in: opened, logger: logger)
        let worker = Worker(store: opened.jobs, runner: pool ?? handlers, configuration: configuration, logger: logger)
        let watcher = try opened.watchChanges { worker.wake() }
        if stop.withLock({ stop in stop.worker = worker; return stop.asked }) { worker.shutdown() }
        let fileCheck = Task { await opened.exitIfReplaced(by: "worker") }
        try await worker.run()
        pool?.shutdown()
        let clean = await runners.value
        fileCheck.cancel()
        withExtendedLifetime((watcher, signals)) {}
        opened.closeForExit()
        if !clean { throw ExitCode(1) }
    }

    /// Said once, at start: a queue named in --queues that nothing has used yet may be a typo
    /// (or a queue whose first job is still to come), a drain waits for the jobs of a paused
    /// queue it serves until the queue is resumed, and for jobs due later when none is due now.
    private static func warnAtStart(_ names: [String], drain: Bool, in queue: OpenQueue, logger: Logger) async throws {
        guard !names.isEmpty || drain else { return }
        let queues = try await queue.jobs.queueList()
        let known = queues.map(\.name)
        // The recovery stages' queues are known before their first job.
        let stageQueues = Set(Stage.allCases.map(\.queue))
        for name in names where !known.contains(name) && !stageQueues.contains(name) {
            logger.warning("queue '\(name)' has had no job and has no settings yet; known queues: \(known.isEmpty ? "none yet" : known.joined(separator: ", "))")
        }
        guard drain else { return }
        let served = queues.filter { names.isEmpty || names.contains($0.name) }
        // The jobs of `queues` in `states`.
        func count(_ queues: [QueueInfo], _ states: [JobState]) -> Int {
            queues.reduce(0) { total, info in states.reduce(total) { $0 + (info.counts[$1] ?? 0) } }
        }
        // A limit of 0 holds a queue's jobs back as a pause does.
        for info in served where info.paused || info.limit == 0 {
            let waiting = count([info], [.available, .scheduled, .retryable])
            guard waiting > 0 else { continue }
            // A name made before names could not start with '-' is given after '--'.
            let named = info.name.hasPrefix("-") ? "-- \(info.name)" : info.name
            let (held, release) = info.paused ? ("paused", "lifeline queues resume \(named)") : ("limited to 0 running", "lifeline queues limit \(named) none")
            logger.warning(
                "queue '\(info.name)' is \(held) with \(JobText.count(waiting)) waiting: --drain waits for \(waiting == 1 ? "it" : "them") until '\(release)'"
            )
        }
        let open = served.filter { !$0.paused && $0.limit != 0 }
        let waiting = count(open, [.scheduled, .retryable])
        guard waiting > 0, count(open, [.available, .running]) == 0 else { return }
        // One whose time has come is due now (the first claim makes it available): only then
        // are the rows read, for the times the counts do not keep.
        var later = 0
        for info in open where count([info], [.scheduled, .retryable]) > 0 {
            later += try await queue.jobs.jobCount(JobFilter(states: [.scheduled, .retryable], queue: info.name, dueAfter: queue.jobs.now))
        }
        if later == waiting {
            logger.notice(
                "nothing is due now: --drain waits for \(JobText.count(later)) due later (lifeline jobs list --state scheduled --state retryable)"
            )
        }
    }
}
