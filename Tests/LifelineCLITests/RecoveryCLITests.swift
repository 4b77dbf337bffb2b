import Foundation
import LifelineQueue
import LifelineRecovery
import LifelineTestKit
import Testing

@Suite("Recovery servers end to end", .serialized)
struct RecoveryCLITests {
    /// A worker serving every queue, stopped when the test ends.
    final class RunningWorker {
        let process: BackgroundCommand

        init(_ cli: CLIRunner, environment: [String: String] = [:], lease: String = "1s", processes: Int = 1) throws {
            process = try cli.start(
                ["worker", "--lease", lease, "--concurrency", "8", "--processes", "\(processes)"], extraEnvironment: environment
            )
        }

        deinit {
            if process.isRunning { process.signal(SIGKILL) }
        }
    }

    static func sha256(_ url: URL) throws -> String {
        Checksum.hex(try Data(contentsOf: url))
    }

    static func checksums(_ directory: URL) throws -> [String: String] {
        var sums: [String: String] = [:]
        for line in try String(contentsOf: directory.appendingPathComponent("SHA256SUMS"), encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ")
            sums[String(parts[1])] = String(parts[0])
        }
        return sums
    }

    /// Every action the state does not allow is refused with exit 3, and changes nothing.
    static func expectRefusals(_ cli: CLIRunner, _ name: String, state: ServerState) async throws {
        let jobsBefore = try await cli.jobCount()
        let historyBefore = try await cli.history(name)
        for action in ServerAction.allCases where !state.allowedActions.contains(action) {
            let result = try await cli.run(["server", action.rawValue, name])
            #expect(result.status == 3, "\(action.rawValue) in \(state.rawValue)")
            #expect(result.stderr.hasPrefix("lifeline: server \(name): cannot \(action.rawValue): the server is in \(state.rawValue)"), "\(result.stderr)")
            #expect(result.stderr.contains("allowed:"))
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        #expect(try await cli.jobCount() == jobsBefore)
        #expect(try await cli.history(name) == historyBefore)
        #expect(try await cli.server(name)?["state"]?.stringValue == state.rawValue)
    }

    @Test("failover, failback, cancel-failback and confirm-failback, with every refusal")
    func failoverAndFailback() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli)
        #expect(try await cli.run(["server", "create", "web-1", "--disks", "2", "--disk-size", "1MiB", "--wait"]).status == 0)
        try await Self.expectRefusals(cli, "web-1", state: .standby)

        let failover = try await cli.json(["server", "failover", "web-1", "--wait", "--json"])[0]
        #expect(failover["existing"] == false && failover["server"]?["state"] == "failover")
        #expect(failover["server"]?["workload"] == "recovery" && failover["server"]?["recovery_point"] == "rp-003")
        let points = try Self.checksums(cli.infra("machines/web-1/rp-003"))
        for disk in ["disk-0.img", "disk-1.img"] {
            #expect(try Self.sha256(cli.infra("servers/web-1/hot/\(disk)")) == points[disk])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("servers/web-1/hot").path).sorted() == ["disk-0.img", "disk-1.img"],
                "the verified disks alone: no copy checkpoint is left")
        try await Self.expectRefusals(cli, "web-1", state: .failover)

        let first = try await cli.json(["server", "failback", "web-1", "--idempotency-key", "fb-1", "--json"])[0]
        let again = try await cli.json(["server", "failback", "web-1", "--idempotency-key", "fb-1", "--json"])[0]
        #expect(again["job"] == first["job"] && again["existing"] == true)
        // The key is another request's: named as it was made.
        let taken = try await cli.run(["server", "cancel-failover", "web-1", "--idempotency-key", "fb-1"])
        #expect(taken.status == 3 && taken.stderr == "lifeline: idempotency key 'fb-1' belongs to failback of web-1 (job \(first["job"]?.intValue ?? 0))\n", "\(taken.stderr)")
        #expect(try await cli.run(["server", "wait", "web-1", "--state", "ready_for_failback", "--timeout", "30s"]).status == 0)
        try await Self.expectRefusals(cli, "web-1", state: .readyForFailback)
        let vm = try JSONValue(parsing: String(contentsOf: cli.infra("servers/web-1/vm.json"), encoding: .utf8))
        #expect(vm["state"] == "stopped")
        // The backup to recover the local server from is named where the server is shown.
        let cancelled = "backup-\(first["job"]?.intValue ?? 0)"
        #expect(try await cli.run(["server", "show", "web-1"]).lines.contains { $0 == "backup    \(cancelled) (recover the local server from it)" })
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/web-1").path) == [cancelled])

