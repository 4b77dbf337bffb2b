import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("lifeline worker", .serialized)
struct WorkerCLITests {
    @Test("four worker processes complete 5,000 jobs, each exactly once, with no lock errors")
    func fourProcesses() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let batch = try cli.writeFile("jobs.jsonl", String(repeating: "{}\n", count: 5000))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        let workers = try (0..<4).map { _ in try cli.start(["worker", "--drain", "--concurrency", "16"]) }
        var logs = ""
        for worker in workers {
            #expect(try await worker.waitForExit(timeout: .seconds(120)) == 0)
            logs += worker.stderr
        }
        #expect(!logs.contains("locked") && !logs.contains("error"), "worker logs: \(logs.prefix(2000))")
        let jobs = try await cli.json(["jobs", "list", "--limit", "10000", "--json"])
        #expect(jobs.count == 5000)
        #expect(jobs.allSatisfy { $0["state"] == "completed" && $0["attempt"] == 1 })
        let completions = try await cli.json(["events", "--type", "completed", "--json"]).compactMap { $0["job"]?.intValue }
        #expect(completions.count == 5000 && Set(completions).count == 5000)
    }

    @Test("a worker killed with SIGKILL loses its job only until the lease expires")
    func sigkill() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["sleep", "--args", #"{"ms": 4000}"#, "--backoff", "100ms"])
        let doomed = try cli.start(["worker", "--lease", "1s"])
        try await waitUntil("the job to run") { try await cli.job(id)["state"] == "running" }
        kill(doomed.processIdentifier, SIGKILL)
        _ = try await doomed.waitForExit()
        let rescuer = try cli.start(["worker", "--drain", "--lease", "1s"])
        #expect(try await rescuer.waitForExit() == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "completed" && job["attempt"] == 2)
        let errors = job["errors"]?.arrayValue ?? []
        #expect(errors.count == 1 && errors.first?["attempt"] == 1)
        #expect(errors.first?["error"]?.stringValue?.contains("lease expired") == true)
        let completions = try await cli.json(["events", "--job", "\(id)", "--type", "completed", "--json"])
        #expect(completions.count == 1)
    }

    @Test("a timeout kills an exec child that would run forever")
    func timeoutKillsChild() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#, "--timeout", "500ms", "--max-attempts", "1"])
        let worker = try cli.start(["worker", "--drain"])
        #expect(try await worker.waitForExit() == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "discarded")
        #expect(job.canonicalText.contains("timed out after 500ms"))
        #expect(ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty)
    }

    @Test("a program stopped at its timeout leaves the end of its output in the attempt's error", arguments: [1, 2])
    func timeoutKeepsOutput(processes: Int) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue([
            "exec", "--args", #"{"argv": ["sh", "-c", "echo copied 3 of 8 disks; echo disk 4 is slow >&2; exec sleep 30"]}"#,
            "--timeout", "1s", "--max-attempts", "1",
        ])
        #expect(try await cli.run(["worker", "--drain", "--processes", "\(processes)"]).status == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "discarded")
        #expect(job["errors"]?.arrayValue?.last?["error"] == "timed out after 1s: disk 4 is slow", "\(job)")
    }

    @Test("an exec job outlives the worker's idle threads: only the worker's death ends it")
    func longExec() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // Idle dispatch threads exit after about 5 s; a child tied to one would die with it.
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "6.5"]}"#, "--max-attempts", "1"])
        let worker = try cli.start(["worker", "--drain"])
        #expect(try await worker.waitForExit(timeout: .seconds(60)) == 0)
        #expect(try await cli.job(id)["state"] == "completed")
    }

    @Test("an exec child dies with its worker")
    func childDiesWithWorker() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).25"
        _ = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#])
        let worker = try cli.start(["worker"])
        try await waitUntil("the child to start") { !ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty }
        kill(worker.processIdentifier, SIGKILL)
        try await waitUntil("the child to die") { ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty }
    }

    @Test("SIGTERM lets short jobs finish and releases long ones without spending an attempt, in their place in line", arguments: [1, 2])
    func sigterm(processes: Int) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let short = try await cli.enqueue(["sleep", "--args", #"{"ms": 300}"#], count: 2)
        let long = try await cli.enqueue(["sleep", "--args", #"{"ms": 60000}"#])
        let runAt = try await cli.job(long)["run_at"]
        let worker = try cli.start(["worker", "--grace", "1500ms", "--processes", "\(processes)"])
        try await waitUntil("three jobs to run") {
            try await cli.json(["jobs", "list", "--running", "--json"]).count + (try cli.json(["jobs", "list", "--state", "completed", "--json"]).count) == 3
        }
        let stopAsked = ContinuousClock.now
        kill(worker.processIdentifier, SIGTERM)
        #expect(try await worker.waitForExit() == 0)
        #expect(ContinuousClock.now - stopAsked < .seconds(10))
        for id in short { #expect(try await cli.job(id)["state"] == "completed") }
        let released = try await cli.job(long)
        #expect(released["state"] == "available" && released["attempt"] == 0 && released["errors"] == [])
        #expect(released["run_at"] == runAt, "ahead of jobs enqueued since")
        #expect(try await cli.json(["events", "--job", "\(long)", "--type", "released", "--json"]).count == 1)
    }

    @Test(
        "a worker or serve that stops leaves its commits in the database file: a copy of the file alone holds them",
        arguments: ["worker", "pool", "pool after a stage", "drain", "serve"]
    )
    func commitsInFile(holder: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // A recovery stage reads the store: its runner process keeps a connection open.
        if holder == "pool after a stage" { #expect(try await cli.run(["server", "create", "s-1", "--disk-size", "64KiB"]).status == 0) }
        let id = try await cli.enqueue(["noop"])
        switch holder {
        case "drain":
            #expect(try await cli.run(["worker", "--drain"]).status == 0)
        case "serve":
            // The worker exits while serve has the file open; serve, the last to close, moves the commits.
            let serve = try cli.start(["serve", "--port", "0"])
            _ = try await serve.nextLine()
            #expect(try await cli.run(["worker", "--drain"]).status == 0)
            serve.signal(SIGTERM)
            #expect(try await serve.waitForExit() == 0)
        default:
            let worker = try cli.start(["worker", "--processes", holder == "worker" ? "1" : "2"])
            try await waitUntil("the job to complete") { try await cli.job(id)["state"] == "completed" }
            if holder == "pool after a stage" {
                try await waitUntil("the server to be created") { try await cli.server("s-1")?["state"] == "standby" }
            }
            worker.signal(SIGTERM)
            #expect(try await worker.waitForExit() == 0)
        }
        let copy = cli.home.appendingPathComponent("copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: false)
        try FileManager.default.copyItem(at: cli.home.appendingPathComponent("lifeline.db"), to: copy.appendingPathComponent("lifeline.db"))
        let copied = try await cli.json(["jobs", "show", "\(id)", "--json", "--db", copy.appendingPathComponent("lifeline.db").path])
        #expect(copied.first?["state"] == "completed")
    }

    @Test("the supervisor restarts a killed worker process, and --drain exits once the queue is done")
    func supervisor() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // Long enough that the kill lands while both processes still have work.
        let batch = try cli.writeFile("jobs.jsonl", String(repeating: #"{"args": {"ms": 400}}"# + "\n", count: 40))
        #expect(try await cli.run(["enqueue", "sleep", "--batch", batch, "--backoff", "100ms"]).status == 0)
        let supervisor = try cli.start(["worker", "--processes", "2", "--concurrency", "2", "--lease", "1s", "--drain"])
        // The worker processes are the supervisor's children.
        let workers = { ProcessTable.children(of: supervisor.processIdentifier) }
        try await waitUntil("two worker processes") { workers().count == 2 }
        let victim = workers()[0]
        kill(victim, SIGKILL)
        try await waitUntil("a replacement process") {
            let children = workers()
            return children.count == 2 && !children.contains(victim)
        }
        #expect(try await supervisor.waitForExit(timeout: .seconds(60)) == 0)
        #expect(supervisor.stderr.contains("restarting"))
        let jobs = try await cli.json(["jobs", "list", "--json"])
        #expect(jobs.count == 40 && jobs.allSatisfy { $0["state"] == "completed" })
    }

    @Test("a pool's process killed: its programs end with it, its jobs come back when their leases run out, none runs twice")
    func poolProcessKilled() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        // Programs of 4 s: the victim is looked for after all eight have started, which a loaded
        // machine may see late, and must find them still running.
        let batch = (0..<8).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "4"]}}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "4", "--lease", "1s", "--drain"])
        let runners = { ProcessTable.children(of: pool.processIdentifier) }
        try await waitUntil("eight programs") { RealWorkCLITests.lines(directory + "/starts").count == 8 }
        // Looked for until seen, rather than read once.
        var victim: Int32?
        try await waitUntil("a runner process") {
            victim = runners().first
            return victim != nil
        }
        kill(try #require(victim), SIGKILL)
        #expect(try await pool.waitForExit(timeout: .seconds(60)) == 0)
        #expect(RealWorkCLITests.lines(directory + "/double-runs").isEmpty)
        let jobs = try await cli.json(["jobs", "list", "--json"])
        #expect(jobs.count == 8 && jobs.allSatisfy { $0["state"] == "completed" })
        let retried = jobs.filter { $0["attempt"] != 1 }
        #expect(retried.count == 4, "the killed process's four jobs ran again")
        #expect(retried.allSatisfy { $0["errors"]?.arrayValue?.first?["error"]?.stringValue?.contains("lease expired") == true })
        #expect(pool.stderr.contains("goes back to its queue when its lease runs out"))
        #expect(try await cli.json(["events", "--type", "completed", "--json"]).count == 8)
    }

    /// The runner process of `pool` that runs the program whose command line holds `program`,
    /// once it runs: runner → its program's reaper → the program.
    static func runnerRunning(_ program: String, in pool: BackgroundCommand) async throws -> Int32 {
        try await waitUntil("the program to run") { !ProcessTable.pids(commandLineContaining: program).isEmpty }
        let runners = ProcessTable.children(of: pool.processIdentifier)
        let pid = try #require(ProcessTable.pids(commandLineContaining: program).first)
        return try #require(runners.first { ProcessTable.children(of: $0).contains { ProcessTable.children(of: $0).contains(pid) } })
    }

    /// A 2 × 1 pool running two `sleep` programs: `body` gets the pool, its two processes and
    /// the programs' marker; the pool and the programs are killed afterwards.
    static func withTwoProgramsInPool(_ body: (CLIRunner, BackgroundCommand, [Int32], String) async throws -> Void) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        _ = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#], count: 2)
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "1"])
        defer { pool.signal(SIGKILL) }
        defer { ProcessTable.pids(commandLineContaining: "sleep \(marker)").forEach { kill($0, SIGKILL) } }
        try await waitUntil("both programs to run") { ProcessTable.pids(commandLineContaining: "sleep \(marker)").count == 2 }
        let runners = ProcessTable.children(of: pool.processIdentifier)
        #expect(runners.count == 2)
        try await body(cli, pool, runners, marker)
    }

    @Test("a pool's processes show in ps as lifeline-runner, by the name the pool was started by")
    func poolProcessesNamed() async throws {
        try await Self.withTwoProgramsInPool { cli, _, runners, _ in
            for runner in runners {
                #expect(ProcessTable.name(of: runner) == "lifeline-runner")
                #expect(ProcessTable.commandLine(of: runner) == [cli.binary.path, "worker", "--runner"])
            }
        }
    }

    @Test("a pool's processes go on through SIGTERM, SIGINT and SIGHUP sent to them (pkill, a service manager): their jobs complete on their first attempt")
    func poolProcessesIgnoreStopSignals() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let script = "sleep 1.5; echo done \(marker)"
        let ids = try await cli.enqueue(["exec", "--args", #"{"argv": ["sh", "-c", "\#(script)"]}"#], count: 2)
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "1", "--drain"])
        defer { pool.signal(SIGKILL) }
        try await waitUntil("both programs to run") { ProcessTable.pids(commandLineContaining: "echo done \(marker)").count == 2 }
        let runners = ProcessTable.children(of: pool.processIdentifier)
        #expect(runners.count == 2)
        for runner in runners {
            for signal in [SIGTERM, SIGINT, SIGHUP] { kill(runner, signal) }
        }
        #expect(try await pool.waitForExit(timeout: .seconds(60)) == 0, "\(pool.stderr)")
        #expect(!pool.stderr.contains("died"), "\(pool.stderr)")
        for id in ids {
            let job = try await cli.job(id)
            #expect(job["state"] == "completed" && job["attempt"] == 1, "\(job)")
        }
    }

    @Test("a pool's writer killed (SIGKILL): its processes die with it, a stopped one too, and their programs end")
    func poolWriterKilled() async throws {
        try await Self.withTwoProgramsInPool { _, pool, runners, marker in
            // A stopped process reads nothing, and its socket's end cannot end it: the kernel's
            // parent-death signal does (or, should that fail, the SIGHUP and SIGCONT its group
            // gets once orphaned).
            let stopped = try #require(runners.first)
            kill(stopped, SIGSTOP)
            defer { runners.forEach { kill($0, SIGKILL) } }
            try await waitUntil("the process to stop") { ProcessTable.isStopped(stopped) }
            pool.signal(SIGKILL)
            try await waitUntil("the pool's processes to be gone", timeout: .seconds(10)) { runners.allSatisfy { ProcessTable.state($0).map { $0 == "Z" } ?? true } }
            try await waitUntil("the programs to end", timeout: .seconds(10)) { ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty }
        }
    }

    @Test("a pool's process that is stopped (SIGSTOP) and holds a timed-out job is killed; the job runs again elsewhere")
    func poolProcessStopped() async throws {
        try await Self.stoppedProcessKilled { cli, arguments in try cli.start(arguments) }
    }

    @Test(
        "the same where pidfds are refused (Linux before 5.3, a sandbox's seccomp filter): the pool watches and kills its processes by pid, and runs real programs",
        .enabled(if: PidfdsRefused.available, "needs python3 and seccomp filters")
    )
    func poolProcessStoppedWithoutPidfds() async throws {
        try await Self.stoppedProcessKilled { cli, arguments in
            try BackgroundCommand("/usr/bin/python3", ["-c", PidfdsRefused.launcher, cli.binary.path] + arguments, environment: cli.environment)
        }
    }

    /// A 2 × 1 pool, started by `start`, runs programs while one of its processes, which holds
    /// a job with a 3 s timeout, is stopped.
    static func stoppedProcessKilled(start: (CLIRunner, [String]) throws -> BackgroundCommand) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        // A 3 s timeout: time enough to find the process and stop it while it holds the job.
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#, "--timeout", "3s", "--max-attempts", "2"])
        let others = try await cli.enqueue(["exec", "--args", #"{"argv": ["sh", "-c", "sleep 0.2; echo done"]}"#], count: 4)
        let pool = try start(cli, ["worker", "--processes", "2", "--concurrency", "1", "--lease", "1s", "--drain"])
        defer { pool.signal(SIGKILL) }
        let holder = try await Self.runnerRunning("sleep \(marker)", in: pool)
        kill(holder, SIGSTOP)
        #expect(try await pool.waitForExit(timeout: .seconds(60)) == 0)
        #expect(!pool.stderr.contains("cannot start"), "\(pool.stderr)")
        // Killed as it did not answer the lease renewals passed on, or did not end the job at its timeout.
        #expect(pool.stderr.contains("does not answer; killing it") || pool.stderr.contains("does not end a stopped job; killing it"))
        #expect(ProcessTable.state(holder) == nil, "the stopped process is gone")
        let job = try await cli.job(id)
        #expect(job["state"] == "discarded" && job["attempt"] == 2, "its second attempt ran and timed out like the first would have")
        // The stopped process's attempt is recorded lost. (On a loaded machine the first attempt
        // may time out before the process is stopped, and the stopped one is the second.)
        #expect(job["errors"]?.arrayValue?.contains { $0["error"]?.stringValue?.contains("lease expired") == true } == true, "\(job["errors"] ?? [])")
        for other in others { #expect(try await cli.job(other)["state"] == "completed") }
    }

    @Test(
        "SIGTERM to a pool one of whose processes is stopped (SIGSTOP): the pool ends once its handlers' stop grace is over, killing it, and says last that it stopped; asked again, at once, or a second after while its attempts are being stopped",
        arguments: [1, 2, 3]
    )
    func sigtermWithStoppedProcess(signals: Int) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        _ = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#])
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "1", "--grace", "500ms"])
        defer { pool.signal(SIGKILL) }
        let holder = try await Self.runnerRunning("sleep \(marker)", in: pool)
        kill(holder, SIGSTOP)
        defer { kill(holder, SIGKILL) }
        pool.signal(SIGTERM)
        if signals == 2 {
            // The worker has stopped, and waits for its processes to end; asked again, it ends them.
            try await waitUntil("the worker to stop", timeout: .seconds(30)) { pool.stderr.contains("worker stopped") }
            let asked = ContinuousClock.now
            pool.signal(SIGTERM)
            #expect(try await pool.waitForExit(timeout: .seconds(30)) == 0)
            #expect(ContinuousClock.now - asked < .seconds(3), "at once")
        } else if signals == 3 {
            // Asked again while the worker still waits for its attempts' ends: the stopped
            // process never reports them, and is killed a second later.
            try await waitUntil("the worker to begin its stop", timeout: .seconds(30)) { pool.stderr.contains("shutting down") }
            let asked = ContinuousClock.now
            pool.signal(SIGTERM)
            #expect(try await pool.waitForExit(timeout: .seconds(30)) == 0)
            #expect(ContinuousClock.now - asked < .seconds(4), "a second after, not at the end of the handlers' and the runners' stop graces (15 s)")
        } else {
            // Its grace (0.5 s) and the handlers' stop grace (5 s): the process that holds the
            // attempt never reports it, and is killed then, not after the runners' grace too (10 s).
            let asked = ContinuousClock.now
            #expect(try await pool.waitForExit(timeout: .seconds(60)) == 0)
            #expect(ContinuousClock.now - asked < .seconds(9), "\(pool.stderr)")
            // The worker says it stopped after the kill, and last.
            let lines = pool.stderr.split(separator: "\n")
            let killed = try #require(lines.firstIndex { $0.contains("worker processes did not end once told to; killing them") }, "\(pool.stderr)")
            #expect(lines.lastIndex { $0.contains("worker stopped") }.map { $0 > killed } == true, "\(pool.stderr)")
            #expect(lines.last?.contains("worker stopped") == true, "nothing after it: \(pool.stderr)")
        }
        #expect(pool.stderr.contains("worker processes did not end once told to; killing them"), "\(pool.stderr)")
        #expect(ProcessTable.state(holder) == nil, "the stopped process is gone")
    }

    @Test("an idle pool stopped by one signal ends cleanly, its processes ending when told: none is killed, nothing is logged as an error (thirty stops)")
    func idlePoolStops() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // The idle worker stops at once and tells its processes to end: the signal's handler,
        // still running, took that for a second signal and killed them (1 to 3 stops in 10).
        for signal in Array(repeating: [SIGTERM, SIGINT, SIGHUP], count: 10).joined() {
            let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "1"])
            defer { pool.signal(SIGKILL) }
            try await waitUntil("the worker and its two processes to start") {
                pool.stderr.contains("worker started") && ProcessTable.children(of: pool.processIdentifier).count == 2
            }
            // Its start says where its queue is, and its shape as asked for: slots in each process.
            #expect(pool.stderr.contains("worker started concurrency=1 processes=2 queues=* store=\(cli.home.path)/lifeline.db "), "\(pool.stderr)")
            pool.signal(signal)
            #expect(try await pool.waitForExit(timeout: .seconds(30)) == 0)
            #expect(!pool.stderr.contains(" error "), "signal \(signal): \(pool.stderr)")
        }
    }

    @Test("a program's error output in the worker's log stays on its line, escaped: it cannot forge a line or reach the terminal")
    func logLinesStayLines() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let forged = "2026-12-05T03:00:00.000Z info lifeline.worker: job completed attempt=1 job=999"
        let script = "printf 'boom\\n\(forged)\\n\\033[31mred\\r' >&2; exit 1"
        _ = try await cli.enqueue(["exec", "--args", #"{"argv": ["sh", "-c", \#(try LifelineJSON.line(script))]}"#, "--max-attempts", "1"])
        let drain = try await cli.run(["worker", "--drain"])
        #expect(drain.status == 0)
        let lines = drain.stderr.split(separator: "\n")
        #expect(lines.allSatisfy { $0.hasPrefix("20") && $0.contains(" lifeline.worker: ") }, "every line is the worker's own: \(drain.stderr)")
        #expect(!drain.stderr.contains("\u{1B}") && !drain.stderr.contains("\r"))
        #expect(lines.contains { $0.contains(#"boom\n\#(forged)\n\x1b[31mred"#) }, "\(drain.stderr)")
    }

    @Test("a job's program creates files with the umask the worker was started with; the worker's own files stay owner-only")
    func programUmask() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sh", "-c", "umask"]}"#])
        let drain = try await BackgroundCommand.run("/bin/sh", ["-c", #"umask 027 && exec "$0" worker --drain"#, cli.binary.path], environment: cli.environment)
        #expect(drain.stderr.contains("queues drained"), "\(drain.stderr)")
        let result = try await cli.job(id)["result"]
        #expect(result?["stdout"]?.stringValue?.hasPrefix("0027") == true, "\(String(describing: result))")
        let mode = try FileManager.default.attributesOfItem(atPath: cli.home.appendingPathComponent("lifeline.db").path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a program file the kernel cannot run is refused as such, by path or found in PATH, never run by a shell; a script whose interpreter is missing or not executable says so")
    func unrunnableFiles() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = cli.home.path + "-shell-ran"
        let plain = try cli.writeFile("no-shebang", "touch '\(marker)'\n")
        let script = try cli.writeFile("bad-interpreter", "#!/nonexistent/interpreter\ntouch '\(marker)'\n")
        let interpreter = try cli.writeFile("interpreter", "#!/bin/sh\ntouch '\(marker)'\n")
        let unrunnable = try cli.writeFile("unrunnable-interpreter", "#!\(interpreter)\ntouch '\(marker)'\n")
        for file in [plain, script, unrunnable] { chmod(file, 0o755) }
        chmod(interpreter, 0o644)
        let directory = (plain as NSString).deletingLastPathComponent
        let cases: [(String, String)] = [
            (#"{"argv": [\#(try LifelineJSON.line(plain))]}"#, "program '\(plain)' is not in an executable format"),
            (#"{"argv": ["no-shebang"], "env": {"PATH": \#(try LifelineJSON.line(directory))}}"#, "program 'no-shebang' is not in an executable format"),
            (#"{"argv": [\#(try LifelineJSON.line(script))]}"#, "program '\(script)' names an interpreter that does not exist (its #! line)"),
            (#"{"argv": [\#(try LifelineJSON.line(unrunnable))]}"#, "program '\(unrunnable)' names an interpreter that is not executable (its #! line)"),
        ]
        for (args, error) in cases {
            let id = try await cli.enqueue(["exec", "--args", args])
            #expect(try await cli.run(["worker", "--drain"]).status == 0)
            let job = try await cli.job(id)
            #expect(job["state"] == "discarded" && job["errors"]?.arrayValue?.first?["error"]?.stringValue == error, "\(job)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "no shell ran the file")
    }

    @Test("a queue limit of 2 holds across 3 processes with 8 slots each")
    func queueLimit() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["queues", "limit", "vm", "2", "--create"]).status == 0)
        let log = try cli.writeFile("intervals.log", "")
        // The job records its own start and end, in nanoseconds.
        let script = #"echo "start $(date +%s%N)" >> "$LOG"; sleep 0.15; echo "end $(date +%s%N)" >> "$LOG""#
        let line = #"{"args": {"argv": ["sh", "-c", \#(try LifelineJSON.line(script))], "env": {"LOG": \#(try LifelineJSON.line(log))}}, "queue": "vm"}"#
        let batch = try cli.writeFile("jobs.jsonl", String(repeating: line + "\n", count: 12))
        #expect(try await cli.run(["enqueue", "exec", "--batch", batch]).status == 0)
        let workers = try (0..<3).map { _ in try cli.start(["worker", "--queues", "vm", "--concurrency", "8", "--drain"]) }
        for worker in workers { #expect(try await worker.waitForExit(timeout: .seconds(60)) == 0) }
        let marks = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (time: Int(parts[1])!, delta: parts[0] == "start" ? 1 : -1)
        }
        #expect(marks.count == 24)
        // Ends sort before starts at the same instant.
        var running = 0
        var most = 0
        for mark in marks.sorted(by: { ($0.time, $0.delta) < ($1.time, $1.delta) }) {
            running += mark.delta
            most = max(most, running)
        }
        #expect(most <= 2 && most >= 1)
    }

    @Test("a paused queue is not claimed until it is resumed; an idle worker picks up new work")
    func pauseResume() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["queues", "pause", "held", "--create"]).status == 0)
        let held = try await cli.enqueue(["noop", "--queue", "held"])
        let worker = try cli.start(["worker", "--queues", "held,default"])
        defer { kill(worker.processIdentifier, SIGTERM) }
        let free = try await cli.enqueue(["noop"])
        try await waitUntil("the default job", timeout: .seconds(20)) { try await cli.job(free)["state"] == "completed" }
        #expect(try await cli.job(held)["state"] == "available")
        #expect(try await cli.run(["queues", "resume", "held"]).status == 0)
        try await waitUntil("the resumed job", timeout: .seconds(20)) { try await cli.job(held)["state"] == "completed" }
        kill(worker.processIdentifier, SIGTERM)
        #expect(try await worker.waitForExit() == 0)
    }

    @Test("--queues NAME:WEIGHT shares the claims by weight while both queues have work; a bad weight is a usage error")
    func weightedQueues() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        for (queues, message) in [
            ("a:x", "invalid weight 'x' for queue 'a': a whole number from 1 to 1000"), ("a:0,b", "invalid weight '0' for queue 'a'"),
            ("a,a:2", "queue 'a' is named twice in --queues"), ("a:2:3", "invalid weight '2:3' for queue 'a'"),
        ] {
            let result = try await cli.run(["worker", "--queues", queues, "--drain"])
            #expect(result.status == 64 && result.stderr.hasPrefix("lifeline: \(message)"), "\(queues): \(result)")
        }
        let lines = Array(repeating: #"{"queue": "a"}"#, count: 200) + Array(repeating: #"{"queue": "b"}"#, count: 200)
        let batch = try cli.writeFile("jobs.jsonl", lines.joined(separator: "\n") + "\n")
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        // One slot: every claim takes one job, from the queue its order puts first.
        let weighted = try await cli.run(["worker", "--queues", "a:3,b:1", "--concurrency", "1", "--drain"])
        #expect(weighted.status == 0 && weighted.stderr.contains(" queues=a:3,b:1 "), "its start says the weights: \(weighted.stderr)")
        let started = try await cli.json(["events", "--type", "started", "--json"]).compactMap { $0["job"]?.intValue }
        #expect(started.count == 400)
        // Jobs 1 to 200 are queue a's. Of the first 100 started, a's share is 3/4: 75 ± 4.3 (one
        // standard deviation); the bounds are over four of them away.
        let fromA = started.prefix(100).filter { $0 <= 200 }.count
        #expect((56...94).contains(fromA), "\(fromA) of the first 100 from a")
    }

    @Test("--queues A,B takes the jobs of both by priority, then time, as a worker of every queue does, whatever their order")
    func namedQueuesByPriority() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.enqueue(["noop", "--queue", "a", "--priority", "5"])
        let urgent = try await cli.enqueue(["noop", "--queue", "b", "--priority", "0"])
        let next = try await cli.enqueue(["noop", "--queue", "a", "--priority", "1"])
        _ = try await cli.enqueue(["noop", "--queue", "c", "--priority", "0"])
        #expect(try await cli.run(["worker", "--queues", "a,b", "--concurrency", "1", "--drain"]).status == 0)
        let started = try await cli.json(["events", "--type", "started", "--json"]).compactMap { $0["job"]?.intValue }
        #expect(started == [urgent, next, first], "queue c is not served")
    }
}

