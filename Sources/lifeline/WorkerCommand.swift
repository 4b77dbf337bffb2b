import ArgumentParser
import CLifelineSystem
import Foundation
import LifelineQueue
import LifelineRecovery
import Logging

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs: one process with N slots, or a pool of P processes with N slots each.",
        discussion: """
            SIGTERM, SIGINT or SIGHUP: stop claiming, let running jobs finish within --grace, then \
            give the rest back (available again, attempt not spent) and exit 0. A second signal \
            gives them back at once. A worker killed with SIGKILL \
            holds its jobs until their leases (--lease) expire; then any worker takes them back and \
            the lost attempt shows in the job's errors. LIFELINE_LOG_LEVEL sets the log level.

            With --processes P, this process claims and records for the whole pool (one writer, \
            so the P × N slots share each commit) and P processes run the jobs; one that dies is \
            restarted, and its jobs go back to their queues when their leases expire.

            Examples:
              lifeline worker --concurrency 16
              lifeline worker --queues recovery.finalize,nightly --processes 2
              lifeline worker --queues reports:3,nightly:1   # reports 3 times as often
              lifeline worker --drain          # exit once nothing is left to do
            """
    )

    @Option(help: ArgumentHelp(
        "Comma-separated queues to serve, in order (default: every queue); NAME:WEIGHT weights them instead, e.g. a:3,b:1 looks at a first three times as often as b.",
        valueName: "A,B"
    ))
    var queues: String?

    @Option(help: "Jobs run at once in each process, 1 to 1000.")
    var concurrency = 10

    @Option(help: "Processes running jobs, 1 to 64; with more than 1, this process claims and records for them all and restarts any that die.")
    var processes = 1

    @Option(parsing: .unconditional, help: ArgumentHelp("How long a job stays ours without a renewal, 100ms to 1h: a killed worker's jobs wait this long to run again.", valueName: "D"))
    var lease = "30s"

    @Option(parsing: .unconditional, help: ArgumentHelp("How long running jobs may take to finish on shutdown.", valueName: "D"))
    var grace = "30s"

    @Flag(help: "Exit 0 once the queues have nothing available, scheduled, retryable or running.")
    var drain = false

    @OptionGroup var store: StoreOptions

    /// The options as plain values, which ``WorkerFastPath`` fills without the parser.
    var options: WorkerOptions {
        WorkerOptions(queues: queues, concurrency: concurrency, processes: processes, lease: lease, grace: grace, drain: drain, store: SelectedStore(db: store.db))
    }

    func validate() throws {
        try options.validate()
    }

    func run() async throws {
        try await options.run()
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
    static let addressSpaceWanted: UInt64 = 256 << 20

    /// The soft limit on the process's address space, if there is one (RLIM_INFINITY, all
    /// ones, is none).
    static var addressSpaceLimit: UInt64? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return UInt64(limit.rlim_cur)
    }

    /// `--queues`: the names in order, and their weights if any is given (`a:3,b`: b weighs 1).
    static func queueList(_ text: String?) throws -> (names: [String], weights: [String: Int]) {
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

    /// The command line of one of a pool's runner processes (after its program, /proc/self/exe,
    /// which the reaper, forked from this process, resolves to this very binary: a runner
    /// restarted after the package was upgraded under a running pool is still the pool's own
    /// version, and the deleted file is no obstacle). A runner needs nothing of the pool's
    /// command line but its store, which it is given in its environment; it starts without
    /// the argument parser (see ``Lifeline/main()``), whose reflection of the commands was most
    /// of a runner's start: by callgrind, 21.7 of its 36.3 million instructions.
    static let runnerCommand = ["worker", "--runner"]

    /// Where a runner finds the store `--db` names, if it does: off its command line, where `ps`
    /// would show a URL's password, and not in LIFELINE_DATABASE_URL, which the programs of its
    /// jobs inherit. The runner takes it out of its environment before it runs anything.
    static let runnerStoreVariable = "LIFELINE_RUNNER_DATABASE"

    /// A runner's environment: this one's, and the store `--db` names.
    static func runnerEnvironment(_ store: some StoreSelection) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment[runnerStoreVariable] = store.db
        return environment
    }

    /// Runs one of a pool's runner processes: serves the socket on its stdin until the pool's
    /// writer closes it.
    static func serveRunner() async throws {
        tuneAllocator()
        try WorkerLogging.bootstrap()
        let store = SelectedStore(db: Environment.value(runnerStoreVariable))
        unsetenv(runnerStoreVariable)
        try store.withholdCredentials()
        // Opened when a job first reads it (recovery stages do, most jobs never do), not before
        // the runner serves its first attempt: opening it was 9.2 of a runner's 14.2 million
        // instructions at start (callgrind), when a pool's processes all start at once. Opened
        // to read, which never waits for the writer: a runner's jobs only read the queue. Its
        // writer opened the queue before it, so a schema a newer Lifeline has moved the queue
        // to since is read as the writer writes it, with this one's code; refused, every stage
        // the pool claims would fail until its attempts ran out.
        let queue = QueueOnDemand { try await store.openReader(acceptingNewer: true) }
        let infrastructure = try InfrastructureChoice.make(root: store.infraRoot)
        let handlers = InProcessRunner(registry: store.registry(queue: queue.get, infrastructure: infrastructure))
        await RunnerService.serve(fd: STDIN_FILENO, runner: handlers, logger: Logger(label: "lifeline.worker"))
    }
}
