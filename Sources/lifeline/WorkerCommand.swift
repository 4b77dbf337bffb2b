import ArgumentParser
import Foundation
import LifelineQueue
import LifelineSQLite
import Logging

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs: one process with N slots, or a supervisor of P such processes.",
        discussion: """
            SIGTERM, SIGINT or SIGHUP: stop claiming, let running jobs finish within --grace, then
            give the rest back (available again, attempt not spent) and exit 0. A second signal
            gives them back at once. A worker killed with SIGKILL
            holds its jobs until their leases (--lease) expire; then any worker takes them back and
            the lost attempt shows in the job's errors. LIFELINE_LOG_LEVEL sets the log level.

            Examples:
              lifeline worker --concurrency 16
              lifeline worker --queues recovery.finalize,nightly --processes 2
              lifeline worker --drain          # exit once nothing is left to do
            """
    )

    @Option(help: ArgumentHelp("Comma-separated queues to serve, in order (default: every queue).", valueName: "A,B"))
    var queues: String?

    @Option(help: "Jobs run at once in each process.")
    var concurrency = 10

    @Option(help: "Worker processes; more than 1 makes this a supervisor that restarts any that die.")
    var processes = 1

    @Option(parsing: .unconditional, help: ArgumentHelp("How long a job stays ours without a renewal.", valueName: "D"))
    var lease = "30s"

    @Option(parsing: .unconditional, help: ArgumentHelp("How long running jobs may take to finish on shutdown.", valueName: "D"))
    var grace = "30s"

    @Flag(help: "Exit 0 once the queues have nothing available, scheduled, retryable or running.")
    var drain = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard (1...1000).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 1000") }
        guard (1...64).contains(processes) else { throw ValidationError("--processes must be 1 to 64") }
    }

    func run() async throws {
        let leaseDuration = try InputParsing.duration(lease, flag: "--lease")
        let graceDuration = try InputParsing.duration(grace, flag: "--grace")
        guard leaseDuration >= .milliseconds(100) else { throw CLIFailure(.invalidInput, "--lease must be at least 100ms") }
        let queueNames: [String] = queues.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        for name in queueNames { try JobLimits.checkQueueName(name) }
        LoggingSystem.bootstrap(WorkerLogging.handler)
        let logger = Logger(label: "lifeline.worker")
        if processes > 1 {
            try await supervise(logger: logger)
        } else {
            let configuration = WorkerConfiguration(
                queues: queueNames, concurrency: concurrency, lease: leaseDuration, grace: graceDuration, drain: drain
            )
            try await work(configuration, logger: logger)
        }
    }

    private func work(_ configuration: WorkerConfiguration, logger: Logger) async throws {
        let opened = try await store.openStore()
        let infrastructure = try InfrastructureChoice.make(root: store.infraRoot)
        let registry = store.registry(queue: opened, infrastructure: infrastructure)
        let worker = Worker(store: opened.jobs, registry: registry, configuration: configuration, logger: logger)
        let watcher = try opened.watchChanges { worker.wake() }
        let signals = SignalTrap { worker.shutdown() }
        let fileCheck = Task { if let path = opened.filePath { await Self.exitIfReplaced(path) } }
        try await worker.run()
        fileCheck.cancel()
        withExtendedLifetime((watcher, signals)) {}
    }

    /// Exits 1 once the database file is deleted or replaced: its jobs are no longer anyone's
    /// to run. A supervisor then starts a worker on the new file.
    private static func exitIfReplaced(_ path: String) async {
        let original = DatabaseFileIdentity(path: path)
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            let now = DatabaseFileIdentity(path: path)
            guard now != original else { continue }
            let what = now == nil ? "was deleted" : "was replaced by another file"
            Output.standardError.writeLine("lifeline: the database \(path) \(what) under this worker; exiting")
            Foundation.exit(1)
        }
    }

    private func supervise(logger: Logger) async throws {
        // The store is opened (and migrated) once here, before any child starts.
        _ = try await store.openStore()
        let childArguments = [Self.executablePath()] + Self.removingProcesses(from: Array(CommandLine.arguments.dropFirst()))
        let supervisor = WorkerSupervisor(childArguments: childArguments, processes: processes, drain: drain, logger: logger)
        let signals = SignalTrap { supervisor.shutdown() }
        let status = await supervisor.run()
        withExtendedLifetime(signals) {}
        if status != 0 { throw ExitCode(status) }
    }

    static func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The command line of one child: the same, without --processes.
    static func removingProcesses(from arguments: [String]) -> [String] {
        var result: [String] = []
        var skipNext = false
        for argument in arguments {
            if skipNext {
                skipNext = false
            } else if argument == "--processes" {
                skipNext = true
            } else if !argument.hasPrefix("--processes=") {
                result.append(argument)
            }
        }
        return result
    }
}