        #expect(try await cli.run(["server", "cancel-failback", "web-1", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["state"] == "failover")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/web-1").path).isEmpty,
                "a cancelled failback's backup is of disks the VM changes again: removed")
        let confirmed = try #require(try await cli.json(["server", "failback", "web-1", "--wait", "--json"]).first?["job"]?.intValue)
        #expect(try await cli.run(["server", "confirm-failback", "web-1", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["state"] == "standby")
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/web-1/vm.json").path))
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/web-1/hot").path))
        let backups = try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/web-1").path)
        #expect(backups == ["backup-\(confirmed)"], "a confirmed failback's backup is kept: the local server is recovered from it")
        for backup in backups {
            let sums = try Self.checksums(cli.infra("cloud-backups/web-1/\(backup)"))
            #expect(sums == points, "a backup holds the finalized disks")
        }
        #expect(try await cli.history("web-1") == [
            "creating", "standby", "starting_failover", "starting_failover", "finalization", "failover", "failing_back",
            "ready_for_failback", "cancelling_failback", "failover", "failing_back", "ready_for_failback",
            "releasing_resources", "standby",
        ])
        // The move from one stage to the next of the same state is said to be one, in both.
        let table = try await cli.run(["server", "history", "web-1"])
        #expect(table.stdout.split(separator: "\n").contains {
            $0.wholeMatch(of: #/\S+\s+starting_failover\s+starting_failover\s+start-vm succeeded, next stage\s+\d+/#) != nil
        }, "\(table.stdout)")
        let events = try await cli.run(["events", "--server", "web-1"])
        #expect(events.stdout.contains("starting_failover, next stage"), "\(events.stdout)")
        withExtendedLifetime(worker) {}
    }

    @Test("test failover and stop-test; cancel-failover from failover; delete")
    func testFailover() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli)
        #expect(try await cli.run(["server", "create", "db-1", "--disk-size", "256KiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "test-failover", "db-1", "--recovery-point", "rp-001", "--wait"]).status == 0)
        #expect(try await cli.server("db-1")?["state"] == "testing_failover")
        #expect(FileManager.default.fileExists(atPath: cli.infra("servers/db-1/test-vm.json").path))
        try await Self.expectRefusals(cli, "db-1", state: .testingFailover)
        #expect(try await cli.run(["server", "stop-test", "db-1", "--wait"]).status == 0)
        let server = try #require(try await cli.server("db-1"))
        #expect(server["state"] == "standby" && server["last_test"]?["result"] == "succeeded")
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/db-1/test-vm.json").path))

        #expect(try await cli.run(["server", "failover", "db-1", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "cancel-failover", "db-1", "--wait"]).status == 0)
        #expect(try await cli.server("db-1")?["state"] == "standby")
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/db-1/workload").path))
        let deleted = try await cli.json(["server", "delete", "db-1", "--wait", "--json"])
        #expect(deleted.count == 1 && deleted.first?["server"] == .null && deleted.first?["job"]?.intValue != nil, "\(deleted)")
        // A deleted server is said to be, on a read and on an action alike.
        for command in [["server", "show", "db-1"], ["server", "failover", "db-1"]] {
            let gone = try await cli.run(command)
            #expect(gone.status == 4 && gone.stderr.hasPrefix("lifeline: no server 'db-1' now: removed at 20"), "\(gone.stderr)")
            #expect(gone.stderr.hasSuffix(" (delete succeeded; lifeline server history db-1)\n"), "\(gone.stderr)")
        }
        #expect(try await cli.history("db-1").last == "(removed)")
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/db-1").path))
        withExtendedLifetime(worker) {}
    }

    @Test("a pool started with --db runs the stages on that database, given to its processes off their command lines and out of its jobs' sight")
    func poolOnNamedDatabase() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try FileManager.default.createDirectory(at: cli.home, withIntermediateDirectories: true)
        let db = cli.home.appendingPathComponent("elsewhere.db").path
        // --db comes before LIFELINE_DATABASE_URL, in the pool's processes too.
        let decoy = cli.home.appendingPathComponent("decoy.db").path
        let pool = try cli.start(
            ["worker", "--processes", "2", "--concurrency", "4", "--lease", "5s", "--db", db], extraEnvironment: ["LIFELINE_DATABASE_URL": decoy]
        )
        defer { pool.signal(SIGKILL) }
        // The stages run in the pool's processes, and read the server from the queue.
        for action in [["create", "p-1", "--disk-size", "256KiB"], ["failover", "p-1"]] {
            let result = try await cli.run(["server"] + action + ["--wait", "--timeout", "60s", "--db", db])
            #expect(result.status == 0, "\(action[0]): \(result.stderr) \(pool.stderr)")
        }
        #expect(try await cli.json(["server", "show", "p-1", "--json", "--db", db])[0]["state"] == "failover")
        for other in ["lifeline.db", "decoy.db"] {
            #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent(other).path), "nothing opened \(other)")
        }
        // A job's program sees the environment it would see in a single worker: the queue's
        // location withheld from both.
        let seen = cli.home.appendingPathComponent("environment.txt").path
        let job = try await cli.json(
            ["enqueue", "exec", "--args", #"{"argv": ["sh", "-c", "env > \"$0\"", \#(try LifelineJSON.line(seen))]}"#, "--json", "--db", db]
        )[0]
        let id = try #require(job["id"]?.intValue)
        try await waitUntil("the job to complete") {
            try await cli.json(["jobs", "show", "\(id)", "--json", "--db", db])[0]["state"] == "completed"
        }
        let environment = try String(contentsOfFile: seen, encoding: .utf8)
        #expect(!environment.contains(db) && !environment.contains("LIFELINE_DATABASE_URL"), "\(environment)")
        #expect(environment.contains("LIFELINE_HOME=\(cli.home.path)\n"), "the rest of the worker's environment: \(environment)")
        // The pool's processes are its writer's children.
        let processes = ProcessTable.children(of: pool.processIdentifier)
        #expect(processes.count == 2)
        #expect(Set(ProcessTable.pids(commandLineContaining: db)).isDisjoint(with: processes), "the processes' command lines do not name the database")
    }

    @Test("a bad --timeout is refused before the action is requested")
    func badTimeout() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let created = try await cli.run(["server", "create", "t-1", "--wait", "--timeout", "soon"])
        #expect(created.status == 64 && created.stderr.contains("--timeout"))
        #expect(try await cli.server("t-1") == nil)
        #expect(try await cli.run(["server", "create", "t-1"]).status == 0)
        let history = try await cli.history("t-1")
        #expect(try await cli.run(["server", "failover", "t-1", "--wait", "--timeout", "5x"]).status == 64)
        #expect(try await cli.history("t-1") == history, "no transition was recorded")
    }

    @Test("finalization that fails for good waits in finalization_failed; retry resumes from the checkpoint")
    func finalizationFailure() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_FAULTS": "finalize:fail-first=5"])
        #expect(try await cli.run(["server", "create", "app-1", "--disk-size", "8MiB", "--wait"]).status == 0)
        let waited = try await cli.run(["server", "failover", "app-1", "--wait", "--timeout", "60s"])
        #expect(waited.status == 1, "--wait fails when the server rests short of the action's goal")
        #expect(waited.stderr.contains("failover failed: app-1 came to rest in finalization_failed, not failover: ") && waited.stderr.contains("injected fault"))
        let failed = try #require(try await cli.server("app-1"))
        #expect(failed["state"] == "finalization_failed" && failed["vm_state"] == "running")
        #expect(failed["last_error"]?.stringValue?.contains("injected fault in finalize") == true)
        try await Self.expectRefusals(cli, "app-1", state: .finalizationFailed)
        // How far the copy got, which the retry resumes from, is on the server's page.
        let shown = try await cli.run(["server", "show", "app-1"])
        #expect(shown.stdout.split(separator: "\n").contains {
            $0.wholeMatch(of: #/copied    [0-9.]+ MiB of 8\.0 MiB before it failed; retry resumes from its last checkpoint/#) != nil
        }, "\(shown.stdout)")

        #expect(try await cli.run(["server", "retry", "app-1", "--wait", "--timeout", "60s"]).status == 0)
        #expect(try await cli.server("app-1")?["state"] == "failover")
        let finalize = try await cli.json(["jobs", "list", "--kind", "recovery.finalize", "--state", "completed", "--json"])
        let resumedFrom = try #require(finalize.first?["result"]?["resumed_from"]?.intValue)
        #expect(resumedFrom >= 5 << 20, "five failed runs each left at least a 1 MiB chunk behind")
        let points = try Self.checksums(cli.infra("machines/app-1/rp-003"))
        #expect(try Self.sha256(cli.infra("servers/app-1/hot/disk-0.img")) == points["disk-0.img"])
        #expect(worker.process.stderr.contains("job discarded: its last attempt failed"), "the worker says when attempts run out")
        withExtendedLifetime(worker) {}
    }

    @Test("off a terminal, --wait writes each state and stage as a line of its own, and a stage's progress every 10 s")
    func waitWritesProgress() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_THROUGHPUT": "2MiB"])
        #expect(try await cli.run(["server", "create", "lg-1", "--disks", "1", "--disk-size", "24MiB", "--wait"]).status == 0)
        let started = ContinuousClock.now
        let waited = try await cli.run(["server", "failover", "lg-1", "--wait", "--timeout", "60s"])
        let took = ContinuousClock.now - started
        #expect(waited.status == 0, "\(waited)")
        let lines = waited.stderr.split(separator: "\n")
        // A running worker takes the stage's job at once: no line says it waits for one.
        #expect(lines.first == "lg-1: starting_failover · start-vm", "\(waited.stderr)")
        // The copy takes about 12 s: its first line, then one 10 s on, with a rate by then.
        let copying = lines.filter { $0.hasPrefix("lg-1: finalization · finalize") }
        #expect(copying.count >= 2 && copying.count <= Int(took.components.seconds / 10) + 3, "\(took): \(waited.stderr)")
        #expect(copying.last?.contains("%") == true && copying.last?.contains("/s ETA") == true, "\(waited.stderr)")
        withExtendedLifetime(worker) {}
    }

    @Test("server show gives a copy's rate and time left, as its worker measured them, and its JSON the rate")
    func showRate() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_THROUGHPUT": "2MiB"])
        #expect(try await cli.run(["server", "create", "sr-1", "--disks", "1", "--disk-size", "24MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "sr-1"]).status == 0)
        var shown: [String] = []
        try await waitUntil("a rate in server show", timeout: .seconds(30)) {
            shown = try await cli.run(["server", "show", "sr-1"]).lines
            return shown.contains { $0.hasPrefix("progress  [") && $0.contains("/s ETA ") }
        }
        let progress = try #require(try await cli.server("sr-1")?["progress"])
        // 2 MiB/s, give or take what a loaded machine does to a throttled copy.
        let rate = try #require(progress["rate"]?.intValue, "\(progress)")
        #expect(rate > 1 << 20 && rate < 3 << 20, "\(progress)")
        #expect(try await cli.run(["server", "wait", "sr-1", "--state", "failover", "--timeout", "60s"]).status == 0)
        withExtendedLifetime(worker) {}
    }

    @Test("a create reports its progress as it writes the machine's recovery points")
    func createProgress() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli)
        let created = try #require(try await cli.json(["server", "create", "cp-1", "--disks", "2", "--disk-size", "8MiB", "--wait", "--json"]).first)
        let job = try await cli.job(try #require(created["job"]?.intValue))
        // Three points of two disks: every byte written is counted, and the last report is the whole.
        let total = 3 * 2 * 8 << 20
        #expect(job["progress"]?["done"]?.intValue == Int64(total) && job["progress"]?["total"]?.intValue == Int64(total), "\(job)")
        #expect(job["progress"]?["detail"] == "writing recovery point rp-003, disk-1.img", "\(job)")
        withExtendedLifetime(worker) {}
    }

    @Test("a create that fails for good says why with --wait, and leaves no server")
    func failedCreate() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_FAULTS": "create:fail-first=20"])
        let waited = try await cli.run(["server", "create", "fc-1", "--disk-size", "64KiB", "--wait", "--timeout", "60s"])
        #expect(waited.status == 1, "\(waited)")
        // Each retry's reason as it came (one line while it stays the same), then the end.
        let said = waited.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") }
        #expect(said.first == "lifeline: fc-1: create failed; retrying after: injected fault in create: run failed", "\(waited.stderr)")
        #expect(said.last?.hasPrefix("lifeline: create failed: the server was removed, not standby: ") == true && said.count == 2, "\(waited.stderr)")
        #expect(try await cli.server("fc-1") == nil)
        // Why is kept in its history, which outlives the job.
        let removal = try #require(try await cli.json(["server", "history", "fc-1", "--json"]).last)
        #expect(removal["to"] == .null && removal["cause"]?.stringValue?.hasPrefix("create discarded: injected fault in create") == true, "\(removal)")
        withExtendedLifetime(worker) {}
    }

    @Test("while a stage retries, the server says why its last attempt failed, in last_error too, until the stage succeeds")
    func retryingStage() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_FAULTS": "create:fail-first=2"])
        #expect(try await cli.run(["server", "create", "rs-1", "--disk-size", "64KiB"]).status == 0)
        // Each retry comes 0.8 to 1 s, then 1.6 to 2 s, after its failure (the create stage's backoff).
        var seen: JSONValue?
        try await waitUntil("the create stage to wait for its retry", timeout: .seconds(30)) {
            seen = try await cli.server("rs-1")
            return seen?["current_job_state"] == "retryable"
        }
        #expect(seen?["current_job_error"]?.stringValue?.hasPrefix("injected fault in create") == true, "\(String(describing: seen))")
        // A cleanup retries for as long as it takes: last_error, which programs read, says why meanwhile.
        #expect(seen?["last_error"]?.stringValue?.hasPrefix("create: injected fault in create") == true, "\(String(describing: seen))")
        #expect(try await cli.run(["server", "list"]).stdout.contains("create: injected fault in create"))
        var shown = ""
        try await waitUntil("the create stage to wait for its retry", timeout: .seconds(30)) {
            shown = try await cli.run(["server", "show", "rs-1"]).stdout
            return shown.contains("waiting to retry")
        }
        #expect(shown.contains("retrying  after: injected fault in create"), "\(shown)")
        // A wait says why, once per reason, where a terminal's bar only says "retrying".
        let wait = try await cli.run(["server", "wait", "rs-1", "--state", "standby", "--timeout", "60s"])
        #expect(wait.status == 0 && wait.stderr.contains("lifeline: rs-1: create failed; retrying after: injected fault in create"), "\(wait.stderr)")
        let rested = try await cli.server("rs-1")
        #expect(rested?["current_job_error"] == .null && rested?["last_error"] == .null, "a server at rest has no current job: \(String(describing: rested))")
        withExtendedLifetime(worker) {}
    }

    @Test("a stage whose worker died says so: server show and a wait name the lease its worker stopped renewing, server list marks it stalled")
    func stalledStage() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try cli.start(["worker", "--lease", "1s"], extraEnvironment: ["LIFELINE_SIM_THROUGHPUT": "64KiB"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "st-1", "--disk-size", "4MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "st-1"]).status == 0)
        #expect(try await cli.run(["server", "wait", "st-1", "--state", "finalization", "--timeout", "30s"]).status == 0)
        #expect(try await cli.run(["server", "show", "st-1"]).stdout.contains(", working"))
        worker.signal(SIGKILL)
        _ = try await worker.waitForExit()
        let wait = try await cli.run(["server", "wait", "st-1", "--state", "failover", "--timeout", "5s"])
        #expect(wait.status == 1 && wait.stderr.contains("lifeline: st-1: its worker ") && wait.stderr.contains(" stopped renewing the lease of job "), "\(wait.stderr)")
        let shown = try await cli.run(["server", "show", "st-1"]).stdout
        #expect(shown.contains("stalled: its lease expired") && shown.contains("stalled   its worker "), "\(shown)")
        // So does the list, beside its progress if the copy reported one before its worker died.
        let listed = try await cli.run(["server", "list"]).stdout
        #expect(listed.split(separator: "\n").contains { $0.hasPrefix("st-1 ") && $0.contains(" stalled") }, "\(listed)")
        // The JSON says it too: when the lease ran out, which is the time the text gives, a
        // lease after the worker's last renewal.
        let stalledText = try #require(try await cli.server("st-1")?["stalled_since"]?.stringValue)
        let stalled = try #require(LifelineJSON.parseTime(stalledText))
        #expect(stalled < Date())
        #expect(shown.contains(", which ran out at \(stalledText) (it died"), "\(shown)")
        let job = try #require(try await cli.server("st-1")?["current_job"]?.intValue)
        let renewed = try #require(try await cli.job(job)["heartbeat_at"]?.stringValue.flatMap(LifelineJSON.parseTime))
        #expect(abs(stalled.timeIntervalSince(renewed) - 1) < 0.01, "the lease is 1s: \(renewed) then \(stalled)")
    }

    @Test("cancelling a stage's job says where its server went: a waiting create's removes the server")
    func stageCancelSaysServer() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "cx"]).status == 0)
        let create = try #require(try await cli.json(["jobs", "list", "--json"]).first?["id"]?.intValue)
        let cancelled = try await cli.run(["jobs", "cancel", "\(create)"])
        #expect(cancelled.status == 0 && cancelled.stdout == "job \(create) cancelled; server cx removed\n", "\(cancelled)")
        #expect(try await cli.json(["server", "list", "--json"]).isEmpty)
    }

    @Test("a cleanup stage's job cannot be cancelled (it would only start again): exit 3, and 409 from the API")
    func cleanupNotCancelled() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "cc-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.run(["server", "test-failover", "cc-1"]).status == 0)
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let stop = try #require(try JSONValue(parsing: try await cli.run(["server", "stop-test", "cc-1", "--json"]).stdout)["job"]?.intValue)
        let refused = try await cli.run(["jobs", "cancel", "\(stop)"])
        #expect(refused.status == 3 && refused.stderr == "lifeline: job \(stop) is the stop-test cleanup of server 'cc-1', which runs until it succeeds: a cancel would only start it again\n", "\(refused)")
        let token = "t-\(UInt64.random(in: 1 << 62...UInt64.max))"
        let answer = try await ServeCLITests.Server(cli, token: token).post("/api/jobs/\(stop)/cancel", token: token)
        #expect(answer.status == 409 && answer.body["error"]?.stringValue?.hasSuffix("a cancel would only start it again") == true, "\(answer)")
        #expect(try await cli.job(stop)["state"] == "available")
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.server("cc-1")?["state"] == "standby")
    }

    @Test("a second server of a machine takes the machine's disk layout, and so does one made once only its recovery points are left; another is refused at once")
    func machineLayout() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli)
        #expect(try await cli.run(["server", "create", "sa", "--machine", "m1", "--disk-size", "64KiB", "--wait"]).status == 0)
        let other = try await cli.run(["server", "create", "sb", "--machine", "m1", "--disks", "2", "--disk-size", "128KiB", "--wait"])
        #expect(other.status == 64 && other.stderr == "lifeline: machine m1's servers (sa) have 1 × 64KiB disks, not 2 × 128KiB: give --disks 1 --disk-size 64KiB, or leave both out\n", "\(other)")
        #expect(try await cli.server("sb") == nil, "nothing is created")
        #expect(try await cli.run(["server", "create", "sc", "--machine", "m1", "--wait"]).status == 0)
        #expect(try await cli.server("sc")?["disk_size"] == 65536, "the machine's layout, not the default")
        let third = try await cli.run(["server", "create", "se", "--machine", "m1", "--disk-size", "8MiB"])
        #expect(third.status == 64 && third.stderr.hasPrefix("lifeline: machine m1's servers (sa, sc) have 1 × 64KiB disks, not 1 × 8MiB"), "every one named: \(third)")
        // With its servers deleted, the machine's recovery points hold its layout.
        for name in ["sa", "sc"] { #expect(try await cli.run(["server", "delete", name, "--wait"]).status == 0) }
        let late = try await cli.run(["server", "create", "sd", "--machine", "m1", "--disks", "2", "--disk-size", "128KiB", "--wait"])
        #expect(late.status == 64 && late.stderr == "lifeline: machine m1's recovery points have 1 × 64KiB disks, not 2 × 128KiB: give --disks 1 --disk-size 64KiB, or leave both out\n", "\(late)")
        #expect(try await cli.server("sd") == nil, "nothing is created")
        #expect(try await cli.run(["server", "create", "sd", "--machine", "m1", "--wait"]).status == 0)
        #expect(try await cli.server("sd")?["disk_size"] == 65536, "the points' layout, not the default")
        withExtendedLifetime(worker) {}
    }

    @Test("a server whose recovery points would not fit in the space left is refused at once; sizes past 16TiB are not sizes")
    func noRoomForPoints() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let huge = try await cli.run(["server", "create", "big", "--disks", "64", "--disk-size", "16TiB"])
        #expect(huge.status == 1 && huge.stderr.hasPrefix("lifeline: machine big's 3 recovery points of 64 × 16TiB need 3072TiB, and "), "\(huge)")
        #expect(huge.stderr.hasSuffix(" is free in \(cli.home.appendingPathComponent("infra").path)\n"), "\(huge.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("lifeline.db").path), "a create refused on a new home makes no queue")
        #expect(try await cli.server("big") == nil, "nothing is created")
        let past = try await cli.run(["server", "create", "big", "--disk-size", "17TiB"])
        #expect(past.status == 64 && past.stderr == "lifeline: size '17TiB' is too large: at most 16TiB\n", "\(past)")
        for size in ["1PiB", "2EB", "9EiB", "99999999999999999999TiB"] {
            let larger = try await cli.run(["server", "create", "big", "--disk-size", size])
            #expect(larger.status == 64 && larger.stderr == "lifeline: size '\(size)' is too large: at most 16TiB\n", "\(larger)")
        }
    }

    @Test("a test failover whose VM fails to start is cleaned up and the server returns to standby")
    func failedTestStart() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_FAULTS": "start-test:fail-first=5"])
        #expect(try await cli.run(["server", "create", "qa-1", "--disk-size", "256KiB", "--wait"]).status == 0)
        let waited = try await cli.run(["server", "test-failover", "qa-1", "--wait", "--timeout", "60s"])
        #expect(waited.status == 1 && waited.stderr.contains("test-failover failed: qa-1 came to rest in standby, not testing_failover"))
        let server = try #require(try await cli.server("qa-1"))
        #expect(server["state"] == "standby")
        #expect(server["last_error"]?.stringValue?.contains("start-test") == true)
        #expect(server["last_test"]?["result"]?.stringValue?.hasPrefix("failed") == true)
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/qa-1/test-vm.json").path), "no test VM is leaked")
        #expect(try await cli.history("qa-1").suffix(3) == ["starting_test", "stopping_test", "standby"])

        // The failed stage is retried through its server, never on its own.
        let stage = try #require(try await cli.json(["jobs", "list", "--kind", "recovery.start-test", "--json"]).first?["id"]?.intValue)
        let refused = try await cli.run(["jobs", "retry", "\(stage)"])
        #expect(refused.status == 3 && refused.stderr.contains("server 'qa-1'") && refused.stderr.contains("lifeline server test-failover qa-1"))
        let bulk = try await cli.run(["jobs", "retry", "--state", "discarded"])
        #expect(bulk.status == 0 && bulk.stdout.contains("retried 0 jobs") && bulk.stderr.contains("skipped 1 recovery stage job:"))
        #expect(try await cli.job(stage)["state"] == "discarded")
        // The action named is one the server allows now; else what it allows is.
        #expect(try await cli.run(["server", "failover", "qa-1", "--wait", "--timeout", "60s"]).status == 0)
        let moved = try await cli.run(["jobs", "retry", "\(stage)"])
        #expect(moved.status == 3 && moved.stderr.hasSuffix("its server's actions retry stages, and it is in failover now, allowing cancel-failover, failback\n"), "\(moved.stderr)")
        #expect(try await cli.run(["server", "cancel-failover", "qa-1", "--wait", "--timeout", "60s"]).status == 0)
        #expect(try await cli.run(["server", "delete", "qa-1", "--wait", "--timeout", "60s"]).status == 0)
        let gone = try await cli.run(["jobs", "retry", "\(stage)"])
        #expect(gone.status == 3 && gone.stderr.hasSuffix("the server is gone, and nothing retries its stages\n"), "\(gone.stderr)")
        // A completed stage job is refused as any completed job is: no action would retry it.
        let created = try #require(try await cli.json(["jobs", "list", "--kind", "recovery.create", "--json"]).first?["id"]?.intValue)
        let completed = try await cli.run(["jobs", "retry", "\(created)"])
        #expect(completed.status == 3 && completed.stderr == "lifeline: not retried: job \(created) is completed; only discarded, cancelled, retryable or scheduled jobs can be retried\n", "\(completed.stderr)")
        withExtendedLifetime(worker) {}
    }

    @Test("cancel-failover during finalization stops the copy; its late completion is ignored")
    func cancelDuringFinalization() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_THROUGHPUT": "1MiB"])
        #expect(try await cli.run(["server", "create", "fs-1", "--disk-size", "6MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "fs-1"]).status == 0)
        #expect(try await cli.run(["server", "wait", "fs-1", "--state", "finalization", "--timeout", "30s"]).status == 0)
        let finalizeJob = try #require(try await cli.server("fs-1")?["current_job"]?.intValue)
        #expect(try await cli.run(["server", "cancel-failover", "fs-1", "--wait", "--timeout", "60s"]).status == 0)
        #expect(try await cli.server("fs-1")?["state"] == "standby")
        #expect(try await cli.job(finalizeJob)["state"] == "cancelled")
        #expect(try await cli.json(["events", "--job", "\(finalizeJob)", "--type", "stage_ignored", "--json"]).count == 1)
        #expect(!FileManager.default.fileExists(atPath: cli.infra("servers/fs-1/hot").path), "the cleanup ran after the copy stopped")
        withExtendedLifetime(worker) {}
    }

    @Test("a failover waited on and cancelled from another terminal says it was turned aside by that request, not that it failed")
    func waitTurnedAside() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_THROUGHPUT": "1MiB"])
        #expect(try await cli.run(["server", "create", "fs-1", "--disk-size", "6MiB", "--wait"]).status == 0)
        let waiting = try cli.start(["server", "failover", "fs-1", "--wait", "--timeout", "60s"])
        #expect(try await cli.run(["server", "wait", "fs-1", "--state", "finalization", "--timeout", "30s"]).status == 0)
        let cancel = try await cli.run(["server", "cancel-failover", "fs-1", "--json"])
        let cancelJob = try #require(try JSONValue(parsing: cancel.stdout)["job"]?.intValue, "\(cancel.stderr)")
        #expect(try await waiting.waitForExit() == 1)
        let said = "lifeline: failover did not complete: cancel-failover (job \(cancelJob)) was requested meanwhile; fs-1 came to rest in standby, not failover\n"
        #expect(waiting.stderr.hasSuffix(said), "\(waiting.stderr)")
        withExtendedLifetime(worker) {}
    }

    @Test("a worker killed mid-finalization: the copy resumes from its checkpoint and ends intact")
    func killedDuringFinalization() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        var worker: RunningWorker? = try RunningWorker(cli, environment: ["LIFELINE_SIM_THROUGHPUT": "2MiB"])
        #expect(try await cli.run(["server", "create", "big-1", "--disk-size", "8MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "big-1"]).status == 0)
        var seen: Int64 = 0
        try await waitUntil("finalization to be under way", timeout: .seconds(30)) {
            seen = try await cli.server("big-1")?["progress"]?["done"]?.intValue ?? 0
            return seen >= 2 << 20
        }
        kill(worker!.process.processIdentifier, SIGKILL)
        worker = nil
        let rescuer = try RunningWorker(cli)
        #expect(try await cli.run(["server", "wait", "big-1", "--state", "failover", "--timeout", "60s"]).status == 0)
        let job = try #require(try await cli.json(["jobs", "list", "--kind", "recovery.finalize", "--json"]).first)
        #expect(job["attempt"] == 2 && job["errors"]?.arrayValue?.first?["error"]?.stringValue?.contains("lease expired") == true)
        #expect(try #require(job["result"]?["resumed_from"]?.intValue) >= seen, "progress never restarts from zero")
        let points = try Self.checksums(cli.infra("machines/big-1/rp-003"))
        #expect(try Self.sha256(cli.infra("servers/big-1/hot/disk-0.img")) == points["disk-0.img"])
        withExtendedLifetime(rescuer) {}
    }

    @Test("a failback backs up the disks as they are now: the partial backup of one that failed goes when the VM is powered on, and is never resumed")
    func failbackAfterFailedOne() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // Every backup run fails after its first chunk, which its checkpoint keeps.
        let worker = try RunningWorker(cli, environment: ["LIFELINE_SIM_FAULTS": "backup:fail-first=5"])
        #expect(try await cli.run(["server", "create", "fb-1", "--disk-size", "8MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "fb-1", "--wait", "--timeout", "60s"]).status == 0)
        #expect(try await cli.run(["server", "failback", "fb-1"]).status == 0)
        var backup: Int64 = 0
        try await waitUntil("the backup to have failed once", timeout: .seconds(30)) {
            let job = try await cli.json(["jobs", "list", "--kind", "recovery.backup", "--json"]).first
            backup = job?["id"]?.intValue ?? 0
            return job?["errors"]?.arrayValue?.isEmpty == false
        }
        // The failback fails for good: the VM is powered on again, back in failover.
        #expect(try await cli.run(["jobs", "cancel", "\(backup)"]).status == 0)
        #expect(try await cli.run(["server", "wait", "fb-1", "--state", "failover", "--timeout", "30s"]).status == 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/fb-1").path)
        #expect(left.isEmpty, "nothing of the failed backup is kept: \(left)")
        worker.process.signal(SIGKILL)
        _ = try await worker.process.waitForExit()
        // The running VM writes to its disk where the failed backup had copied already.
        let disk = try FileHandle(forWritingTo: cli.infra("servers/fb-1/hot/disk-0.img"))
        try disk.write(contentsOf: Data(repeating: 0xAB, count: 4096))
        try disk.close()
        let rescuer = try RunningWorker(cli)
        #expect(try await cli.run(["server", "failback", "fb-1", "--wait", "--timeout", "60s"]).status == 0)
        let hot = try Self.sha256(cli.infra("servers/fb-1/hot/disk-0.img"))
        let sealed = try #require(try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/fb-1").path).first)
        #expect(try Self.checksums(cli.infra("cloud-backups/fb-1/\(sealed)"))["disk-0.img"] == hot)
        #expect(try Self.sha256(cli.infra("cloud-backups/fb-1/\(sealed)/disk-0.img")) == hot, "the backup holds the disk as it is now")
        withExtendedLifetime(rescuer) {}
    }

    @Test("a crash inside the completion transaction leaves all of it or none", arguments: [
        "finish.after-job-update", "lifecycle.after-next-enqueue", "lifecycle.after-transition", "finish.before-commit",
        "finish.after-commit",
    ])
    func crashPoints(_ point: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "cp-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        // Completing start-vm moves the server and enqueues switch-workload: one transaction.
        let startVM = try #require(try await cli.json(["server", "failover", "cp-1", "--json"])[0]["job"]?.intValue)
        let crashing = try cli.start(["worker", "--lease", "1s", "--queues", "recovery.vm"], extraEnvironment: ["LIFELINE_CRASH_AT": point])
        #expect(try await crashing.waitForExit() == 70)
        let committed = point == "finish.after-commit"
        #expect(try await cli.job(startVM)["state"] == (committed ? "completed" : "running"))
        #expect(try await cli.server("cp-1")?["current_stage"] == (committed ? "switch-workload" : "start-vm"))
        #expect(try await cli.json(["jobs", "list", "--kind", "recovery.switch-workload", "--json"]).count == (committed ? 1 : 0))
        #expect(try await cli.history("cp-1").count == (committed ? 4 : 3))
        #expect(try await cli.json(["events", "--job", "\(startVM)", "--type", "completed", "--json"]).count == (committed ? 1 : 0))

        let worker = try RunningWorker(cli)
        #expect(try await cli.run(["server", "wait", "cp-1", "--state", "failover", "--timeout", "30s"]).status == 0)
        #expect(try await cli.history("cp-1") == [
            "creating", "standby", "starting_failover", "starting_failover", "finalization", "failover",
        ])
        #expect(try await cli.json(["events", "--job", "\(startVM)", "--type", "completed", "--json"]).count == 1)
        #expect(try await cli.json(["jobs", "list", "--kind", "recovery.switch-workload", "--json"]).count == 1)
        withExtendedLifetime(worker) {}
    }
}

