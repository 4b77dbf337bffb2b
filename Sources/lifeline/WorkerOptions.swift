import ArgumentParser
import CLifelineSystem
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
        Self.tuneAllocator()
        let leaseDuration = try InputParsing.duration(lease, flag: "--lease")
        let graceDuration = try InputParsing.duration(grace, flag: "--grace")
        // Leases are renewed while jobs run, so a long one only delays the rerun of a killed worker's jobs.
        guard (.milliseconds(100)...(.seconds(3600))).contains(leaseDuration) else {
            throw CLIFailure(.invalidInput, "--lease must be 100ms to 1h, not \(lease)")
        }
        let (queueNames, weights) = try Self.queueList(queues)
        try WorkerLogging.bootstrap()
        try store.withholdCredentials()
        let logger = Logger(label: "lifeline.worker")
        if let limit = Self.addressSpaceLimit, limit < Self.addressSpaceWanted {
            logger.warning("the address-space limit (ulimit -v) is \(limit >> 20) MiB: a worker reserves more for its threads' stacks and memory pools, and may stall unable to start a thread; give it 256 MiB or more, or no limit")
        }
        // Made before the pool's processes start, each of which makes its own: a bad setting is
        // one line, not one from each of them.
        let infrastructure = try InfrastructureChoice.make(root: store.infraRoot)
        try (infrastructure as? CommandInfrastructure)?.checkPrograms()
        // Its stages write disks, fences and locks under the home.
        if InfrastructureChoice.isSimulated {
            for directory in [store.infraRoot.deletingLastPathComponent(), store.infraRoot] { try QueueOwner.check(directory.path) }
        }
        // A pool's processes start first, while this one opens the store: they open it only if
        // a job needs it. If this one cannot start, they go with it (the kernel kills them).
        // A pool's writer claims and records for all its processes' slots.
        var configuration = WorkerConfiguration(
            queues: queueNames, weights: weights, concurrency: concurrency * processes, lease: leaseDuration, grace: graceDuration, drain: drain
        )
        configuration.isDamage = StoreErrorText.isDamage
        // Its lines, and its processes', name the worker as the writer's do.
        var poolLogger = logger
        poolLogger[metadataKey: "worker"] = "\(configuration.owner)"
        let pool = processes > 1 ? try RunnerPool(
            childProgram: "/proc/self/exe", childArguments: [CommandLine.arguments.first ?? "lifeline"] + WorkerCommand.runnerCommand,
            childEnvironment: WorkerCommand.runnerEnvironment(store, worker: configuration.owner), processes: processes,
            concurrency: concurrency, answerWithin: max(configuration.renewalInterval, .seconds(1)), logger: poolLogger
        ) : nil
        let runners = Task { await pool?.superviseProcesses() ?? true }
        // Signals are taken from here on: a worker still waiting for its database stops waiting.
        // Asked again, a pool's processes that have not ended are killed (see RunnerPool.killRemaining()).
        let stop = Mutex<(asked: Bool, opening: Task<OpenQueue, any Error>?, worker: Worker?)>((false, nil, nil))
        let signals = SignalTrap {
            let (again, opening, worker) = stop.withLock { stop in
                defer { stop.asked = true }
                return (stop.asked, stop.opening, stop.worker)
            }
            // Only when asked again: the first signal may find the processes told to end
            // already (a drain that has just ended), or an idle worker stops at once at it and
            // tells them, and they are ending.
            if again { pool?.killRemaining() }
            opening?.cancel()
            worker?.shutdown()
        }
        // A drain of a queue that does not exist has nothing to do: a mistyped LIFELINE_HOME
        // is said (exit 4) rather than made, and drained, and called a success. A worker that
        // starts before its database (a host's boot, a restart) waits for it.
        let opening = Task {
            var outage = StoreOutage(reading: "the queue")
            let opened = try await outage.open { try await store.openStore(creating: !drain, concurrentReads: true) }
            // Its first reads, too, wait out a database that stops answering as it starts.
            try await outage.open { try await Self.warnAtStart(queueNames, drain: drain, in: opened, logger: logger) }
            return opened
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
        // The path in full: "queue/lifeline.db" reads the same in the wrong directory.
        configuration.startDetails["store"] = "\(opened.filePath.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? opened.location)"
        // A pool is said as it was asked for: N slots in each of P processes.
        if processes > 1 { configuration.startDetails.merge(["concurrency": "\(concurrency)", "processes": "\(processes)"]) { $1 } }
        let worker = Worker(store: opened.jobs, runner: pool ?? handlers, configuration: configuration, logger: logger)
        let watcher = try opened.watchChanges { worker.wake() }
        if stop.withLock({ stop in stop.worker = worker; return stop.asked }) { worker.shutdown() }
        let fileCheck = Task { await opened.exitIfReplaced(by: "worker") }
        try await worker.run()
        pool?.shutdown()
        // The store closes after the pool's processes have ended: a runner that ran a recovery
        // stage holds a read connection until it exits, and only the last connection to close
        // moves the WAL's commits into the database file.
        let clean = await runners.value
        fileCheck.cancel()
        withExtendedLifetime((watcher, signals)) {}
        opened.closeForExit()
        if !clean { throw ExitCode(1) }
    }

    /// Keeps freed memory for reuse: blocks under 8 MiB come from the allocator's arenas, and
    /// up to 16 MiB stays free at the top of each. A worker frees and allocates much the same
    /// memory in every transaction; with glibc's default thresholds, which follow the largest
    /// block freed, a worker that had freed none larger than 128 KiB kept handing the top
    /// 100 KiB of its arenas back to the kernel, only to fault every page in again (perf: a
    /// 100,000-job drain took 127,000 page faults and 7,000 madvise calls, in some runs, and
    /// 3,300 and none with this; in a pool, page faults and the TLB shootdowns after each
    /// madvise were a tenth of the writer's samples). Fixing the trim threshold alone would
    /// also fix the other at 128 KiB, and map and unmap every 4 MiB chunk a disk copy reads.
    ///
    /// Under a limit on its address space (`ulimit -v`), the allocator also makes at most one
    /// memory pool per 128 MiB of it. Each pool reserves 64 MiB, and glibc makes one for each
    /// thread that allocates, up to 8 a core: a pool's writer under 300 MiB reserved all of it,
    /// found no room for a new thread's stack, and its threads' libraries waited for room for
    /// ever, signals unheard (3 of 4 drains of 200 programs by 4 × 16 stalled so, none of 7
    /// with two pools; with one, drains ran under 160 MiB).
    static func tuneAllocator() {
        _ = lifeline_keep_freed_memory(8 << 20)
        let setByOperator = Environment.value("MALLOC_ARENA_MAX") != nil || Environment.value("GLIBC_TUNABLES")?.contains("arena_max") == true
        if let limit = addressSpaceLimit, !setByOperator {
            // glibc's own cap: 8 a core.
            let cap = 8 * ProcessInfo.processInfo.activeProcessorCount
            _ = lifeline_limit_arenas(Int32(clamping: min(max(1, limit / (128 << 20)), UInt64(cap))))
        }
    }

    /// Below this limit on its address space, a worker may still find no room for a thread and
    /// stall (one did at 150 MiB, lease renewals unsent).
    private static let addressSpaceWanted: UInt64 = 256 << 20

    /// The soft limit on the process's address space, if there is one (RLIM_INFINITY, all
    /// ones, is none).
    private static var addressSpaceLimit: UInt64? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return UInt64(limit.rlim_cur)
    }

    /// `--queues`: the names, and their weights if any is given (`a:3,b`: b weighs 1).
    private static func queueList(_ text: String?) throws -> (names: [String], weights: [String: Int]) {
        guard let text else { return ([], [:]) }
        var names: [String] = []
        var weights: [String: Int] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            try JobLimits.checkQueueName(name)
            guard !names.contains(name) else { throw CLIFailure(.invalidInput, "queue '\(name)' is named twice in --queues") }
            names.append(name)
            guard parts.count == 2 else { continue }
            guard parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let weight = Int(parts[1]), (1...1000).contains(weight) else {
                throw CLIFailure(.invalidInput, "invalid weight '\(parts[1])' for queue '\(name)': a whole number from 1 to 1000")
            }
            weights[name] = weight
        }
        if !weights.isEmpty { for name in names where weights[name] == nil { weights[name] = 1 } }
        return (names, weights)
    }

    /// Said once, at start: a queue named in --queues that nothing has used yet may be a typo
    /// (or a queue whose first job is still to come), a drain waits for the jobs of a paused
    /// queue it serves until the queue is resumed (the worker says when it waits for jobs due
    /// later, and until when).
    private static func warnAtStart(_ names: [String], drain: Bool, in queue: OpenQueue, logger: Logger) async throws {
        guard !names.isEmpty || drain else { return }
        let queues = try await queue.jobs.queueList()
        // The recovery stages' queues are known before their first job.
        let known = Stage.knownQueues(queues.map(\.name))
        for name in names where !known.contains(name) {
            let near = EditDistance.didYouMean(name, among: known).map { $0 + " " } ?? ""
            logger.warning("queue '\(name)' has had no job and has no settings yet; \(near)known queues: \(known.joined(separator: ", "))")
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
    }
}