/// Runs a program with `pidfd_open` refused (ENOSYS), as Linux before 5.3 or a sandbox's
/// seccomp filter does: python3 sets the filter, then execs the program in its place.
enum PidfdsRefused {
    static let launcher = """
        import ctypes, os, struct, sys
        libc = ctypes.CDLL(None, use_errno=True)
        # Load the syscall number; pidfd_open (434) returns ENOSYS (38); everything else is allowed.
        code = struct.pack("HBBI", 0x20, 0, 0, 0) + struct.pack("HBBI", 0x15, 0, 1, 434)
        code += struct.pack("HBBI", 0x06, 0, 0, 0x00050000 | 38) + struct.pack("HBBI", 0x06, 0, 0, 0x7FFF0000)
        buffer = ctypes.create_string_buffer(code)
        class Program(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        program = Program(4, ctypes.addressof(buffer))
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(program), 0, 0) != 0:
            sys.exit(3)
        os.execv(sys.argv[1], sys.argv[1:])
        """

    /// Whether the launcher runs here, and refuses pidfds in what it runs.
    static let available: Bool = {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let refused = "import errno, os, sys\ntry:\n    os.pidfd_open(os.getpid())\nexcept OSError as e:\n    sys.exit(e.errno != errno.ENOSYS)\nsys.exit(1)"
        check.arguments = ["-c", launcher, "/usr/bin/python3", "-c", refused]
        guard (try? check.run()) != nil else { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }()
}