@Suite("The command infrastructure adapter")
struct CommandInfrastructureCLITests {
    @Test("a missing stage commands config stops a worker at start, not an enqueue")
    func missingConfig() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let environment = ["LIFELINE_INFRA": "command", "LIFELINE_INFRA_COMMANDS": cli.home.appendingPathComponent("none.json").path]
        #expect(try await cli.run(["enqueue", "noop"], extraEnvironment: environment).status == 0)
        let worker = try await cli.run(["worker", "--drain"], extraEnvironment: environment)
        #expect(worker.status == 64 && worker.stderr.split(separator: "\n").count == 1 && worker.stderr.contains("none.json': no such file or directory (LIFELINE_INFRA=command reads it"), "\(worker.stderr)")
        #expect(try await cli.jobCount() == 1)
    }

    @Test("a stage commands config with a mistake stops a worker at start with one line that names it", arguments: [
        (#"{"stages": {"finalise": ["/bin/true"]}, "default": ["/bin/true"]}"#, "names no stage 'finalise' (stages: create, "),
        (#"{"default": ["/bin/true"], "extra": 1}"#, "unknown field 'extra' (fields: default, points, stages)"),
        (#"{"default": "/bin/true"}"#, "field 'default' must be an array, not a string"),
        (#"{"default": ["/bin/true"]"#, "invalid JSON at line 1, column 26"),
        ("[1]", "the config must be a JSON object, not an array"),
        (#"{"default": ["/bin/true"], "stages": {"finalize": ["/nonexistent/prog"]}}"#, "program '/nonexistent/prog' for stage 'finalize' does not exist"),
        (#"{"default": ["/tmp"]}"#, "program '/tmp' for stage 'create' is a directory"),
        (#"{"default": ["/etc/passwd"], "points": ["/nonexistent/points"]}"#, "program '/etc/passwd' for stage 'create' is not executable"),
    ])
    func mistakenConfig(config: String, says: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let path = try cli.writeFile("commands.json", config)
        let worker = try await cli.run(["worker", "--drain"], extraEnvironment: ["LIFELINE_INFRA": "command", "LIFELINE_INFRA_COMMANDS": path])
        #expect(worker.status == 64 && worker.stderr.split(separator: "\n").count == 1, "\(worker.stderr)")
        #expect(worker.stderr.contains(says) && worker.stderr.contains(path), "\(worker.stderr)")
    }

    @Test("a cleanup stage whose program fails for good (exit 3) is retried with backoff in the same job until it succeeds")
    func cleanupFailsForGood() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let runs = try cli.writeFile("stop-test.runs", "")
        // stop-test fails for good on its first two runs.
        let program = try cli.writeFile("stage.sh", """
            #!/bin/sh
            case "$(cat)" in *'"stage":"stop-test"'*)
                echo run >> "\(runs)"
                [ "$(wc -l < "\(runs)")" -ge 3 ] || { echo "the hypervisor said no" >&2; exit 3; };;
            esac
            exit 0
            """)
        chmod(program, 0o700)
        let config = try cli.writeFile("commands.json", #"{"default": ["\#(program)"]}"#)
        let worker = try RecoveryCLITests.RunningWorker(cli, environment: ["LIFELINE_INFRA": "command", "LIFELINE_INFRA_COMMANDS": config])
        #expect(try await cli.run(["server", "create", "cl-1", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "test-failover", "cl-1", "--wait", "--timeout", "30s"]).status == 0)
        #expect(try await cli.run(["server", "stop-test", "cl-1", "--wait", "--timeout", "30s"]).status == 0)
        #expect(try await cli.server("cl-1")?["state"] == "standby")
        let jobs = try await cli.json(["jobs", "list", "--kind", "recovery.stop-test", "--json"])
        #expect(jobs.count == 1 && jobs.first?["state"] == "completed" && jobs.first?["attempt"] == 3, "one job, retried: \(jobs)")
        let errors = jobs.first?["errors"]?.arrayValue?.compactMap { $0["error"]?.stringValue } ?? []
        #expect(errors.count == 2 && errors.allSatisfy { $0.hasPrefix("stop-test never gives up, so it is retried: \(program) failed for good: ") }, "\(errors)")
        #expect(try String(contentsOfFile: runs, encoding: .utf8) == "run\nrun\nrun\n")
        withExtendedLifetime(worker) {}
    }

    @Test("a recovery point a stage program says it used is checked as one an action names: a name that is none fails the stage for good")
    func commandPointChecked() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let program = try cli.writeFile("stage.sh", """
            #!/bin/sh
            case "$(cat)" in *'"stage":"start-vm"'*) echo '{"recovery_point": "../../etc/passwd"}';; esac
            exit 0
            """)
        chmod(program, 0o700)
        let config = try cli.writeFile("commands.json", #"{"default": ["\#(program)"]}"#)
        let worker = try cli.start(["worker"], extraEnvironment: ["LIFELINE_INFRA": "command", "LIFELINE_INFRA_COMMANDS": config])
        defer { kill(worker.processIdentifier, SIGKILL) }
        #expect(try await cli.run(["server", "create", "cmd-2", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "cmd-2", "--wait", "--timeout", "30s"]).status == 1)
        let server = try #require(try await cli.server("cmd-2"))
        #expect(server["recovery_point"] == .null, "\(server)")
        let error = server["last_error"]?.stringValue ?? ""
        #expect(error.contains("said it used invalid recovery point '../../etc/passwd'"), "\(server)")
        let startVM = try #require(try await cli.json(["jobs", "list", "--kind", "recovery.start-vm", "--json"]).first)
        #expect(startVM["state"] == "discarded" && startVM["attempt"] == 1, "\(startVM)")
    }

    @Test("a points program lists the machine's recovery points, its times with or without fractions of a second; a line that is none is said in one line")
    func commandPoints() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let listing = try cli.writeFile("points.jsonl", """
            {"id": "rp-1", "created_at": "2026-11-29T03:00:00Z", "bytes": 1024}
            {"id": "rp-2", "created_at": "2026-11-29T04:00:00.250Z", "bytes": 2048, "tier": "cold"}

            """)
        let program = try cli.writeFile("points.sh", "#!/bin/sh\ncat >/dev/null\ncat \"\(listing)\"\n")
        chmod(program, 0o700)
        let config = try cli.writeFile("commands.json", #"{"default": ["/bin/true"], "points": ["\#(program)"]}"#)
        let environment = ["LIFELINE_INFRA": "command", "LIFELINE_INFRA_COMMANDS": config]
        #expect(try await cli.run(["server", "create", "cmd-3"], extraEnvironment: environment).status == 0)
        #expect(try await cli.run(["worker", "--drain"], extraEnvironment: environment).status == 0)
        let listed = try await cli.run(["server", "points", "cmd-3", "--json"], extraEnvironment: environment)
        #expect(listed.stdout == """
            {"bytes":1024,"created_at":"2026-11-29T03:00:00.000Z","id":"rp-1"}
            {"bytes":2048,"created_at":"2026-11-29T04:00:00.250Z","id":"rp-2"}

            """, "\(listed)")
        let unknown = try await cli.run(["server", "failover", "cmd-3", "--recovery-point", "rp-9"], extraEnvironment: environment)
        #expect(unknown.status == 4 && unknown.stderr.contains("has no recovery point 'rp-9'; it has: rp-1, rp-2"), "\(unknown)")
        // A server that takes no failover now says so first: its state is what must change.
        #expect(try await cli.run(["server", "test-failover", "cmd-3"], extraEnvironment: environment).status == 0)
        let busy = try await cli.run(["server", "failover", "cmd-3", "--recovery-point", "rp-9"], extraEnvironment: environment)
        #expect(busy.status == 3 && busy.stderr.hasPrefix("lifeline: server cmd-3: cannot failover: the server is in starting_test"), "\(busy)")
        try #"{"id": "rp-3", "created_at": "yesterday"}"#.write(toFile: listing, atomically: true, encoding: .utf8)
        let bad = try await cli.run(["server", "points", "cmd-3"], extraEnvironment: environment)
        #expect(bad.status == 1 && bad.stderr == """
            lifeline: \(program) printed a line that is no recovery point (field 'created_at': invalid time 'yesterday'): {"id": "rp-3", "created_at": "yesterday"}

            """, "\(bad)")
    }

    @Test("stages run the configured program: request on stdin, progress on stdout, exit status as outcome")
    func commandAdapter() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let log = try cli.writeFile("stages.log", "")
        // The operator's program: logs each request, reports progress, refuses test VMs for good.
        let program = try cli.writeFile("stage.sh", """
            #!/bin/sh
            request=$(cat)
            echo "$request" >> "\(log)"
            echo '{"done": 1, "total": 2, "detail": "half"}'
            case "$request" in *'"stage":"start-test"'*) echo "no test VMs here" >&2; exit 3;; esac
            case "$request" in *'"stage":"start-vm"'*) echo '{"recovery_point": "rp-latest-7"}';; esac
            echo '{"done": 2, "total": 2}'
            exit 0
            """)
        chmod(program, 0o700)
        let config = try cli.writeFile("commands.json", #"{"default": ["\#(program)"]}"#)
        let environment = ["LIFELINE_INFRA": "command", "LIFELINE_INFRA_COMMANDS": config]
        let worker = try cli.start(["worker", "--lease", "1s"], extraEnvironment: environment)
        defer { kill(worker.processIdentifier, SIGKILL) }
        #expect(try await cli.run(["server", "create", "cmd-1", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "cmd-1", "--wait", "--timeout", "30s"]).status == 0)
        let failedOver = try #require(try await cli.server("cmd-1"))
        #expect(failedOver["state"] == "failover" && failedOver["recovery_point"] == "rp-latest-7", "the point the program said it used: \(failedOver)")
        #expect(try await cli.run(["server", "test-failover", "cmd-1"]).status == 3, "not allowed in failover")
        #expect(try await cli.run(["server", "cancel-failover", "cmd-1", "--wait", "--timeout", "30s"]).status == 0)
        #expect(try await cli.run(["server", "test-failover", "cmd-1", "--wait", "--timeout", "30s"]).status == 1, "the test VM never started")
        let server = try #require(try await cli.server("cmd-1"))
        #expect(server["state"] == "standby" && server["last_error"]?.stringValue?.contains("no test VMs here") == true)
        let startTest = try #require(try await cli.json(["jobs", "list", "--kind", "recovery.start-test", "--json"]).first)
        #expect(startTest["state"] == "discarded" && startTest["attempt"] == 1, "exit 3 is not retried")
        let requests = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(requests.map { $0["stage"]?.stringValue ?? "" } == [
            "create", "start-vm", "switch-workload", "finalize", "cancel-failover", "start-test", "stop-test",
        ])
        #expect(requests.allSatisfy { $0["server"] == "cmd-1" && $0["machine"] == "cmd-1" })
        // No action named a point: the failover's stages after the one that said which it used
        // get that one, and so does the next action's (the server's); a test from standby starts
        // from the latest again.
        #expect(requests.map { $0["recovery_point"] ?? "absent" } == [.null, .null, "rp-latest-7", "rp-latest-7", "rp-latest-7", .null, .null], "\(requests)")
        let finalize = try #require(try await cli.json(["jobs", "list", "--kind", "recovery.finalize", "--json"]).first)
        #expect(finalize["progress"]?["done"] == 2, "the last progress line before the program's end is kept, detail or none: \(finalize)")
    }
}
