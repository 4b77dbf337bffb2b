import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("An operator's mistakes: one clear line, the contract's exit code, nothing changed")
struct OperatorMistakesCLITests {
    /// The number of events: every change writes at least one.
    static func eventCount(_ cli: CLIRunner) async throws -> Int {
        try await cli.json(["events", "--json"]).count
    }

    @Test("jobs cancel with an id that names no job (4), or a job that completed or was discarded (3), cancels none of the others")
    func cancelWithMissingId() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let done = try await cli.enqueue(["noop"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let job = try await cli.enqueue(["noop", "--delay", "1h"])
        let before = try await Self.eventCount(cli)
        let result = try await cli.run(["jobs", "cancel", "\(job)", "999"])
        #expect(result.status == 4 && result.stderr == "lifeline: no job 999 (pruned with its events, or never enqueued)\n" && result.stdout.isEmpty, "\(result)")
        let finished = try await cli.run(["jobs", "cancel", "\(job)", "\(done)"])
        #expect(finished.status == 3 && finished.stdout.isEmpty, "\(finished)")
        #expect(finished.stderr == "lifeline: job \(done) is already completed: only waiting or running jobs can be cancelled\n", "\(finished)")
        #expect(try await Self.eventCount(cli) == before)
        #expect(try await cli.job(job)["state"] == "scheduled")
        #expect(try await cli.run(["jobs", "cancel", "\(job)"]).stdout == "job \(job) cancelled\n")
    }

    @Test("jobs cancel --json says for each job, in the order given, whether it was cancelled, asked to stop, or cancelled already, as the API does")
    func cancelJSON() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let running = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "60"]}"#])
        let worker = try cli.start(["worker", "--grace", "0s"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(running)["state"] == "running" }
        let waiting = try await cli.enqueue(["noop", "--delay", "1h"])
        let cancelled = try await cli.enqueue(["noop", "--delay", "1h"])
        #expect(try await cli.run(["jobs", "cancel", "\(cancelled)"]).status == 0)
        let result = try await cli.run(["jobs", "cancel", "\(waiting)", "\(running)", "\(cancelled)", "--json"])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result)")
        let reports = result.lines.map { try? JSONValue(parsing: $0) }
        #expect(reports == [
            ["job": .int(waiting), "result": "cancelled"], ["job": .int(running), "result": "requested"],
            ["job": .int(cancelled), "result": "already cancelled"],
        ], "\(result.stdout)")
        try await waitUntil("the running job to stop") { try await cli.job(running)["state"] == "cancelled" }
    }

    @Test("jobs retry with one id it cannot retry retries none (exit 3); --dry-run says the same, and lists JSON lines with --json")
    func retryAllOrNothing() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let waiting = try await cli.enqueue(["noop"])
        let cancelled = try await cli.enqueue(["noop", "--delay", "1h"])
        #expect(try await cli.run(["jobs", "cancel", "\(cancelled)", "\(cancelled)"]).stdout == "job \(cancelled) cancelled\n", "an id given twice is one job")
        let before = try await Self.eventCount(cli)
        for arguments in [["--dry-run"], []] {
            let result = try await cli.run(["jobs", "retry", "\(waiting)", "\(cancelled)"] + arguments)
            #expect(result.status == 3 && result.stdout.isEmpty, "\(result)")
            #expect(result.stderr == "lifeline: not retried: job \(waiting) is available; only discarded, cancelled, retryable or scheduled jobs can be retried\n")
        }
        #expect(try await Self.eventCount(cli) == before)
        #expect(try await cli.job(cancelled)["state"] == "cancelled")
        let json = try await cli.run(["jobs", "retry", "--state", "cancelled", "--dry-run", "--json"])
        #expect(json.status == 0)
        let ids = json.lines.map { try? JSONValue(parsing: $0)["id"]?.intValue }
        #expect(ids == [cancelled], "\(json.stdout)")
        #expect(try await cli.run(["jobs", "retry", "\(cancelled)", "--dry-run"]).stdout == "would retry 1 job: \(cancelled)\n")
    }

    @Test("a negative number is called one, not a missing value or an unknown option", arguments: [
        ["jobs", "show", "-1"], ["queues", "limit", "default", "-1"], ["events", "--after", "-5"], ["worker", "--processes", "-1"],
        ["jobs", "cancel", "3", "-1"],
    ])
    func negativeNumbers(arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.hasPrefix("lifeline: negative numbers are not accepted: -"), "\(result.stderr)")
        if let option = arguments.first(where: { $0.hasPrefix("--") }) {
            #expect(result.stderr.contains(" for \(option) (see --help)"), "the option is named: \(result.stderr)")
        }
    }

    @Test("an option that takes one value, given twice, is refused and changes nothing; those that add up, and flags, may repeat", arguments: [
        (["jobs", "list", "--json", "--json", "--queue", "a", "--queue", "b"], "--queue is given 2 times"),
        (["enqueue", "noop", "--queue", "a", "--queue=b"], "--queue is given 2 times"),
        (["server", "create", "zz1", "--disks", "1", "--disks", "2"], "--disks is given 2 times"),
        (["worker", "--drain", "--concurrency", "2", "--concurrency", "3"], "--concurrency is given 2 times"),
        (["jobs", "list", "--state", "completed", "--state", "available", "--json", "--json"], nil),
        (["events", "--type", "enqueued", "--type", "completed"], nil),
    ])
    func repeatedOption(arguments: [String], refusal: String?) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments)
        if let refusal {
            #expect(result.status == 64 && result.stderr == "lifeline: \(refusal): it takes one value (see --help)\n", "\(result)")
            let jobs = try await cli.json(["jobs", "list", "--json"])
            let servers = try await cli.json(["server", "list", "--json"])
            #expect(jobs.count == 1 && servers.isEmpty, "nothing changed")
        } else {
            #expect(result.status == 0, "\(result)")
        }
    }

    @Test("--limit 0 is said alike by the lists that take it", arguments: [["jobs", "list"], ["events"]])
    func limitZero(command: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(command + ["--limit", "0"])
        #expect(result.status == 64 && result.stderr == "lifeline: --limit must be 1 or more, not 0 (see --help)\n", "\(result.stderr)")
    }

    @Test("an id no job can have, and a --db that is neither a file nor a PostgreSQL URL, are usage errors", arguments: [
        (["jobs", "show", "--", "-1"], "a job id is a positive whole number, not -1"),
        (["events", "--job", "0"], "a job id is a positive whole number, not 0"),
        (["jobs", "cancel", "0"], "a job id is a positive whole number, not 0"),
        (["jobs", "list", "--db", "mysql://lifeline@127.0.0.1/x"], "--db: 'mysql://' is not supported; give a file path or a postgres:// URL"),
        (["jobs", "list", "--db", "postgres://lifeline@127.0.0.1:99999/x"], "port 99999 is not 1 to 65535"),
    ])
    func usageErrors(arguments: [String], message: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("a mistyped PostgreSQL URL is a usage error that never repeats its password", arguments: [
        ["jobs", "list", "--db", "postgres:/lifeline:S3cr3tPass@127.0.0.1:5432/lifeline"],
        ["enqueue", "noop", "--db", " postgres://lifeline:S3cr3tPass@127.0.0.1:5432/lifeline"],
        ["store", "copy", "--from", "lifeline:S3cr3tPass@127.0.0.1/lifeline", "--to", "copy.db"],
    ])
    func mistypedURL(arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.contains("looks like a mistyped PostgreSQL URL"), "\(result.stderr)")
        #expect(!result.stderr.contains("S3cr3tPass") && !result.stdout.contains("S3cr3tPass"))
    }

    @Test("an empty --db, and a directory where the database belongs, are usage errors")
    func badDatabasePaths() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let empty = try await cli.run(["enqueue", "noop", "--db", ""])
        #expect(empty.status == 64 && empty.stderr.contains("--db is empty"), "\(empty.stderr)")
        try FileManager.default.createDirectory(at: cli.home.appendingPathComponent("lifeline.db"), withIntermediateDirectories: true)
        // The path came from LIFELINE_HOME, not from --db: said so, with no path to add to.
        let said = "lifeline: \(cli.home.path)/lifeline.db is a directory, where the database file of LIFELINE_HOME (./queue when unset) belongs; move it away, or give another LIFELINE_HOME or --db\n"
        for command in [["enqueue", "noop"], ["jobs", "list"], ["worker", "--drain"]] {
            let directory = try await cli.run(command)
            #expect(directory.status == 64 && directory.stderr == said, "\(command): \(directory.stderr)")
        }
    }

    @Test("a pipe (or device) given as the database is a usage error, read or written, and never replaced by a copy")
    func databaseNotARegularFile() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let source = try await cli.enqueue(["noop"])
        let pipe = cli.home.path + "-pipe"
        #expect(mkfifo(pipe, 0o600) == 0)
        defer { unlink(pipe) }
        for command in [["jobs", "list", "--db", pipe], ["enqueue", "noop", "--db", pipe], ["store", "copy", "--from", cli.home.appendingPathComponent("lifeline.db").path, "--to", pipe]] {
            let result = try await cli.run(command)
            #expect(result.status == 64 && result.stderr.contains("\(pipe) is not a regular file (a device, pipe or socket)"), "\(command): \(result.stderr)")
        }
        var info = stat()
        #expect(stat(pipe, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the pipe is still a pipe")
        #expect(source == 1)
    }

    @Test("a home that cannot be made says what the system said")
    func homeNotMade() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_HOME": "/proc/no/such"])
        #expect(result.status == 1 && result.stderr == "lifeline: cannot create /proc/no/such: No such file or directory\n", "\(result.stderr)")
    }

    @Test(
        "a write that waits for another process's writer lock says so after a second, naming it, then goes on",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"), "needs flock(1) to hold the lock")
    )
    func lockWaitSaid() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        // The holder keeps the lock until it is sent SIGTERM.
        let holder = try BackgroundCommand("/usr/bin/env", ["python3", "-c", """
            import fcntl, signal
            lock = open(\(try LifelineJSON.line(cli.home.appendingPathComponent("lifeline.db-writer").path)), "r+")
            fcntl.flock(lock, fcntl.LOCK_EX)
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM]); signal.sigwait([signal.SIGTERM])
            """], environment: ProcessInfo.processInfo.environment)
        defer { holder.signal(SIGKILL) }
        // The limits are long: tests beside this one can hold its tasks up for tens of seconds.
        let deadline = ContinuousClock.now + .seconds(120)
        while (try? String(contentsOfFile: "/proc/locks", encoding: .utf8))?.contains(" \(holder.processIdentifier) ") != true {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
        let enqueue = try cli.start(["enqueue", "noop", "--delay", "1s", "--json"], extraEnvironment: ["LIFELINE_LOCK_TIMEOUT": "5m"])
        while !enqueue.stderr.contains("waiting for the database") {
            guard ContinuousClock.now < deadline, enqueue.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let released = Date()
        holder.signal(SIGTERM)
        #expect(try await enqueue.waitForExit(timeout: .seconds(120)) == 0, "\(enqueue.stderr)")
        // Its times are read once it holds the lock: the delay counts from there, not from its wait.
        let job = try JSONValue(parsing: enqueue.stdout)
        let created = try #require(job["created_at"]?.stringValue.flatMap(LifelineJSON.parseTime))
        #expect(created.timeIntervalSince(released) > -0.05, "created \(created), the lock let go at \(released)")
        #expect(
            enqueue.stderr == "lifeline: waiting for the database: process \(holder.processIdentifier) holds its writer lock (for up to 5m; LIFELINE_LOCK_TIMEOUT)\n",
            "\(enqueue.stderr)"
        )
        #expect(try await cli.jobCount() == 2)
    }

    @Test("a list filtered by a queue, server or kind that does not exist says so beside its empty answer, with the nearest name")
    func filterTypo() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--queue", "nightly"])
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let cases: [([String], String)] = [
            (["jobs", "list", "--queue", "nightyl"], "lifeline: no queue 'nightyl' has had a job or a setting; did you mean 'nightly'?\n"),
            (["jobs", "list", "--queue", "weekly-reports"], "lifeline: no queue 'weekly-reports' has had a job or a setting; queues: nightly, recovery.backup, recovery.cleanup, recovery.finalize, recovery.network, recovery.provision, recovery.vm\n"),
            (["jobs", "list", "--server", "web-2"], "lifeline: no server 'web-2'; did you mean 'web-1'?\n"),
            (["events", "--server", "db-primary"], "lifeline: no server 'db-primary'; servers: web-1\n"),
            (["events", "--job", "999"], "lifeline: no job 999 (pruned with its events, or never enqueued)\n"),
            (["jobs", "list", "--queue", "nightly", "--state", "discarded"], ""),
            (["jobs", "list", "--kind", "nopp"], "lifeline: no job kind 'nopp'; did you mean 'noop'?\n"),
            (["jobs", "list", "--kind", "recovery.finalize"], ""),
            // A kind is not checked as a name is (one no build knows may have jobs), but it is shown escaped.
            (["jobs", "list", "--kind", "k\nz\u{1b}[31m"], "lifeline: no job kind 'k\\nz\\x1b[31m'; kinds: exec, flaky, noop, recovery.backup, recovery.cancel-failover, recovery.create, recovery.delete, recovery.finalize, recovery.power-on, recovery.release, recovery.start-test, recovery.start-vm, recovery.stop-test, recovery.switch-workload, sleep\n"),
            // Two letters of two changed is another name, not a typo of it.
            (["jobs", "list", "--queue", "zz"], "lifeline: no queue 'zz' has had a job or a setting; queues: nightly, recovery.backup, recovery.cleanup, recovery.finalize, recovery.network, recovery.provision, recovery.vm\n"),
        ]
        for (arguments, said) in cases {
            let result = try await cli.run(arguments)
            #expect(result.status == 0 && result.stderr == said, "\(arguments): \(result.stderr)")
        }
        let shown = try await cli.run(["jobs", "show", "999"])
        #expect(shown.status == 4 && shown.stderr == "lifeline: no job 999 (pruned with its events, or never enqueued)\n", "as events --job says it")
    }

    @Test("a command that acts on one server, queue or kind that does not exist gives exit 4 or 64 with the nearest name")
    func actionTypo() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--queue", "nightly"])
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let jobs = try await cli.jobCount()
        let cases: [([String], Int32, String)] = [
            (["server", "show", "web1"], 4, "lifeline: no server 'web1'; did you mean 'web-1'?\n"),
            (["server", "failover", "WEB-1"], 4, "lifeline: no server 'WEB-1'; did you mean 'web-1'?\n"),
            (["server", "history", "web1"], 4, "lifeline: no server 'web1' now or in the past; did you mean 'web-1'?\n"),
            (["server", "wait", "web1", "--state", "standby"], 4, "lifeline: no server 'web1'; did you mean 'web-1'?\n"),
            (["server", "points", "db-primary"], 4, "lifeline: no server 'db-primary'; servers: web-1\n"),
            (["queues", "pause", "nightlly"], 4,
             "lifeline: no queue 'nightlly'; did you mean 'nightly'? known queues: nightly, recovery.backup, recovery.cleanup, recovery.finalize, recovery.network, recovery.provision, recovery.vm (--create configures a queue ahead of its first job)\n"),
            (["enqueue", "nop"], 64, "lifeline: unknown job kind 'nop' (known: exec, flaky, noop, sleep); did you mean 'noop'?\n"),
            (["ENQUEUE", "noop"], 64, "lifeline: unknown command 'ENQUEUE'; did you mean 'enqueue'?\n"),
            (["enqueue", "noop", "--priority", "abc"], 64, "lifeline: invalid value 'abc' for --priority: not a whole number (see --help)\n"),
            (["jobs", "show", "99999999999999999999"], 64, "lifeline: invalid value '99999999999999999999' for <id>: too large (see --help)\n"),
        ]
        for (arguments, status, said) in cases {
            let result = try await cli.run(arguments)
            #expect(result.status == status && result.stderr == said, "\(arguments): \(result.status) \(result.stderr)")
        }
        #expect(try await cli.jobCount() == jobs, "nothing was enqueued")
    }

    @Test("a worker told to serve a queue nothing has used says so once, naming the known ones")
    func workerQueueTypo() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--queue", "nightly"])
        let result = try await cli.run(["worker", "--queues", "nightyl", "--drain"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("queue 'nightyl' has had no job and has no settings yet; did you mean 'nightly'? known queues: nightly"), "\(result.stderr)")
        // TIME LEVEL LABEL: MESSAGE, and no module's name.
        #expect(result.stderr.split(separator: "\n").contains {
            $0.wholeMatch(of: #/\d{4}-\d\d-\d\dT[\d:.]+Z warning lifeline\.worker: queue 'nightyl' has had no job and has no settings yet; did you mean 'nightly'\? known queues: nightly, recovery\.backup, recovery\.cleanup, recovery\.finalize, recovery\.network, recovery\.provision, recovery\.vm/#) != nil
        } && !result.stderr.contains("[Lifeline"), "\(result.stderr)")
        let level = try await cli.run(["worker", "--drain"], extraEnvironment: ["LIFELINE_LOG_LEVEL": "verbose"])
        #expect(level.status == 64 && level.stderr == "lifeline: LIFELINE_LOG_LEVEL: invalid level 'verbose'; use one of trace, debug, info, notice, warning, error, critical\n")
        for written in ["INFO", "Warn"] {
            #expect(try await cli.run(["worker", "--drain"], extraEnvironment: ["LIFELINE_LOG_LEVEL": written]).status == 0, "\(written)")
        }
    }

    @Test("store copy names the flag whose path has no directory")
    func copyTargetDirectory() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let source = cli.home.appendingPathComponent("lifeline.db").path
        let copy = try await cli.run(["store", "copy", "--from", source, "--to", "/nonexistent-dir/copy.db"])
        #expect(copy.status == 4 && copy.stderr == "lifeline: no directory /nonexistent-dir for --to /nonexistent-dir/copy.db; create it first\n", "\(copy.stderr)")
        let notes = try cli.writeFile("notes.txt", "not a queue\n")
        let under = try await cli.run(["store", "copy", "--from", source, "--to", notes + "/copy.db"])
        #expect(under.status == 4 && under.stderr == "lifeline: no directory \(notes) for --to \(notes)/copy.db: a file of that name is there\n", "\(under)")
        let wrong = try await cli.run(["store", "copy", "--from", notes, "--to", cli.home.appendingPathComponent("copy.db").path])
        #expect(wrong.status == 1 && wrong.stderr == "lifeline: \(notes) is not a SQLite database; move it away or pass another --from\n", "\(wrong.stderr)")
        let directory = try await cli.run(["store", "copy", "--from", cli.home.path, "--to", cli.home.appendingPathComponent("copy.db").path])
        #expect(directory.status == 64 && directory.stderr.contains("; --from takes the database file's path"), "\(directory.stderr)")
    }

    @Test("a drain that serves a paused queue, or one limited to 0, with jobs waiting says so, and ends once the queue is let go and its jobs have run")
    func drainOfPausedQueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop", "--queue", "nightly"])
        #expect(try await cli.run(["queues", "pause", "nightly"]).status == 0)
        let drain = try cli.start(["worker", "--drain"])
        try await waitUntil("the drain to say the queue is paused", timeout: .seconds(30)) {
            drain.stderr.contains("queue 'nightly' is paused with 1 job waiting: --drain waits for it until 'lifeline queues resume nightly'")
        }
        #expect(try await cli.run(["queues", "resume", "nightly"]).status == 0)
        #expect(try await drain.waitForExit() == 0)
        #expect(try await cli.job(id)["state"] == "completed")
        // A limit of 0 holds jobs back as a pause does, and is said as such.
        let held = try await cli.enqueue(["noop", "--queue", "nightly"])
        #expect(try await cli.run(["queues", "limit", "nightly", "0"]).status == 0)
        let second = try cli.start(["worker", "--drain"])
        defer { second.signal(SIGKILL) }
        try await waitUntil("the drain to say the queue is limited to 0", timeout: .seconds(30)) {
            second.stderr.contains("queue 'nightly' is limited to 0 running with 1 job waiting: --drain waits for it until 'lifeline queues limit nightly none'")
        }
        #expect(try await cli.run(["queues", "limit", "nightly", "none"]).status == 0)
        #expect(try await second.waitForExit() == 0)
        #expect(try await cli.job(held)["state"] == "completed")
    }

    @Test("a drain with nothing due now says it waits for the jobs due later, and ends once none is left")
    func drainOfScheduledJobs() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop", "--delay", "1h"])
        let drain = try cli.start(["worker", "--drain"])
        defer { drain.signal(SIGKILL) }
        try await waitUntil("the drain to say what it waits for", timeout: .seconds(30)) {
            drain.stderr.contains("nothing is due now: --drain waits for jobs due later, the next at ")
        }
        #expect(try await cli.run(["jobs", "cancel", "\(id)"]).status == 0)
        #expect(try await drain.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test("a drain with nothing due while another worker runs jobs says it waits for them, not for jobs due later")
    func drainBehindAnotherWorker() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let long = try await cli.enqueue(["sleep", "--args", #"{"ms": 60000}"#])
        let other = try cli.start(["worker"])
        defer { other.signal(SIGKILL) }
        try await waitUntil("the other worker to run the job", timeout: .seconds(30)) { try await cli.job(long)["state"] == "running" }
        let drain = try cli.start(["worker", "--drain"])
        defer { drain.signal(SIGKILL) }
        try await waitUntil("the drain to say what it waits for", timeout: .seconds(30)) {
            drain.stderr.contains("nothing is due now: --drain waits for 1 job running under other workers, and any due later (lifeline jobs list --running)")
        }
        #expect(try await cli.run(["jobs", "cancel", "\(long)"]).status == 0)
        #expect(try await drain.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test("a scheduled job whose time has come is due now: a drain does not say it waits for it")
    func drainOfJobDueNow() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let later = try await cli.enqueue(["noop", "--delay", "1h"])
        let soon = try await cli.enqueue(["noop", "--delay", "1s"])
        let due = Date().addingTimeInterval(1)
        // Still scheduled once due: a claim, which no worker has made yet, makes it available.
        try await waitUntil("the job to come due", timeout: .seconds(30)) { Date() > due }
        #expect(try await cli.job(soon)["state"] == "scheduled")
        let drain = try cli.start(["worker", "--drain"])
        defer { drain.signal(SIGKILL) }
        try await waitUntil("the job due now to run", timeout: .seconds(30)) { try await cli.job(soon)["state"] == "completed" }
        #expect(!drain.stderr.contains("nothing is due now"), "\(drain.stderr)")
        // Once what was due has run, it says what it waits for.
        try await waitUntil("the drain to say it waits for the job due later", timeout: .seconds(10)) {
            drain.stderr.contains("nothing more is due now: --drain waits for jobs due later, the next at ")
        }
        #expect(try await cli.run(["jobs", "cancel", "\(later)"]).status == 0)
        #expect(try await drain.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test("a wait for a server whose job no worker takes says so, once, and names the job", arguments: ["wait", "create"])
    func waitWithoutWorker(command: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let wait: BackgroundCommand
        let job: Int64
        if command == "wait" {
            job = try #require(try await cli.json(["server", "create", "web-1", "--json"]).first?["job"]?.intValue)
            wait = try cli.start(["server", "wait", "web-1", "--state", "standby", "--timeout", "7s", "--json"])
        } else {
            // An action's own --wait: the job it enqueued is printed only at the end, which a
            // timeout never reaches, so its message is where the job is named.
            wait = try cli.start(["server", "create", "web-1", "--wait", "--timeout", "7s"])
            try await waitUntil("the create to enqueue its job", timeout: .seconds(30)) { try await cli.run(["jobs", "list", "--json"]).lines.count == 1 }
            job = try #require(try await cli.json(["jobs", "list", "--json"]).first?["id"]?.intValue)
        }
        #expect(try await wait.waitForExit() == 1)
        // Off a terminal, the state and stage are written as lines of their own, once each, and
        // that the job waits for a worker once it has waited 2 s.
        let all = wait.stderr.split(separator: "\n")
        #expect(all.filter { !$0.hasPrefix("lifeline:") } == ["web-1: creating · create", "web-1: creating · create (waiting for a worker)"], "\(wait.stderr)")
        let lines = all.filter { $0.hasPrefix("lifeline:") }
        #expect(lines.first == "lifeline: web-1: its job \(job) on queue recovery.provision waits for a worker; does one run that serves its queue? (lifeline worker serves every queue)", "\(wait.stderr)")
        #expect(lines.count == 2 && lines.last?.hasPrefix("lifeline: timed out: web-1 is still in creating") == true, "\(wait.stderr)")
        #expect(lines.last?.hasSuffix("(job \(job): lifeline jobs show \(job))") == true, "\(wait.stderr)")
        if command == "wait" {
            // With --json, the server as it is, as an action's --wait prints it.
            let server = try JSONValue(parsing: wait.stdout)
            #expect(server["name"] == "web-1" && server["state"] == "creating", "\(wait.stdout)")
        }
    }

    @Test("a wait whose stage job waits while workers are busy says so, rather than asking whether one runs")
    func waitBehindBusyWorkers() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let busy = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "60"]}"#])
        let worker = try cli.start(["worker", "--queues", "default", "--concurrency", "1"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(busy)["state"] == "running" }
        let wait = try await cli.run(["server", "create", "web-1", "--wait", "--timeout", "7s"])
        let lines = wait.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") }
        #expect(wait.status == 1 && lines.first?.hasSuffix(
            "on queue recovery.provision waits for a free slot or a worker that serves the queue; 1 job is running (lifeline jobs list --running)"
        ) == true, "\(wait.stderr)")
    }

    @Test("a wait for a server that rests short of the state waited for says once that only an action moves it on, and which")
    func waitOnRestingServer() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1"]).status == 0)
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let wait = try await cli.run(["server", "wait", "web-1", "--state", "failover", "--timeout", "2s"])
        #expect(wait.status == 1)
        #expect(wait.stderr.split(separator: "\n") == [
            "web-1: standby",
            "lifeline: web-1 rests in standby: only an action moves it on (allowed: failover, test-failover, delete)",
            "lifeline: timed out: web-1 is still in standby",
        ], "\(wait.stderr)")
    }

    @Test("a wait whose stage job a paused queue holds back says so, not that no worker runs; server show says it too")
    func waitOnPausedQueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["queues", "pause", "recovery.provision", "--create"]).status == 0)
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        let wait = try await cli.run(["server", "create", "web-1", "--wait", "--timeout", "7s", "--json"])
        #expect(wait.status == 1, "\(wait)")
        let lines = wait.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") }
        #expect(lines.first?.hasSuffix("waits: queue recovery.provision is paused (lifeline queues resume recovery.provision)") == true, "\(wait.stderr)")
        // The progress line says it too, as a terminal shows it all along, not "waiting for a worker".
        let progress = wait.stderr.split(separator: "\n").filter { !$0.hasPrefix("lifeline:") }
        #expect(progress == ["web-1: creating · create", "web-1: creating · create (queue recovery.provision is paused)"], "\(wait.stderr)")
        // The action was taken: a program gets its job and the server as it is, as when it completes.
        let printed = try JSONValue(parsing: wait.stdout)
        #expect(printed["job"]?.intValue != nil && printed["existing"] == false && printed["server"]?["state"] == "creating", "\(wait.stdout)")
        #expect(try await cli.run(["server", "show", "web-1"]).stdout.contains("waiting: queue recovery.provision is paused"))
    }

    @Test("Ctrl-C on a wait ends only the wait, saying what goes on and how to wait again (exit 130)")
    func interruptedWait() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "iw-1", "--disk-size", "64KiB"]).status == 0)
        let job = try #require(try await cli.server("iw-1")?["current_job"]?.intValue)
        // No worker runs: both wait until interrupted.
        let action = try cli.start(["server", "create", "iw-2", "--disk-size", "64KiB", "--wait"])
        let wait = try cli.start(["server", "wait", "iw-1", "--state", "standby"])
        for command in [action, wait] {
            try await waitUntil("the wait to be under way", timeout: .seconds(20)) { command.stderr.contains("waits for a worker") }
            command.signal(SIGINT)
            #expect(try await command.waitForExit() == 130)
        }
        #expect(action.stderr.hasSuffix("lifeline: interrupted; create goes on (job \(job + 1); lifeline server wait iw-2 --state standby)\n"), "\(action.stderr)")
        #expect(wait.stderr.hasSuffix("lifeline: interrupted; iw-1 was not yet standby (lifeline server wait iw-1 --state standby)\n"), "\(wait.stderr)")
        #expect(try await cli.server("iw-2")?["state"] == "creating", "the action goes on")
    }

    @Test("Ctrl-C on an action's wait names the job under way: a later stage's, once the first is done")
    func interruptedLaterStage() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "ls-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.run(["queues", "pause", "recovery.network", "--create"]).status == 0)
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        let failover = try cli.start(["server", "failover", "ls-1", "--wait"])
        try await waitUntil("the failover's second stage to wait", timeout: .seconds(30)) { failover.stderr.contains("queue recovery.network is paused") }
        let first = try #require(try await cli.json(["jobs", "list", "--queue", "recovery.vm", "--json"]).first?["id"]?.intValue)
        let job = try #require(try await cli.server("ls-1")?["current_job"]?.intValue)
        #expect(job != first)
        failover.signal(SIGINT)
        #expect(try await failover.waitForExit() == 130)
        #expect(failover.stderr.contains("lifeline: interrupted; failover goes on (job \(job); lifeline server wait ls-1 --state "), "\(failover.stderr)")
    }

    @Test("an action replayed under its key once the server has moved on, or been removed and made again, says the action was requested earlier, not that it failed, with --wait and without")
    func replayAfterMovingOn() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "test-failover", "web-1", "--idempotency-key", "t-1", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "stop-test", "web-1", "--wait"]).status == 0)
        // With --wait and without, alike: nothing on standard output, whose line would read
        // as the action's success, and a script reading $? is not told the test runs.
        for wait in [["--wait"], []] {
            let replayed = try await cli.run(["server", "test-failover", "web-1", "--idempotency-key", "t-1"] + wait)
            #expect(replayed.status == 1 && replayed.stdout.isEmpty, "\(wait): \(replayed)")
            #expect(replayed.stderr.hasPrefix("lifeline: test-failover was requested earlier (job ") && replayed.stderr.hasSuffix("web-1 rests in standby, not testing_failover\n"), "\(replayed.stderr)")
        }
        // A delete replayed onto a new server of the same name deletes nothing, and says so;
        // a create replayed onto it made nothing of it, and says so too.
        #expect(try await cli.run(["server", "create", "web-2", "--disk-size", "64KiB", "--idempotency-key", "c-1", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "delete", "web-2", "--idempotency-key", "d-1", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "create", "web-2", "--disk-size", "64KiB", "--wait"]).status == 0)
        for (action, key) in [("delete", "d-1"), ("create", "c-1")] {
            let size = action == "create" ? ["--disk-size", "64KiB"] : []
            for wait in [["--wait"], []] {
                let replayed = try await cli.run(["server", action, "web-2", "--idempotency-key", key] + size + wait)
                #expect(replayed.status == 1 && replayed.stdout.isEmpty, "\(action) \(wait): \(replayed)")
                #expect(replayed.stderr.hasPrefix("lifeline: \(action) was requested earlier (job "), "\(replayed.stderr)")
                #expect(replayed.stderr.hasSuffix("that server was removed since, and web-2 is another one now, in standby\n"), "\(replayed.stderr)")
            }
            let json = try await cli.run(["server", action, "web-2", "--idempotency-key", key, "--json"] + size)
            #expect(json.status == 1, "\(json)")
            #expect(try JSONValue(parsing: json.stdout)["existing"] == true, "a program still gets the answer")
        }
        #expect(try await cli.server("web-2")?["state"] == "standby")
    }

    @Test("a completed job cannot be cancelled (exit 3); a cancelled one is left as it is (exit 0)")
    func cancelFinished() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let done = try await cli.enqueue(["noop"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let cancelled = try await cli.enqueue(["noop", "--delay", "1h"])
        #expect(try await cli.run(["jobs", "cancel", "\(cancelled)"]).status == 0)
        let again = try await cli.run(["jobs", "cancel", "\(cancelled)"])
        #expect(again.status == 0 && again.stdout == "job \(cancelled) is already cancelled\n", "\(again)")
        let refused = try await cli.run(["jobs", "cancel", "\(done)"])
        #expect(refused.status == 3, "\(refused)")
        #expect(refused.stderr == "lifeline: job \(done) is already completed: only waiting or running jobs can be cancelled\n")
        #expect(try await cli.job(done)["state"] == "completed")
    }

    @Test("a queue setting refused for an unknown queue creates nothing, not even the database; a recovery stage's queue is known")
    func queueSettingsCreateNothing() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let database = cli.home.appendingPathComponent("lifeline.db").path
        for arguments in [["queues", "pause", "nightly"], ["queues", "limit", "nightly", "3"], ["queues", "retain", "nightly", "--completed", "1d"]] {
            let result = try await cli.run(arguments)
            #expect(result.status == 4 && result.stderr.hasPrefix("lifeline: "), "\(arguments): \(result)")
            #expect(!FileManager.default.fileExists(atPath: database), "\(arguments)")
        }
        let limit = try await cli.run(["queues", "limit", "recovery.vm", "5"])
        #expect(limit.status == 0, "\(limit)")
        #expect(try await cli.json(["queues", "list", "--json"]).first { $0["name"] == "recovery.vm" }?["limit"] == 5)
    }

    @Test("a name no server can have is a usage error (64) for every server command", arguments: [
        ["server", "show", "../x"], ["server", "history", "../x"], ["server", "points", "../x"], ["server", "wait", "../x", "--state", "standby"],
        ["server", "failover", "../x"], ["server", "create", "../x"], ["jobs", "list", "--server", "../x"], ["events", "--server", "../x"],
    ])
    func invalidServerName(arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.hasPrefix("lifeline: invalid server name '../x'"), "\(result)")
    }

    @Test("a name no queue can have is a usage error (64) for the commands that filter by queue", arguments: [
        ["jobs", "list", "--queue", "bad name"], ["jobs", "retry", "--state", "discarded", "--queue", "bad name"],
    ])
    func invalidQueueFilter(arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.hasPrefix("lifeline: invalid queue name 'bad name'"), "\(result)")
    }

    @Test(
        "a pool drains under an address-space limit (ulimit -v) of 300 MiB (on two cores); a worker under 256 MiB says at its start that it may stall",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"), "needs util-linux's prlimit")
    )
    func smallAddressSpace() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // 200 programs by a pool of 4 × 16 under 300 MiB on two cores (a thread's stack more a
        // core): its writer's threads once took every byte of it for their memory pools, and
        // the pool stalled, deaf to signals.
        let batch = (0..<200).map { _ in #"{"args": {"argv": ["sleep", "0.3"]}}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        let limit = (284 + 8 * ProcessInfo.processInfo.activeProcessorCount) << 20
        let pool = try BackgroundCommand(
            "/usr/bin/prlimit", ["--as=\(limit)", cli.binary.path, "worker", "--processes", "4", "--concurrency", "16", "--drain"],
            environment: cli.environment)
        defer { pool.signal(SIGKILL) }
        #expect(try await pool.waitForExit(timeout: .seconds(60)) == 0, "\(pool.stderr.suffix(1000))")
        #expect(!pool.stderr.contains("address-space"), "\(pool.stderr.suffix(1000))")
        let jobs = try await cli.json(["jobs", "list", "--state", "completed", "--limit", "1000", "--json"])
        #expect(jobs.count == 200)
        // Below 256 MiB a worker may still stall, and says so at its start.
        let limited = try BackgroundCommand("/usr/bin/prlimit", ["--as=\(200 << 20)", cli.binary.path, "worker"], environment: cli.environment)
        defer { limited.signal(SIGKILL) }
        try await waitUntil("the warning", timeout: .seconds(30)) { limited.stderr.contains("address-space") || !limited.isRunning }
        #expect(limited.stderr.contains("warning lifeline.worker: the address-space limit (ulimit -v) is 200 MiB: a worker reserves more"), "\(limited.stderr)")
        let unlimited = try await cli.run(["worker", "--drain"])
        #expect(unlimited.status == 0 && !unlimited.stderr.contains("address-space"), "\(unlimited.stderr)")
    }

    @Test("a database path too long for SQLite is refused in one line (64), new or existing, and nothing is made there")
    func pathTooLong() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        // Directories of 100 bytes under the home, to a database path of exactly `bytes`.
        func path(_ bytes: Int) throws -> String {
            var directory = cli.home.path
            while bytes - directory.utf8.count - "/lifeline.db".utf8.count > 101 { directory += "/" + String(repeating: "d", count: 100) }
            directory += "/" + String(repeating: "e", count: bytes - directory.utf8.count - "/lifeline.db".utf8.count - 1)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return directory + "/lifeline.db"
        }
        let new = try path(488)
        let refused = try await cli.run(["enqueue", "noop", "--db", new])
        #expect(refused.status == 64 && refused.stderr == "lifeline: \(new) is too long a path for SQLite: 488 bytes from /, and it takes 487 at most; pass a shorter --db or LIFELINE_HOME\n", "\(refused)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: (new as NSString).deletingLastPathComponent).isEmpty)
        // A new home too long for its database is refused before any of its directories is made.
        let first = cli.home.path + "/" + String(repeating: "n", count: 200)
        let home = first + "/" + String(repeating: "m", count: 200) + "/" + String(repeating: "k", count: 100)
        let homeRefused = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_HOME": home])
        #expect(homeRefused.status == 64 && homeRefused.stderr.contains("is too long a path for SQLite"), "\(homeRefused)")
        #expect(!FileManager.default.fileExists(atPath: first))
        let existing = try path(505)
        try FileManager.default.copyItem(atPath: cli.home.appendingPathComponent("lifeline.db").path, toPath: existing)
        for arguments in [["stats"], ["enqueue", "noop"]] {
            let result = try await cli.run(arguments + ["--db", existing])
            #expect(result.status == 64 && result.stderr.hasSuffix("505 bytes from /, and it takes 504 at most; pass a shorter --db or LIFELINE_HOME\n"), "\(result)")
        }
        // Up to the limit, both work.
        #expect(try await cli.run(["enqueue", "noop", "--db", try path(487)]).status == 0)
        let longest = try path(504)
        try FileManager.default.copyItem(atPath: cli.home.appendingPathComponent("lifeline.db").path, toPath: longest)
        #expect(try await cli.run(["enqueue", "noop", "--db", longest]).status == 0)
    }

    @Test("a new queue's name may not start with '-' (64), which no command could name but after '--'", arguments: [
        ["enqueue", "noop", "--queue=-x"], ["queues", "limit", "--create", "--", "-x", "2"],
    ])
    func queueNameLikeAnOption(arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr == "lifeline: invalid queue name '-x': it must not start with '-', which commands read as an option\n", "\(result)")
        let queues = try await cli.run(["queues", "list", "--json"])
        #expect(!queues.stdout.contains("\"-x\""), "\(queues.stdout)")
    }

    @Test("a new queue may not be named '.' or '..' (64), which no URL can name: the API's and the dashboard's queue actions", arguments: [
        (["enqueue", "noop", "--queue", ".."], ".."), (["queues", "pause", "--create", "."], "."),
    ])
    func queueNameLikeAPathStep(arguments: [String], name: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr == "lifeline: invalid queue name '\(name)': '.' and '..' name no queue in a URL; choose another\n", "\(result)")
        #expect(try await cli.json(["queues", "list", "--json"]).map { $0["name"] } == ["default"])
    }

    @Test("a create of a server that exists, or a replay of its key, with other disks is a conflict (3), not a layout to correct")
    func createAgainWithOtherDisks() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "k-1", "--disk-size", "64KiB", "--idempotency-key", "ck"]).status == 0)
        let replay = try await cli.run(["server", "create", "k-1", "--disk-size", "128KiB", "--idempotency-key", "ck"])
        #expect(replay.status == 3 && replay.stderr.contains("other arguments"), "\(replay)")
        let again = try await cli.run(["server", "create", "k-1", "--disks", "2"])
        #expect(again.status == 3 && again.stderr == "lifeline: server 'k-1' already exists\n", "\(again)")
        // The same request under its key is answered as it was.
        #expect(try await cli.run(["server", "create", "k-1", "--disk-size", "64KiB", "--idempotency-key", "ck"]).status == 0)
        // A new server of the machine with other disks is still the layout to correct.
        let sibling = try await cli.run(["server", "create", "k-2", "--machine", "k-1", "--disk-size", "128KiB"])
        #expect(sibling.status == 64 && sibling.stderr.contains("have 1 × 64KiB disks"), "\(sibling)")
    }

    @Test("an argument that is not UTF-8 text is refused (64), not passed on with its bytes replaced, and creates nothing")
    func argumentNotText() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // Named by the option whose value it is, in either form, or else by its place.
        let cases = [
            (#"exec "$0" enqueue exec --args "$(printf '{"argv": ["printf", "%s", "\377\376"]}')""#, "--args: its value is not UTF-8 text"),
            (#"exec "$0" enqueue noop "--queue=$(printf 'q\377')""#, "--queue: its value is not UTF-8 text"),
            (#"exec "$0" enqueue "$(printf 'noop\377')""#, "argument 2 is not UTF-8 text: arguments must be UTF-8"),
            // After a flag, which takes no value, it is the argument's own.
            (#"exec "$0" enqueue --json "$(printf 'noop\377')""#, "argument 3 is not UTF-8 text: arguments must be UTF-8"),
        ]
        for (script, message) in cases {
            let result = try await BackgroundCommand.run("/bin/sh", ["-c", script, cli.binary.path], environment: cli.environment)
            #expect(result.terminationStatus == 64 && result.stderr == "lifeline: \(message)\n", "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.home.path))
    }

    @Test("a misspelt field of a job's args is named as unknown, even when the field it stands for is missing")
    func misspeltArgsField() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let sleep = try await cli.run(["enqueue", "sleep", "--args", #"{"msx": 5}"#])
        #expect(sleep.status == 64 && sleep.stderr.contains("unknown field 'msx'; did you mean 'ms'?"), "\(sleep)")
        let flaky = try await cli.run(["enqueue", "flaky", "--args", #"{"fail_time": 1}"#])
        #expect(flaky.status == 64 && flaky.stderr.contains("unknown field 'fail_time'; did you mean 'fail_times'?"), "\(flaky)")
        // Named as the missing field it stands for; an extra field, with all the fields there are.
        let exec = try await cli.run(["enqueue", "exec", "--args", #"{"arg": ["ls"], "cwd": "/"}"#])
        #expect(exec.status == 64 && exec.stderr.contains("unknown field 'arg'; did you mean 'argv'?"), "\(exec)")
        let extra = try await cli.run(["enqueue", "exec", "--args", #"{"argv": ["ls"], "evn": {}}"#])
        #expect(extra.status == 64 && extra.stderr.contains("unknown field 'evn' (fields: argv, cwd, env)"), "\(extra)")
        let missing = try await cli.run(["enqueue", "exec", "--args", #"{"cwd": "/"}"#])
        #expect(missing.status == 64 && missing.stderr.contains("missing field 'argv'"), "a field far from the missing one is not taken for it: \(missing)")
        // A batch line's fields alike.
        let batch = try cli.writeFile("jobs.jsonl", #"{"priorty": 3}"# + "\n")
        let line = try await cli.run(["enqueue", "noop", "--batch", batch])
        #expect(line.status == 64 && line.stderr.contains("unknown field 'priorty'; did you mean 'priority'?"), "\(line)")
    }

    @Test("output that cannot be written (a full disk) fails the command with one line, which says what was done all the same; a reader that left (| head) does not")
    func unwritableOutput() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let lost = "cannot write to standard output: no space left on device\n"
        let two = try cli.writeFile("two.jsonl", "{}\n{}\n")
        let commands: [([String], String)] = [
            (["enqueue", "noop", "--json"], "enqueued job 2, but " + lost), (["enqueue", "noop"], "enqueued job 3, but " + lost),
            (["server", "test-failover", "web-1"], "test-failover requested: job 4, but " + lost),
            (["enqueue", "noop", "--batch", two], "enqueued 2 jobs: 5 6, but " + lost),
            (["jobs", "list"], lost), (["stats", "--json"], lost), (["events", "--json"], lost), (["enqueue", "--help"], lost),
            (["jobs", "cancel", "2", "3"], "cancelled jobs 2 3, but " + lost), (["jobs", "retry", "3", "--json"], "retried job 3, but " + lost),
            (["queues", "pause", "default"], "queue default paused, but " + lost), (["queues", "pause", "default"], lost),
            (["queues", "resume", "default"], "queue default resumed, but " + lost), (["queues", "pause", "default"], "queue default paused, but " + lost),
            (["queues", "limit", "default", "2"], "queue default: at most 2 running at once, but " + lost),
            (["queues", "retain", "default", "--completed", "1d"], "queue default keeps completed 1d, but " + lost),
        ]
        // The shell only points standard output at /dev/full; the command's words are its own arguments.
        func toFullDisk(_ command: [String]) async throws -> BackgroundCommand {
            try await BackgroundCommand.run("/bin/sh", ["-c", #"exec "$0" "$@" > /dev/full"#, cli.binary.path] + command, environment: cli.environment)
        }
        for (command, said) in commands {
            let full = try await toFullDisk(command)
            #expect(full.terminationStatus == 1, "\(command)")
            #expect(full.stderr == "lifeline: " + said, "\(command): \(full.stderr)")
        }
        #expect(try await cli.jobCount() == 6, "the jobs were enqueued, and the commands said so")
        #expect(try await cli.job(2)["state"] == "cancelled")
        #expect(try await cli.job(3)["state"] == "available")
        let queue = try JSONValue(parsing: try await cli.run(["queues", "list", "--json"]).stdout.split(separator: "\n").first { $0.contains(#""default""#) }.map(String.init) ?? "")
        #expect(queue["paused"] == true && queue["limit"] == 2, "\(queue)")
        let prune = try await toFullDisk(["jobs", "prune", "--older-than", "0s", "--json"])
        #expect(prune.terminationStatus == 1 && prune.stderr.hasPrefix("lifeline: pruned 2 jobs and ") && prune.stderr.hasSuffix(" events, but " + lost), "\(prune.stderr)")
        #expect(try await cli.jobCount() == 4)
        let batch = try cli.writeFile("batch.jsonl", String(repeating: "{}\n", count: 3000))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        let head = try await BackgroundCommand.run(
            "/bin/sh", ["-c", #""$0" "$@" | head -n 1 > /dev/null"#, cli.binary.path, "jobs", "list", "--limit", "5000"], environment: cli.environment
        )
        #expect(head.stderr.isEmpty, "\(head.stderr)")
        // A pipe whose reader is gone: the change's answer is lost, and said so, not ended unheard by SIGPIPE.
        let script = "import os, subprocess, sys\nr, w = os.pipe()\nos.close(r)\np = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)\nprint(p.returncode)\nprint(p.stderr.decode(), end='')\n"
        for command in [["enqueue", "noop"], ["queues", "resume", "default"]] {
            let readerGone = try await BackgroundCommand.run("/usr/bin/env", ["python3", "-c", script, cli.binary.path] + command, environment: cli.environment)
            let said = readerGone.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(said.first == "1" && said.count == 3 && said[1].hasSuffix(", but cannot write to standard output: broken pipe"), "\(command): \(readerGone.stdout)")
        }
        #expect(try await cli.jobCount() == 3005)
    }

    @Test("a refused value of 100,000 characters is quoted by its start: one line of a few hundred bytes, not of 100,000")
    func longValueQuotedByItsStart() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let long = String(repeating: "a", count: 100_000)
        for arguments in [
            ["enqueue", "noop", "--queue", long], ["enqueue", long], ["server", "create", long], ["jobs", "list", "--state", long],
            ["jobs", "show", String(repeating: "1", count: 1000)],
        ] {
            let result = try await cli.run(arguments)
            #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1, "\(arguments.prefix(3)): \(result.stderr.prefix(200))")
            #expect(result.stderr.utf8.count < 400 && result.stderr.contains(String(repeating: result.stderr.contains("'1") ? "1" : "a", count: 80) + "…'"),
                    "\(arguments.prefix(3)): \(result.stderr.prefix(400))")
        }
    }

    @Test("a refusal says what was given, not what was not", arguments: [
        (["queues", "retain", "--completed", "1d"], [:], "lifeline: name a queue, or give --all for every queue"),
        (["queues", "retain", "default", "--all", "--completed", "1d"], [:], "lifeline: name a queue or give --all, not both"),
        (["jobs", "prune", "--older-than", "1.5h"], [:], "lifeline: --older-than: invalid duration '1.5h': whole numbers only; write a sum such as 1h30m or 1500ms\n"),
        (["worker", "--drain"], ["LIFELINE_SIM_FAULTS": "garbage"], "lifeline: LIFELINE_SIM_FAULTS: "),
        (["worker", "--drain"], ["LIFELINE_SIM_FAULTS": "vm:fail-first=1"], "lifeline: LIFELINE_SIM_FAULTS: invalid fault rule 'vm:fail-first=1': no stage is named 'vm'; stages: create, start-vm, "),
        (["worker", "--drain"], ["LIFELINE_SIM_THROUGHPUT": "fast"], "lifeline: LIFELINE_SIM_THROUGHPUT: "),
    ] as [([String], [String: String], String)])
    func refusalsNameTheirCause(arguments: [String], environment: [String: String], said: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments, extraEnvironment: environment)
        #expect(result.status == 64 && result.stderr.hasPrefix(said) && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("a bad duration is a usage error (64) before the store is looked for: on no database, not 'no database' (4)", arguments: [
        ["jobs", "list", "--since", "5x"], ["events", "--since", "5x"], ["jobs", "retry", "--state", "discarded", "--since", "5x"],
        ["jobs", "prune", "--older-than", "5x"],
    ])
    func badDurationWithoutDatabase(arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.hasSuffix("invalid duration '5x': unknown unit 'x'; use ms, s, m, h or d\n"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("lifeline.db").path))
    }

    @Test("a database or home named by one character is made and used there, by a write, a read and a copy")
    func oneCharacterPaths() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let directory = try cli.writeFile("x", "")
        try FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // In the directory, so that each name is one character as given.
        func run(_ arguments: [String], home: String = "h") async throws -> BackgroundCommand {
            let command = try cli.start(arguments, extraEnvironment: ["LIFELINE_HOME": home], directory: URL(fileURLWithPath: directory))
            _ = try await command.waitForExit()
            return command
        }
        for (arguments, home) in [
            (["enqueue", "noop", "--db", "w"], "h"), (["enqueue", "noop"], "q"), (["jobs", "list", "--db", "w"], "h"),
            (["store", "copy", "--from", "w", "--to", "z"], "h"), (["stats", "--json", "--db", "z"], "h"),
        ] {
            let command = try await run(arguments, home: home)
            #expect(command.terminationStatus == 0, "\(arguments): \(command.stderr)")
        }
        for name in ["w", "q/lifeline.db", "z"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + name), "\(name)")
        }
    }

    @Test("--db before the command's name is taken as after it: lifeline --db F jobs list")
    func storeOptionBeforeCommand() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // A database beside the home, so that one read there could not be the home's.
        let path = try cli.writeFile("elsewhere.db", "")
        try FileManager.default.removeItem(atPath: path)
        let enqueued = try await cli.run(["--db", path, "enqueue", "noop", "--json"])
        #expect(enqueued.status == 0, "\(enqueued)")
        #expect(try await cli.run(["--db=\(path)", "enqueue", "sleep", "--args", #"{"ms": 1}"#]).status == 0)
        let listed = try await cli.run(["--db", path, "jobs", "list", "--json"])
        #expect(listed.status == 0 && listed.stdout.split(separator: "\n").count == 2, "\(listed)")
        #expect(try await cli.run(["--db", path, "worker", "--drain"]).status == 0)
        let stats = try await cli.run(["--db", path, "stats", "--json"])
        #expect(stats.status == 0 && stats.stdout.contains(#""completed":2"#), "\(stats)")
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("lifeline.db").path), "the home's queue was never made")
        let needs = "lifeline: '--db' takes a value and a command after it, e.g. lifeline --db queue/lifeline.db jobs list\n"
        for arguments in [["--db", path], ["--db", "jobs", "list"]] {
            let result = try await cli.run(arguments)
            #expect(result.status == 64 && result.stderr == needs, "\(arguments): \(result)")
        }
        for (arguments, said) in [
            (["--db", path, "jobs", "lst"], "unknown command 'lst'; did you mean 'list'?"),
            (["--db", path, "jbos", "list"], "unknown command 'jbos'; did you mean 'jobs'?"),
            (["--db", path, "enqueue", "noop", "--db", path + "2"], "--db is given 2 times: name one database"),
            (["jobs", "list", "--db=\(path)", "--db", path], "--db is given 2 times: name one database"),
        ] {
            let result = try await cli.run(arguments)
            #expect(result.status == 64 && result.stderr == "lifeline: \(said)\n", "\(arguments): \(result)")
        }
    }

    /// A server on a loopback port that answers a client's first message (a request for TLS,
    /// or with sslmode=disable its startup) with `answer` (to the first, a PostgreSQL server's
    /// 'S' or 'N') and closes the connection; and its port.
    static func answeringFirstMessage(with answer: String) async throws -> (BackgroundCommand, String) {
        let server = try BackgroundCommand("/usr/bin/env", ["python3", "-c", """
            import socket
            listener = socket.create_server(("127.0.0.1", 0))
            print(listener.getsockname()[1], flush=True)
            while True:
                connection, _ = listener.accept()
                connection.recv(8)
                connection.sendall(b"\(answer)")
                connection.close()
            """], environment: ProcessInfo.processInfo.environment)
        return (server, try await server.nextLine())
    }

    @Test("a URL that asks for TLS of a server that offers none is refused at once, in one line, by a worker too")
    func serverWithoutTLS() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // A PostgreSQL server with ssl off answers a client's TLS request with 'N', as this one does.
        let (server, port) = try await Self.answeringFirstMessage(with: "N")
        defer { server.signal(SIGKILL) }
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = "postgres://lifeline:hunter2-secret@127.0.0.1:\(port)/lifeline?sslmode=\(mode)"
            for command in [["stats"], ["worker"]] {
                let started = ContinuousClock.now
                let result = try await cli.run(command + ["--db", url])
                #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1, "\(command) \(mode): \(result.stderr)")
                #expect(result.stderr.hasPrefix("lifeline: no TLS connection to PostgreSQL at postgres://lifeline@127.0.0.1:\(port)/lifeline")
                    && result.stderr.contains("the server does not offer TLS"), "\(result.stderr)")
                #expect(ContinuousClock.now - started < .seconds(10), "not waited out as an outage")
            }
        }
    }

    @Test("a server that offers TLS and closes the connection mid-handshake, as a restarting one does, is waited out as an outage, not refused")
    func closedDuringHandshake() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (server, port) = try await Self.answeringFirstMessage(with: "S")
        defer { server.signal(SIGKILL) }
        let url = "postgres://lifeline@127.0.0.1:\(port)/lifeline"
        let wait = try await cli.run(["server", "wait", "web-1", "--state", "standby", "--timeout", "3s", "--db", url])
        let lines = wait.stderr.split(separator: "\n")
        #expect(wait.status == 1 && lines.count == 2, "\(wait.stderr)")
        #expect(lines.first == "lifeline: cannot reach PostgreSQL at \(url): the connection closed during the TLS handshake; retrying every second", "\(wait.stderr)")
        #expect(lines.last?.hasPrefix("lifeline: timed out waiting for the database") == true, "\(wait.stderr)")
    }

    @Test("a URL whose port answers in another protocol (an SSH server's) is refused at once, in one line, by a worker too")
    func notPostgres() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (server, port) = try await Self.answeringFirstMessage(with: "SSH-2.0-OpenSSH_9.2\\r\\n")
        defer { server.signal(SIGKILL) }
        let url = "postgres://lifeline:hunter2-secret@127.0.0.1:\(port)/lifeline?sslmode=disable"
        for command in [["stats"], ["worker"]] {
            let started = ContinuousClock.now
            let result = try await cli.run(command + ["--db", url])
            #expect(result.status == 1 && result.stderr == """
                lifeline: what answers at postgres://lifeline@127.0.0.1:\(port)/lifeline is not PostgreSQL: it answers in another protocol (is the port right?)

                """, "\(command): \(result.stderr)")
            #expect(ContinuousClock.now - started < .seconds(10), "not waited out as an outage")
        }
    }

    @Test("a server that offers TLS and then speaks something else is refused at once, not waited out")
    func notTLSAfterAll() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (server, port) = try await Self.answeringFirstMessage(with: "S-this-is-no-TLS-record")
        defer { server.signal(SIGKILL) }
        let started = ContinuousClock.now
        let wait = try await cli.run(["server", "wait", "web-1", "--state", "standby", "--timeout", "30s", "--db", "postgres://lifeline@127.0.0.1:\(port)/lifeline"])
        #expect(wait.status == 1 && wait.stderr.split(separator: "\n").count == 1, "\(wait.stderr)")
        #expect(wait.stderr.hasPrefix("lifeline: no TLS connection to PostgreSQL at ") && wait.stderr.contains("sent data that is no TLS"), "\(wait.stderr)")
        #expect(ContinuousClock.now - started < .seconds(10), "not waited out as an outage")
    }
}
