import Foundation
import GRDB
import LifelineQueue
import LifelineTestKit
import Testing

/// Real external programs, many at once, where no-op jobs hide what goes wrong: every job
/// script holds a lock file of its own while it runs, so a second copy running at the same
/// time is caught in the act.
@Suite("Real work under load", .serialized)
struct RealWorkCLITests {
    /// A job script: `job.sh DIR KEY SECONDS` notes a double run when another copy holds
    /// DIR/KEY.lock, notes in DIR/at-once how many copies hold a file in DIR/running (its own
    /// included: never more than are running), then sleeps.
    static func jobScript(_ cli: CLIRunner) throws -> (script: String, directory: String) {
        let script = try cli.writeFile("job.sh", """
            #!/bin/sh
            exec 9>"$1/$2.lock"
            flock -n 9 || echo "$2" >> "$1/double-runs"
            echo "$2" >> "$1/starts"
            mkdir -p "$1/running" && : > "$1/running/$2"
            ls "$1/running" | wc -l >> "$1/at-once"
            sleep "$3"
            rm -f "$1/running/$2"
            """)
        chmod(script, 0o755)
        let directory = (script as NSString).deletingLastPathComponent
        return (script, directory)
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Milliseconds from each job's `started` event to its event of `type`.
    static func latencies(_ cli: CLIRunner, ids: [Int64], to type: String) async throws -> [Int64] {
        let events = try await cli.json(["events", "--json"])
        return try ids.map { id in
            let mine = events.filter { $0["job"]?.intValue == id }
            let started = try #require(mine.last { $0["type"] == "started" }?["at"]?.stringValue.flatMap(Self.ms))
            let ended = try #require(mine.last { $0["type"]?.stringValue == type }?["at"]?.stringValue.flatMap(Self.ms))
            return ended - started
        }
    }

    static func ms(_ iso: String) -> Int64? {
        let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return (try? format.parse(iso)).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// The lease is short, renewed many times over each program's run, yet leaves a renewal
    /// over a second and a half: machines running this suite have stalled every process for
    /// about a second (a 1 s lease, which leaves 0.8 s, was lost so).
    @Test(
        "the host's wall clock stepped an hour ahead while programs run: the next claim takes back none of the running jobs, and none runs twice",
        .enabled(if: FakeTime.library != nil, "needs libfaketime")
    )
    func wallClockStepped() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let clock = try cli.writeFile("clock", "+0\n")
        let host = try FakeTime.environment(offsetFile: clock)
        let (script, directory) = try Self.jobScript(cli)
        var ids: [Int64] = []
        for name in ["a", "b", "c"] {
            ids.append(try await cli.enqueue(["exec", "--args", #"{"argv": ["\#(script)", "\#(directory)", "\#(name)", "4"]}"#]))
        }
        let holder = try cli.start(["worker", "--concurrency", "3", "--lease", "30s"], extraEnvironment: host)
        defer { holder.signal(SIGKILL) }
        try await waitUntil("the jobs to start", timeout: .seconds(30)) { Self.lines(directory + "/starts").count == 3 }
        let other = try cli.start(["worker", "--lease", "30s"], extraEnvironment: host)
        defer { other.signal(SIGKILL) }
        try "+1h\n".write(toFile: clock, atomically: true, encoding: .utf8)
        // The holder has no free slot: the other worker claims this job, after the step.
        let probe = try await cli.enqueue(["noop"])
        try await waitUntil("the other worker to run a job", timeout: .seconds(30)) { try await cli.job(probe)["state"] == "completed" }
        try await Self.expectEachRanOnce(cli, ids, directory: directory)
    }

    /// Waits for each of `ids`, jobs of ``jobScript(_:)``, to complete at its first attempt,
    /// its program started once and never beside another run of it.
    static func expectEachRanOnce(_ cli: CLIRunner, _ ids: [Int64], directory: String) async throws {
        for id in ids {
            try await waitUntil("job \(id) to complete", timeout: .seconds(30)) { try await cli.job(id)["state"] == "completed" }
            #expect(try await cli.job(id)["attempt"] == 1)
        }
        #expect(Self.lines(directory + "/starts").count == ids.count)
        #expect(Self.lines(directory + "/double-runs").isEmpty)
    }

    @Test("64 programs sleeping 5 s with a 2 s lease: none runs twice, no lease is lost", arguments: [
        "two workers", "a pool of two processes",
    ])
    func manyChildren(on workersOf: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let batch = (0..<64).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "5"]}}"# }
        try await Self.drainEachOnce(cli, batch, directory: directory, on: workersOf, concurrency: 32)
    }

    /// Drains `batch`'s jobs, ``jobScript(_:)``'s or alike, on two workers or a pool of two
    /// processes with a 2 s lease; each must run once, at its first attempt, no lease lost.
    static func drainEachOnce(_ cli: CLIRunner, _ batch: [String], directory: String, on workersOf: String, concurrency: Int) async throws {
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        let options = ["--concurrency", "\(concurrency)", "--lease", "2s", "--drain"]
        let workers = workersOf == "two workers"
            ? try (0..<2).map { _ in try cli.start(["worker"] + options) }
            : [try cli.start(["worker", "--processes", "2"] + options)]
        for worker in workers { #expect(try await worker.waitForExit(timeout: .seconds(120)) == 0) }
        #expect(Self.lines(directory + "/double-runs").isEmpty)
        #expect(Self.lines(directory + "/starts").count == batch.count, "each job started exactly once")
        let jobs = try await cli.json(["jobs", "list", "--limit", "1000", "--json"])
        #expect(jobs.count == batch.count && jobs.allSatisfy { $0["state"] == "completed" && $0["attempt"] == 1 && $0["errors"] == [] })
        let logs = workers.map(\.stderr).joined()
        #expect(!logs.contains("lease"), "no lease was lost or renewed late: \(logs.prefix(1000))")
    }

    /// Programs that write as fast as their pipes take keep both processors in the kernel,
    /// and a disk sync then takes a second or more: renewals that waited for one, theirs or
    /// another worker's, lost 2 s leases in most runs.
    @Test("16 programs flooding their output for 4 s with a 2 s lease: none runs twice, no lease is lost", arguments: [
        "two workers", "a pool of two processes",
    ])
    func floodingChildren(on workersOf: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let script = try cli.writeFile("flood.sh", """
            #!/bin/sh
            exec 9>"$1/$2.lock"
            flock -n 9 || echo "$2" >> "$1/double-runs"
            echo "$2" >> "$1/starts"
            timeout "$3" yes "to standard output" &
            timeout "$3" yes "to standard error" >&2
            wait
            exit 0
            """)
        chmod(script, 0o755)
        let directory = (script as NSString).deletingLastPathComponent
        let batch = (0..<16).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "4"]}}"# }
        try await Self.drainEachOnce(cli, batch, directory: directory, on: workersOf, concurrency: 8)
    }

    @Test("a worker that stops answering (its pool's writer, or a worker alone, or its whole process group) has its programs stopped before their leases run out; another worker reruns them, never beside them", arguments: [
        (["--processes", "2", "--concurrency", "4"], false), (["--concurrency", "8"], false), (["--concurrency", "8"], true),
    ])
    func workerStopped(_ shape: [String], wholeGroup: Bool) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        // Long enough to be running still when their holds run out, however long it takes to
        // stop the worker between two writes on a busy machine.
        let batch = (0..<8).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "8"]}, "backoff": "100ms"}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        // A shell's job control stops a job's whole process group (kill -STOP %1): there the
        // worker leads a group of its own, as a shell's job does.
        let pool = wholeGroup
            ? try BackgroundCommand("/usr/bin/setsid", [cli.binary.path, "worker", "--lease", "1s"] + shape, environment: cli.environment)
            : try cli.start(["worker", "--lease", "1s"] + shape)
        defer { pool.signal(SIGKILL) }
        func signal(_ number: Int32) {
            if wholeGroup, pool.isRunning { kill(-pool.processIdentifier, number) } else { pool.signal(number) }
        }
        try await waitUntil("the pool to run all eight programs") { Self.lines(directory + "/starts").count == 8 }
        // Its writer stops (a pool's runner processes go on, and every program's reaper): its
        // leases run out, and another worker takes the jobs back. Stopped inside a write, it
        // would keep the writer lock from the other worker: it is stopped between two.
        let lock = open(cli.home.appendingPathComponent("lifeline.db-writer").path, O_RDWR | O_CLOEXEC)
        defer { close(lock) }
        func lockIsFree() -> Bool {
            guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { return false }
            flock(lock, LOCK_UN)
            return true
        }
        var stoppedBetweenWrites = false
        for _ in 0..<100 where !stoppedBetweenWrites {
            signal(SIGSTOP)
            try await waitUntil("every thread of the worker to stop") { ProcessTable.isStopped(pool.processIdentifier) }
            stoppedBetweenWrites = lockIsFree()
            if !stoppedBetweenWrites {
                signal(SIGCONT)
                try await waitUntil("the worker to finish its write") { lockIsFree() }
            }
        }
        try #require(stoppedBetweenWrites, "the worker stopped between two writes")
        // Its own lease need not be short: it only reruns the jobs.
        let other = try cli.start(["worker", "--concurrency", "8", "--lease", "10s", "--drain"])
        #expect(try await other.waitForExit(timeout: .seconds(60)) == 0)
        signal(SIGCONT)
        pool.signal(SIGTERM)
        #expect(try await pool.waitForExit(timeout: .seconds(30)) == 0)
        #expect(Self.lines(directory + "/double-runs").isEmpty, "no program ran beside its rerun")
        #expect(
            Self.lines(directory + "/starts").count == 16,
            "each job ran in the stopped worker, then again in the other: \(pool.stderr.suffix(1500)) \(other.stderr.suffix(1500))"
        )
        let jobs = try await cli.json(["jobs", "list", "--limit", "100", "--json"])
        #expect(jobs.count == 8 && jobs.allSatisfy { $0["state"] == "completed" && $0["attempt"] == 2 }, "\(jobs)")
        // Stopped by the pool's runner processes or by the programs' reapers, not by the
        // worker itself once continued.
        #expect(
            pool.stderr.contains("its job's lease was not renewed in time") || pool.stderr.contains("the pool's writer stopped answering"),
            "\(pool.stderr.prefix(2000))"
        )
    }

    @Test("a program that ends while its worker (or its pool's writer) is stopped past its lease is recorded once the worker goes on, and does not run again", arguments: [
        [], ["--processes", "2", "--concurrency", "2"],
    ])
    func programEndsWhileStopped(_ shape: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["\#(script)", "\#(directory)", "job", "1"]}"#])
        let worker = try cli.start(["worker", "--lease", "3s"] + shape)
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the program to start") { Self.lines(directory + "/starts").count == 1 }
        worker.signal(SIGSTOP)
        try await waitUntil("the worker to stop") { ProcessTable.isStopped(worker.processIdentifier) }
        try await waitUntil("the program to end") { !FileManager.default.fileExists(atPath: directory + "/running/job") }
        // The scene itself, not a wait for work: the worker stays stopped past the whole lease.
        try await Task.sleep(for: .seconds(3))
        worker.signal(SIGCONT)
        try await waitUntil("the job to be completed") { try await cli.job(id)["state"] == "completed" }
        let job = try await cli.job(id)
        #expect(job["attempt"] == 1 && job["errors"]?.arrayValue?.isEmpty == true, "\(job) \(worker.stderr.suffix(1500))")
        #expect(Self.lines(directory + "/starts").count == 1, "the program ran once")
    }

    @Test("a program stopped because its worker (or its pool's writer) was stopped past its lease is recorded as a failed attempt once the worker goes on, not left running until its lease runs out", arguments: [
        [], ["--processes", "2", "--concurrency", "2"],
    ])
    func stoppedPastLease(_ shape: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["\#(script)", "\#(directory)", "job", "60"]}"#, "--backoff", "100ms"])
        let worker = try cli.start(["worker", "--lease", "3s", "--grace", "1s"] + shape)
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the program to start") { Self.lines(directory + "/starts").count == 1 }
        worker.signal(SIGSTOP)
        try await waitUntil("the worker to stop") { ProcessTable.isStopped(worker.processIdentifier) }
        // Its reaper stops the program before the lease runs out: the program's lock is free.
        let lock = open(directory + "/job.lock", O_RDWR | O_CLOEXEC)
        defer { close(lock) }
        try await waitUntil("the program to be stopped") {
            guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { return false }
            flock(lock, LOCK_UN)
            return true
        }
        // The scene itself, not a wait for work: the worker stays stopped past the whole lease.
        try await Task.sleep(for: .seconds(3))
        worker.signal(SIGCONT)
        // Recorded by the worker as it goes on, saying why (not taken back by a claim once the
        // lease ran out), and run again after its backoff.
        try await waitUntil("the job to run again", timeout: .seconds(5)) { Self.lines(directory + "/starts").count == 2 }
        let job = try await cli.job(id)
        let errors = job["errors"]?.arrayValue?.compactMap { $0["error"]?.stringValue } ?? []
        #expect(job["attempt"] == 2 && errors.count == 1 && errors[0].contains("lease was not renewed in time"), "\(job) \(worker.stderr.suffix(1500))")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: .seconds(60)) == 0)
        #expect(try await cli.job(id)["state"] == "available", "released at the stop, not left running")
        #expect(Self.lines(directory + "/double-runs").isEmpty)
        // The line that says so names the attempt and the worker; so does a pool's runner process
        // when it stopped the program (else the program's reaper did, a moment before it).
        let lines = worker.stderr.split(separator: "\n")
        let recorded = lines.first { $0.contains("lease was not renewed in time") && $0.contains("recorded as a failed attempt") }
        #expect(recorded?.contains("attempt=1") == true && recorded?.contains(" worker=") == true, "\(worker.stderr.suffix(1500))")
        for line in lines where line.contains("the pool's writer stopped answering; stopping the job") {
            #expect(line.contains("attempt=1") && line.contains(" worker="), "\(line)")
        }
    }

    @Test("a program past its timeout is stopped by its reaper while its worker (or its pool's writer) is stopped; the attempt is recorded as timed out", arguments: [
        [], ["--processes", "2", "--concurrency", "2"],
    ])
    func timeoutWhileStopped(_ shape: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let pidFile = cli.home.appendingPathComponent("program.pid").path
        let id = try await cli.enqueue([
            "exec", "--args", #"{"argv": ["sh", "-c", "echo $$ > $0; exec sleep 60", "\#(pidFile)"]}"#, "--timeout", "2s", "--max-attempts", "1",
        ])
        let worker = try cli.start(["worker", "--lease", "30s"] + shape)
        defer { worker.signal(SIGKILL) }
        var program: Int32?
        try await waitUntil("the program to start") {
            program = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return program != nil
        }
        let pid = try #require(program)
        worker.signal(SIGSTOP)
        try await waitUntil("the worker to stop") { ProcessTable.isStopped(worker.processIdentifier) }
        // Its deadline is 2 s after it started, its reaper's too; its lease is held for 30 s,
        // which would stop it only then.
        try await waitUntil("the program to be stopped", timeout: .seconds(15)) { kill(pid, 0) != 0 }
        #expect(ProcessTable.isStopped(worker.processIdentifier), "stopped by its reaper, not by its worker")
        worker.signal(SIGCONT)
        try await waitUntil("the attempt to be recorded") { try await cli.job(id)["state"] == "discarded" }
        let error = try await cli.job(id)["errors"]?.arrayValue?.last?["error"]?.stringValue ?? ""
        // Whichever came first, the worker going on, a pool's runner process or the reaper:
        // a timeout reads the same whoever stopped it.
        #expect(error == "timed out after 2s", "\(error)")
    }

    @Test("a job whose worker is stopped past both its timeout and its lease is taken back by another worker, which records a lost lease")
    func timeoutAndLeaseWhileStopped() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let pidFile = cli.home.appendingPathComponent("program.pid").path
        let id = try await cli.enqueue([
            "exec", "--args", #"{"argv": ["sh", "-c", "echo $$ > $0; exec sleep 60", "\#(pidFile)"]}"#, "--timeout", "3s", "--max-attempts", "1",
        ])
        let stopped = try cli.start(["worker", "--lease", "4s"])
        defer { stopped.signal(SIGKILL) }
        try await waitUntil("the program to start") { FileManager.default.fileExists(atPath: pidFile) }
        stopped.signal(SIGSTOP)
        try await waitUntil("the lease to run out", timeout: .seconds(20)) {
            try await cli.run(["jobs", "list", "--running"]).stdout.contains("lease expired")
        }
        // How the attempt ended is not known to the worker that takes the job back: its
        // program may have died with a worker killed, not stopped, long before its deadline.
        let taker = try cli.start(["worker", "--drain"])
        defer { taker.signal(SIGKILL) }
        #expect(try await taker.waitForExit(timeout: .seconds(30)) == 0)
        let job = try await cli.job(id)
        let error = job["errors"]?.arrayValue?.last?["error"]?.stringValue ?? ""
        #expect(job["state"] == "discarded" && error == "lease expired: worker \(job["errors"]?.arrayValue?.last?["worker"]?.stringValue ?? "?") stopped renewing it", "\(job)")
        #expect(kill(Int32((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0, 0) != 0, "its reaper killed the program")
    }

    @Test("an exec job's argument or variable longer than Linux passes (131,071 bytes) is refused at enqueue; one that long runs")
    func longestArgument() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        func args(_ length: Int) throws -> String {
            let long = String(repeating: "x", count: length)
            return try cli.writeFile("args-\(length).json", #"{"argv": ["sh", "-c", "echo ${#0} ${#BIG}", "\#(long)"], "env": {"BIG": "\#(long.dropFirst(4))"}}"#)
        }
        let refused = try await cli.run(["enqueue", "exec", "--args-file", try args(131_072)])
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("lifeline: invalid args for 'exec': field 'argv[3]' is 131072 bytes; a program takes at most 131071"), "\(refused.stderr)")
        let id = try await cli.enqueue(["exec", "--args-file", try args(131_071)])
        let drain = try await cli.run(["worker", "--drain"])
        #expect(drain.status == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "completed" && job["result"]?["stdout"] == "131071 131067\n", "\(job["errors"] ?? [])")
    }

    /// Holds the queue's write lock from another process's connection for `seconds`, as a
    /// program writing to the database in a long transaction would.
    static func holdDatabase(_ cli: CLIRunner, seconds: Double) async throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let other = try DatabaseQueue(path: cli.home.appendingPathComponent("lifeline.db").path, configuration: configuration)
        try await other.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            Thread.sleep(forTimeInterval: seconds)
            try db.execute(sql: "COMMIT")
        }
        try other.close()
    }

    @Test("a claim that waited for the database (another process's write, 2.5 s) starts its attempt's timeout when its started event says, not before")
    func timeoutAfterClaimWaited() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.enqueue(["noop"])
        let worker = try cli.start(["worker", "--concurrency", "2"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the worker to idle") { try await cli.job(first)["state"] == "completed" }
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "10"]}"#, "--timeout", "3s", "--max-attempts", "1", "--delay", "1s"])
        // Held from before the job is due until well after: the worker's claim waits for it.
        try await Self.holdDatabase(cli, seconds: 2.5)
        try await waitUntil("the job to end", timeout: .seconds(30)) { try await cli.job(id)["state"] == "discarded" }
        #expect(try await cli.job(id)["errors"]?.arrayValue?.last?["error"] == "timed out after 3s")
        let took = try await Self.latencies(cli, ids: [id], to: "discarded")
        #expect(took.allSatisfy { (3000..<4000).contains($0) }, "3 s after its started event: \(took) ms")
        // The claim did wait: its attempt started well after the job came due.
        let events = try await cli.json(["events", "--job", "\(id)", "--json"])
        let at = { (type: String) in events.first { $0["type"]?.stringValue == type }?["at"]?.stringValue.flatMap(Self.ms) }
        let waited = try #require(at("started")) - (try #require(at("enqueued")))
        #expect(waited >= 2000, "started \(waited) ms after its enqueue, due 1,000 ms after")
    }

    @Test("attempts whose leases run out while another process holds the database (4 s) name the database in their errors, not a worker that stopped answering")
    func leaseLostToStalledDatabase() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let ids = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "30"]}"#, "--max-attempts", "1"], count: 2)
        let worker = try cli.start(["worker", "--lease", "1s"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("both programs to run") { try await cli.json(["jobs", "list", "--running", "--json"]).count == 2 }
        try await Self.holdDatabase(cli, seconds: 4)
        for id in ids {
            try await waitUntil("job \(id) to end", timeout: .seconds(30)) { try await cli.job(id)["state"] == "discarded" }
            let error = try #require(try await cli.job(id)["errors"]?.arrayValue?.last?["error"]?.stringValue)
            #expect(error.hasPrefix("stopped: its lease was not renewed in time (its renewal waited "), "\(error)")
            #expect(error.hasSuffix(" for the database)"), "\(error)")
        }
    }

    @Test("a program past its timeout whose reaper is stopped (SIGSTOP) ends all the same, with its group, and is recorded as timed out")
    func timeoutWithStoppedReaper() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let id = try await cli.enqueue([
            "exec", "--args", #"{"argv": ["sh", "-c", "sleep \#(marker) & exec sleep \#(marker)"]}"#, "--timeout", "3s", "--max-attempts", "1",
        ])
        let worker = try cli.start(["worker", "--drain"])
        defer { worker.signal(SIGKILL) }
        var sleeps: [Int32] = []
        try await waitUntil("the program to start") {
            sleeps = ProcessTable.pids(commandLineContaining: "sleep \(marker)")
            return sleeps.count == 2
        }
        // The program's parent; the other sleep's is the program.
        let reaper = try #require(sleeps.compactMap(ProcessTable.parent).first { !sleeps.contains($0) })
        kill(reaper, SIGSTOP)
        defer { kill(reaper, SIGKILL) }
        // Its timeout, then a second for its reaper to act, which it cannot.
        #expect(try await worker.waitForExit(timeout: .seconds(30)) == 0)
        #expect(ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty, "the program and its group are gone")
        #expect(ProcessTable.state(reaper) == nil, "the stopped reaper is gone")
        let job = try await cli.job(id)
        #expect(job["state"] == "discarded")
        #expect(job["errors"]?.arrayValue?.last?["error"]?.stringValue?.hasPrefix("timed out after 3s") == true, "\(job)")
        let took = try await Self.latencies(cli, ids: [id], to: "discarded")
        #expect(took.allSatisfy { $0 < 6000 }, "its timeout (3 s) and its reaper's grace (1 s), not the program's end: \(took) ms")
    }

    @Test("a worker killed with its programs' reapers (SIGKILL), alone or a pool with its runner processes, leaves nothing of the programs' groups running", arguments: [
        ["worker", "--concurrency", "8"], ["worker", "--processes", "2", "--concurrency", "4"],
    ])
    func killedWithReapers(worker command: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        // Scripts each with a child in their group, which a program's death does not end.
        let programs = 8
        _ = try await cli.enqueue(["exec", "--args", #"{"argv": ["sh", "-c", "sleep \#(marker) & wait"]}"#], count: programs)
        let worker = try cli.start(command)
        defer { worker.signal(SIGKILL) }
        defer { ProcessTable.pids(commandLineContaining: "sleep \(marker)").forEach { kill($0, SIGKILL) } }
        var shells: Set<Int32> = []
        try await waitUntil("the programs to start") {
            shells = ProcessTable.parentsListed(commandLineContaining: "sleep \(marker)")
            return shells.count == programs
        }
        // Every Lifeline process above the programs: the reapers, a pool's runner processes
        // (their parents), and the worker; not the programs, nor what they started.
        let reapers = Set(shells.compactMap { ProcessTable.parent(of: $0) })
        let runners = Set(reapers.compactMap { ProcessTable.parent(of: $0) }).subtracting([worker.processIdentifier])
        for pid in reapers.union(runners) { kill(pid, SIGKILL) }
        worker.signal(SIGKILL)
        try await waitUntil("the programs' groups to be gone", timeout: .seconds(10)) {
            ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty
        }
    }

    @Test("a handler past its timeout in a pool's runner process is stopped there when the pool's writer is stopped, and recorded as timed out")
    func handlerTimeoutWhileWriterStopped() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["sleep", "--args", #"{"ms": 60000}"#, "--timeout", "2s", "--max-attempts", "1"])
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "1", "--lease", "30s"])
        defer { pool.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(id)["state"] == "running" }
        pool.signal(SIGSTOP)
        try await waitUntil("the writer to stop") { ProcessTable.isStopped(pool.processIdentifier) }
        // Its deadline is 2 s after it started, its runner's a second later; its lease is held for 30 s.
        try await waitUntil("the runner to stop the handler", timeout: .seconds(15)) {
            pool.stderr.contains("job past its timeout: the pool's writer did not stop it; stopping the job")
        }
        pool.signal(SIGCONT)
        try await waitUntil("the attempt to be recorded") { try await cli.job(id)["state"] == "discarded" }
        let error = try await cli.job(id)["errors"]?.arrayValue?.last?["error"]?.stringValue ?? ""
        #expect(error.hasPrefix("timed out after 2s"), "\(error)")
    }

    @Test("a stopped runner process of a pool is killed, and its jobs come back when their leases run out, not at their timeout")
    func runnerStopped() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let batch = (0..<4).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "1"]}, "backoff": "100ms"}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "2", "--lease", "3s"])
        defer { pool.signal(SIGKILL) }
        // The runner processes are the writer's children.
        let runners = { ProcessTable.children(of: pool.processIdentifier) }
        try await waitUntil("both runners to run two programs") { Self.lines(directory + "/starts").count == 4 && runners().count == 2 }
        let victim = runners()[0]
        kill(victim, SIGSTOP)
        defer { kill(victim, SIGKILL) }
        // The jobs' timeout is 30 minutes: only the pool's answer to a runner that stops can
        // bring them back sooner.
        try await waitUntil("every job to complete", timeout: .seconds(60)) {
            try await cli.json(["jobs", "list", "--state", "completed", "--json"]).count == 4
        }
        #expect(pool.stderr.contains("worker process does not answer; killing it"), "\(pool.stderr.suffix(2000))")
        // The pool's own lines name its worker, as its attempts' lines do.
        let killing = pool.stderr.split(separator: "\n").first { $0.contains("worker process does not answer; killing it") }
        #expect(killing?.contains(" worker=") == true, "\(killing ?? "")")
        #expect(!runners().contains(victim))
        #expect(Self.lines(directory + "/double-runs").isEmpty)
    }

    @Test("a pool's runner process silent for longer than a renewal, but not past the holds it answered, is let be: its programs run on")
    func runnerSlowNotKilled() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let batch = (0..<4).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "5"]}, "max_attempts": 1}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        // Renewed every 2 s; each hold answered lasts 5.5 s from its renewal, 3.5 s at the least
        // from the moment the runner stops answering.
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "2", "--lease", "6s", "--drain"])
        defer { pool.signal(SIGKILL) }
        let runners = { ProcessTable.children(of: pool.processIdentifier) }
        try await waitUntil("both runners to run two programs") { Self.lines(directory + "/starts").count == 4 && runners().count == 2 }
        let victim = runners()[0]
        // As a runner starved by its own programs would be: silent, for a while, then back.
        kill(victim, SIGSTOP)
        try await Task.sleep(for: .milliseconds(2500))
        kill(victim, SIGCONT)
        #expect(try await pool.waitForExit(timeout: .seconds(30)) == 0, "\(pool.stderr.suffix(2000))")
        #expect(!pool.stderr.contains("does not answer"), "\(pool.stderr.suffix(2000))")
        #expect(try await cli.json(["jobs", "list", "--state", "completed", "--json"]).count == 4)
        #expect(Self.lines(directory + "/starts").count == 4)
        #expect(Self.lines(directory + "/double-runs").isEmpty)
    }

    @Test("40 enqueues at once, 20 keys, while a pool runs their programs: each key one job, each job run once")
    func enqueuesBesideAPool() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        // The database exists, so each enqueue writes through SQLite's C API alone, beside the
        // pool's writer, and the pool hears of each commit from its announcement.
        _ = try await cli.enqueue(["noop"])
        let pool = try cli.start(["worker", "--processes", "2", "--concurrency", "8"])
        defer { pool.signal(SIGKILL) }
        let enqueues = try (0..<40).map { i in
            try cli.start(["enqueue", "exec", "--idempotency-key", "key\(i % 20)", "--args",
                           #"{"argv": ["\#(script)", "\#(directory)", "job\#(i % 20)", "0.2"]}"#])
        }
        for enqueue in enqueues { #expect(try await enqueue.waitForExit() == 0, "\(enqueue.stderr)") }
        try await waitUntil("every job to complete", timeout: .seconds(60)) {
            try await cli.json(["jobs", "list", "--state", "completed", "--limit", "100", "--json"]).count == 21
        }
        #expect(try await cli.jobCount() == 21, "one job per key, and the first")
        #expect(Self.lines(directory + "/starts").sorted() == (0..<20).map { "job\($0)" }.sorted(), "each program started once")
        #expect(Self.lines(directory + "/double-runs").isEmpty)
        pool.signal(SIGTERM)
        #expect(try await pool.waitForExit(timeout: .seconds(30)) == 0)
    }

    @Test("a worker never runs more programs at once than its slots, and keeps them all busy while there is a backlog", arguments: [
        ["--concurrency", "8"], ["--processes", "2", "--concurrency", "4"],
    ])
    func slotsHold(_ shape: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let batch = (0..<48).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "0.3"]}}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        let worker = try cli.start(["worker", "--drain"] + shape)
        #expect(try await worker.waitForExit(timeout: .seconds(120)) == 0)
        #expect(Self.lines(directory + "/double-runs").isEmpty)
        #expect(Self.lines(directory + "/starts").count == 48, "each job started exactly once")
        let atOnce = Self.lines(directory + "/at-once").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        #expect(atOnce.count == 48 && atOnce.allSatisfy { $0 <= 8 }, "programs running at once, as each saw at its start: \(atOnce)")
        // In the log's order a slot's finish comes before the claim that refills it, so the
        // count of started-but-not-finished jobs is what the worker ran at once.
        var running = 0, most = 0
        for event in try await cli.json(["events", "--json"]) {
            if event["type"] == "started" { running += 1 }
            if event["type"] == "completed" { running -= 1 }
            most = max(most, running)
        }
        #expect(running == 0)
        #expect(most == 8)
    }

    @Test("timeouts land within 250 ms of their deadline while 56 other programs run", arguments: [
        ["--concurrency", "64"], ["--processes", "2", "--concurrency", "32"],
    ])
    func timeoutsOnTime(slots: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (script, directory) = try Self.jobScript(cli)
        let busy = (0..<56).map { #"{"kind": "exec", "args": {"argv": ["\#(script)", "\#(directory)", "busy\#($0)", "4"]}}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("busy.jsonl", busy.joined(separator: "\n"))]).status == 0)
        let slow = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "20"]}"#, "--timeout", "1s", "--max-attempts", "1"], count: 7)
        let builtin = try await cli.enqueue(["sleep", "--args", #"{"ms": 5000}"#, "--timeout", "1s", "--max-attempts", "1"])
        let worker = try cli.start(["worker", "--drain"] + slots)
        #expect(try await worker.waitForExit(timeout: .seconds(120)) == 0)
        for id in slow + [builtin] { #expect(try await cli.job(id)["state"] == "discarded") }
        let latencies = try await Self.latencies(cli, ids: slow + [builtin], to: "discarded")
        #expect(latencies.allSatisfy { $0 >= 1000 && $0 <= 1250 }, "started → discarded, ms: \(latencies)")
        #expect(Self.lines(directory + "/double-runs").isEmpty)
    }

    @Test("a cancel reaches a running program within a second, with a 30 s lease", arguments: [1, 2])
    func cancelOnTime(processes: Int) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "30"]}"#])
        let worker = try cli.start(["worker", "--lease", "30s", "--processes", "\(processes)"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(id)["state"] == "running" }
        #expect(try await cli.run(["jobs", "cancel", "\(id)"]).status == 0)
        try await waitUntil("the job to be cancelled", timeout: .seconds(5)) { try await cli.job(id)["state"] == "cancelled" }
        let latency = try await Self.latencies(cli, ids: [id], to: "cancelled")[0] - Self.latencies(cli, ids: [id], to: "cancel_requested")[0]
        #expect(latency < 1000, "cancel requested → cancelled: \(latency) ms")
    }

    @Test("a running stage's progress shows within about a second, with a 30 s lease", arguments: [1, 2])
    func progressOnTime(processes: Int) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RecoveryCLITests.RunningWorker(cli, environment: ["LIFELINE_SIM_THROUGHPUT": "1MiB"], lease: "30s", processes: processes)
        #expect(try await cli.run(["server", "create", "slow-1", "--disk-size", "16MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "slow-1"]).status == 0)
        var first: Int64 = 0
        try await waitUntil("the copy's first progress", timeout: .seconds(30)) {
            first = try await cli.server("slow-1")?["progress"]?["done"]?.intValue ?? 0
            return first > 0
        }
        let seen = ContinuousClock.now
        try await waitUntil("newer progress", timeout: .seconds(10)) { (try await cli.server("slow-1")?["progress"]?["done"]?.intValue ?? 0) > first }
        #expect(ContinuousClock.now - seen < .milliseconds(2500), "progress is written every second, not every lease/3 (10 s)")
        withExtendedLifetime(worker) {}
    }

    @Test("descendants that leave the job's process group end with it: on success, timeout, and the worker's death", arguments: [
        "success", "timeout", "worker killed",
    ])
    func escapedDescendants(ending: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).75"
        // setsid puts the sleep in a session of its own; the shell ends in time only on success
        // (after long enough for the escaped program to be seen).
        let wait = ending == "success" ? "2" : "60"
        let id = try await cli.enqueue([
            "exec", "--args", #"{"argv": ["sh", "-c", "setsid sleep \#(marker) & sleep \#(wait)"]}"#, "--timeout", "5s", "--max-attempts", "1",
        ])
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the escaped program to start") { !ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty }
        if ending == "worker killed" { worker.signal(SIGKILL) }
        try await waitUntil("the escaped program to end", timeout: .seconds(10)) {
            ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty
        }
        if ending != "worker killed" {
            try await waitUntil("the job to end") { try await cli.job(id)["state"] != "running" }
            #expect(try await cli.job(id)["state"] == (ending == "success" ? "completed" : "discarded"))
        }
    }

    @Test("a program or directory that cannot work is discarded at once, saying which", arguments: [
        (#"{"argv": ["no-such-program-x"]}"#, "program 'no-such-program-x' not found in PATH"),
        (#"{"argv": ["/dev/null"]}"#, "program '/dev/null' is not executable"),
        (#"{"argv": ["/etc"]}"#, "program '/etc' is a directory"),
        (#"{"argv": ["./etc"], "cwd": "/"}"#, "program './etc' is a directory"),
        (#"{"argv": ["pwd"], "cwd": "/no/such/dir"}"#, "cwd '/no/such/dir' does not exist"),
    ])
    func unrunnable(args: String, message: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["exec", "--args", args])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "discarded" && job["attempt"] == 1)
        #expect(job["errors"]?.arrayValue?.first?["error"]?.stringValue?.hasPrefix(message) == true, "\(job)")
    }
}
