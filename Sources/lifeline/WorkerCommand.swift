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

            Recovery stages act on LIFELINE_INFRA: simulated (the default, under \
            $LIFELINE_HOME/infra; LIFELINE_SIM_THROUGHPUT, LIFELINE_SIM_FAULTS) or command \
            (the programs LIFELINE_INFRA_COMMANDS names; see lifeline server --help). Give \
            the commands that list or check recovery points the same settings.

            Examples:
              lifeline worker --concurrency 16
              lifeline worker --queues recovery.finalize,nightly --processes 2
              lifeline worker --queues reports:3,nightly:1   # reports 3 times as often
              lifeline worker --drain          # exit once nothing waits, now or scheduled
            """
    )

    @Option(help: ArgumentHelp(
        "Comma-separated queues to serve, their jobs taken by priority, then time (default: every queue); NAME:WEIGHT weights them instead, e.g. a:3,b:1 looks at a first three times as often as b.",
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

    /// The command line of one of a pool's runner processes, after the name this process was
    /// started by, which ps shows for it too. Its program is /proc/self/exe, which the child
    /// this process starts it from resolves to this very binary: a runner restarted after the
    /// package was upgraded under a running pool is still the pool's own version, and the
    /// deleted file is no obstacle. A runner needs nothing of the pool's command line but its
    /// store, which it is given in its environment; it starts without the argument parser
    /// (see ``Lifeline/main()``), whose reflection of the commands was most of a runner's
    /// start: by callgrind, 21.7 of its 36.3 million instructions.
    static let runnerCommand = ["worker", "--runner"]

    /// Where a runner finds the store `--db` or `LIFELINE_DATABASE_URL` names: off its command
    /// line, where `ps` would show a URL's password, and not in `LIFELINE_DATABASE_URL`, whose
    /// password the pool's writer has overwritten. The runner takes it out of its environment
    /// before it runs anything, and overwrites the password where its start put it, which root
    /// can still read in /proc.
    static let runnerStoreVariable = "LIFELINE_RUNNER_DATABASE"

    /// Where a runner finds its pool's worker id, which its log lines carry as the writer's do.
    static let runnerWorkerVariable = "LIFELINE_RUNNER_WORKER"

    /// A runner's environment: this one's, the store `--db` or `LIFELINE_DATABASE_URL` names
    /// (whose password this process's environment no longer holds), and the pool's worker id.
    static func runnerEnvironment(_ store: some StoreSelection, worker: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment[runnerStoreVariable] = store.db ?? Environment.databaseURL
        environment[runnerWorkerVariable] = worker
        return environment
    }

    /// Makes this process a runner as ps and signals see it. Call it from the main thread,
    /// whose name ps and top show: its program was /proc/self/exe, which they would show as
    /// "exe". Its life follows its socket, and its pool's writer stops its attempts: a signal
    /// meant for the pool (pkill, a service manager's SIGTERM to every process of the unit)
    /// must not end it under them. Its jobs' programs get every signal back.
    static func becomeRunner() {
        _ = lifeline_name_process("lifeline-runner")
        for ignored in [SIGTERM, SIGINT, SIGHUP] { signal(ignored, SIG_IGN) }
    }

    /// Runs one of a pool's runner processes: serves the socket on its stdin until the pool's
    /// writer closes it.
    static func serveRunner() async throws {
        WorkerOptions.tuneAllocator()
        try WorkerLogging.bootstrap()
        let store = SelectedStore(db: Environment.value(runnerStoreVariable))
        ArgumentSecrets.hide(inEnvironment: runnerStoreVariable)
        unsetenv(runnerStoreVariable)
        var logger = Logger(label: "lifeline.worker")
        logger[metadataKey: "worker"] = Environment.value(runnerWorkerVariable).map { "\($0)" }
        unsetenv(runnerWorkerVariable)
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
        await RunnerService.serve(fd: STDIN_FILENO, runner: handlers, logger: logger)
    }
}
