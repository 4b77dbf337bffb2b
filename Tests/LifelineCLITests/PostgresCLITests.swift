import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// The same commands on a queue in PostgreSQL (`LIFELINE_DATABASE_URL`), each test in a
/// database of its own on the server `Scripts/postgres.sh` starts.
@Suite("The CLI on PostgreSQL", .serialized, .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct PostgresCLITests {
    static func runner() async throws -> CLIRunner {
        try CLIRunner(databaseURL: try await TestPostgres.freshDatabase())
    }

    /// A runner on a fresh database, with the database's URL and name, for a test that also
    /// works on the database behind the CLI's back.
    static func runnerAndDatabase() async throws -> (CLIRunner, url: String, name: String) {
        let url = try await TestPostgres.freshDatabase()
        return (try CLIRunner(databaseURL: url), url, String(url[url.index(after: url.lastIndex(of: "/")!)...]))
    }

    @Test("serve answers the same API on PostgreSQL")
    func serveAPI() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await ServeCLITests.Server(cli)
        #expect(try await server.get("/healthz").body == ["store": "ok"])
        #expect(try await server.get("/api/jobs").body == .array(try cli.json(["jobs", "list", "--json"])))
        #expect(try await server.get("/api/events").body == .array(try cli.json(["events", "--json"])))
        #expect(server.process.stdout.contains("serving postgres://"))
    }

    @Test("enqueue, a worker drains, list, show, retry, cancel, idempotency and queue settings")
    func jobsEndToEnd() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["jobs", "list"]).status == 4, "a read on an empty database creates nothing")
        let first = try await cli.enqueue(["noop"])
        let failing = try await cli.enqueue(["exec", "--args", #"{"argv": ["false"]}"#, "--max-attempts", "1"])
        let keyed = try await cli.enqueue(["sleep", "--args", #"{"ms": 10}"#, "--idempotency-key", "k"])
        #expect(try await cli.enqueue(["sleep", "--args", #"{"ms": 10}"#, "--idempotency-key", "k"]) == keyed)
        #expect(try await cli.run(["enqueue", "noop", "--idempotency-key", "k"]).status == 3)
        #expect(try await cli.run(["worker", "--drain", "--concurrency", "4"]).status == 0)
        let later = try await cli.enqueue(["noop", "--delay", "1h"])
        #expect(try await cli.job(first)["state"] == "completed")
        #expect(try await cli.job(failing)["state"] == "discarded")
        #expect(try await cli.job(keyed)["state"] == "completed")
        #expect(try await cli.job(later)["state"] == "scheduled")
        #expect(try await cli.json(["jobs", "list", "--failed", "--json"]).map { $0["id"]?.intValue } == [failing])
        #expect(try await cli.run(["jobs", "retry", "\(failing)"]).status == 0)
        #expect(try await cli.job(failing)["state"] == "available")
        #expect(try await cli.run(["jobs", "cancel", "\(later)"]).status == 0)
        #expect(try await cli.job(later)["state"] == "cancelled")
        #expect(try await cli.run(["queues", "limit", "default", "2"]).status == 0)
        #expect(try await cli.run(["queues", "pause", "default"]).status == 0)
        let queues = try await cli.json(["queues", "list", "--json"])
        #expect(queues.first { $0["name"] == "default" }?["paused"] == true)
        #expect(try await cli.run(["queues", "limit", "nosuch", "2"]).status == 4)
        let shown = try await cli.run(["jobs", "show", "\(failing)"])
        #expect(shown.status == 0 && shown.stdout.contains("retried"))
        #expect(try await cli.run(["stats", "--json"]).status == 0)
    }

    @Test("workers delete jobs past their queue's retention, and the log says what went")
    func retention() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop", "--queue", "quick"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.run(["queues", "retain", "quick", "--completed", "1ms"]).status == 0)
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the worker to prune the job", timeout: .seconds(30)) {
            try await cli.run(["jobs", "show", "\(id)"]).status == 4
        }
        let pruned = try await cli.json(["events", "--type", "pruned", "--json"])
        #expect(pruned.count == 1 && pruned.first?["data"] == ["jobs": 1, "events": 3, "queues": ["quick"]], "\(pruned)")
    }

    @Test("serve started while PostgreSQL does not answer serves all the same: /healthz answers 503 and /metrics says the store is down")
    func serveDuringOutage() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let server = try await ServeCLITests.Server(cli, environment: ["LIFELINE_DATABASE_URL": "postgres://lifeline@127.0.0.1:1/x"])
        #expect(try await server.get("/healthz").status == 503)
        #expect(try await server.metrics()["lifeline_store_up"] == 0)
        #expect(server.process.stderr.contains("cannot reach PostgreSQL at postgres://lifeline@127.0.0.1:1/x"), "\(server.process.stderr)")
    }

    @Test("a recovery server through failover and failback, moved by a worker")
    func serverLifecycle() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let worker = try cli.start(["worker", "--concurrency", "4"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "web-1", "--disks", "1", "--disk-size", "8MiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "web-1", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["state"] == "failover")
        #expect(try await cli.run(["server", "failback", "web-1", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["state"] == "ready_for_failback")
        #expect(try await cli.run(["server", "confirm-failback", "web-1", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["state"] == "standby")
        #expect(try await cli.run(["server", "failback", "web-1"]).status == 3, "an action the state does not allow is refused")
        let history = try await cli.history("web-1")
        #expect(history.first == "creating" && history.last == "standby" && history.contains("failover"))
    }

    @Test("conflicting actions from many processes at once: exactly one per server is accepted")
    func conflictingActions() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        try await HostileInputCLITests.expectOneActionAccepted(cli)
    }

    @Test("servers of one machine sent a failover at once: exactly one takes over its workload")
    func oneFailoverPerMachine() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        try await HostileInputCLITests.expectOneFailoverPerMachine(cli)
    }

    @Test("one action under one idempotency key from 8 processes at once: all are answered with its one job")
    func sameKeyActions() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        try await HostileInputCLITests.expectOneJobForKey(cli)
    }

    @Test("an action that deadlocks with a session holding its stage's job is run again, not refused")
    func actionAfterDeadlock() async throws {
        let (cli, url, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64MiB"]).status == 0)
        let worker = try cli.start(["worker"], extraEnvironment: ["LIFELINE_SIM_THROUGHPUT": "1MiB"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "wait", "web-1", "--state", "standby", "--timeout", "30s"]).status == 0)
        #expect(try await cli.run(["server", "failover", "web-1"]).status == 0)
        #expect(try await cli.run(["server", "wait", "web-1", "--state", "finalization", "--timeout", "30s"]).status == 0)
        worker.signal(SIGKILL)
        _ = try await worker.waitForExit()
        let job = try #require(try await cli.server("web-1")?["current_job"]?.intValue)
        // A session that locks the finalization's job, waits until the action below waits for
        // it (the action holds the server by then), and asks for the server: a deadlock, found
        // by the action's session, which PostgreSQL rolls back. Whoever has waited the deadlock
        // timeout looks for the cycle, once: the action looks after 3 s, by when the session
        // has surely closed it, however loaded the machine; the session only after a minute.
        let admin = try #require(TestPostgres.url)
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) SET deadlock_timeout = '3s'")
        let session = Task {
            try await TestPostgres.psql(url, """
                SET deadlock_timeout = '60s';
                BEGIN; SELECT id FROM lifeline.jobs WHERE id = \(job) FOR UPDATE;
                DO $$ BEGIN
                  FOR i IN 1..2000 LOOP
                    EXIT WHEN EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                                      WHERE NOT l.granted AND a.datname = current_database());
                    PERFORM pg_sleep(0.01);
                  END LOOP;
                END $$;
                SELECT name FROM lifeline.servers WHERE name = 'web-1' FOR UPDATE; COMMIT
                """)
        }
        try await waitUntil("the session to hold the job", timeout: .seconds(10)) {
            try await TestPostgres.psql(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND wait_event = 'PgSleep'") == "1"
        }
        let cancel = try await cli.run(["server", "cancel-failover", "web-1"])
        _ = try await session.value
        #expect(cancel.status == 0, "\(cancel.stderr)")
        #expect(try await cli.server("web-1")?["state"] == "cancelling_failover")
        // The deadlock did happen: the retry is what let the action through.
        try await waitUntil("the database to count the deadlock", timeout: .seconds(10)) {
            try await TestPostgres.psql(url, "SELECT deadlocks FROM pg_stat_database WHERE datname = '\(database)'") == "1"
        }
    }

    @Test("a wait and a follow outlast an outage of the database: they say so in one line each, read again, and go on")
    func waitThroughOutage() async throws {
        let (cli, _, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let wait = try cli.start(["server", "wait", "web-1", "--state", "standby", "--timeout", "60s"])
        defer { wait.signal(SIGKILL) }
        let follower = try cli.start(["events", "--follow"])
        defer { follower.signal(SIGKILL) }
        // Said 5 s into the wait, when it reads the server in its loop.
        try await waitUntil("the wait to say its job waits for a worker", timeout: .seconds(20)) { wait.stderr.contains("waits for a worker") }
        // The outage: the database takes no connection and its sessions are ended, for 2 s.
        let admin = try #require(TestPostgres.url)
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
        try await TestPostgres.psql(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)'")
        try await waitUntil("the wait to say the store does not answer", timeout: .seconds(10)) { wait.stderr.contains("retrying every second") }
        try await Task.sleep(for: .seconds(2))
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
        try await waitUntil("the wait to read again", timeout: .seconds(10)) { wait.stderr.contains("lifeline: reading web-1 again") }
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await wait.waitForExit() == 0, "\(wait.stderr)")
        #expect(wait.stdout == "web-1 is standby\n")
        // The follower's change feed was cut: said as the command's other messages are.
        try await waitUntil("the follower to see the job complete", timeout: .seconds(20)) { follower.stdout.contains("completed") }
        let said = follower.stderr.split(separator: "\n")
        #expect(follower.stderr.contains("lifeline: lost the change feed; reconnecting"), "\(follower.stderr)")
        #expect(said.allSatisfy { $0.hasPrefix("lifeline: ") }, "\(follower.stderr)")
    }

    @Test("the live event stream outlasts an outage longer than its keep-alive, and goes on with the events after it")
    func streamThroughOutage() async throws {
        let (cli, _, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await ServeCLITests.Server(cli)
        let stream = try ServeCLITests.StreamReader(
            port: try #require(server.base.port), request: "GET /api/events/stream HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 1\r\n\r\n"
        )
        _ = try await stream.nextLine()
        // Longer than the stream's 15 s keep-alive, at which it reads the log whether or not
        // anything is new: that read fails, and the stream ended there, mid-response.
        let admin = try #require(TestPostgres.url)
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
        try await TestPostgres.psql(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)'")
        try await Task.sleep(for: .seconds(17))
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
        let after = try await cli.enqueue(["noop"])
        var seen: JSONValue?
        while seen == nil, let line = try await stream.nextLine(within: .seconds(20)) {
            if line.hasPrefix("data: ") { seen = try JSONValue(parsing: String(line.dropFirst(6))) }
        }
        #expect(seen?["seq"] == 2 && seen?["job"]?.intValue == after, "\(String(describing: seen))")
    }

    @Test("a worker, a follow and a wait started while the database takes no connection wait for it, say so once, and go on")
    func startDuringOutage() async throws {
        let (cli, _, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let admin = try #require(TestPostgres.url)
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) ALLOW_CONNECTIONS false")
        let wait = try cli.start(["server", "wait", "web-1", "--state", "standby", "--timeout", "60s"])
        defer { wait.signal(SIGKILL) }
        let follower = try cli.start(["events", "--follow", "--type", "completed"])
        defer { follower.signal(SIGKILL) }
        let worker = try cli.start(["worker", "--drain"])
        defer { worker.signal(SIGKILL) }
        for command in [wait, follower, worker] {
            try await waitUntil("each to say it waits for the database", timeout: .seconds(20)) { command.stderr.contains("retrying every second") }
        }
        // A wait's timeout bounds its wait for the database too.
        let bounded = try await cli.run(["server", "wait", "web-1", "--state", "standby", "--timeout", "2s"])
        let boundedSaid = bounded.stderr.split(separator: "\n")
        #expect(bounded.status == 1 && boundedSaid.count == 2 && boundedSaid[0].hasSuffix("; retrying every second"), "\(bounded.stderr)")
        // A refusal is said as one each time, also while the next try waits.
        #expect(boundedSaid.allSatisfy { $0.contains(" refused the connection: ") }, "\(bounded.stderr)")
        #expect(boundedSaid.last?.hasPrefix("lifeline: timed out waiting for the database: ") == true
                && boundedSaid.last?.hasSuffix("not currently accepting connections (SQLSTATE 55000)") == true, "\(bounded.stderr)")
        // Ctrl-C while it waits for the database says what it was waiting for.
        let interrupted = try cli.start(["server", "wait", "web-1", "--state", "standby"])
        try await waitUntil("the wait to wait for the database") { interrupted.stderr.contains("retrying every second") }
        interrupted.signal(SIGINT)
        #expect(try await interrupted.waitForExit() == 130)
        #expect(interrupted.stderr.hasSuffix("lifeline: interrupted; web-1 was not yet standby (lifeline server wait web-1 --state standby)\n"), "\(interrupted.stderr)")
        // A worker, or a pool, asked to stop while it waits for the database stops at once (exit 0).
        for shape in [[], ["--processes", "2"]] {
            let stopped = try cli.start(["worker"] + shape)
            defer { stopped.signal(SIGKILL) }
            try await waitUntil("the worker to wait for the database", timeout: .seconds(20)) { stopped.stderr.contains("retrying every second") }
            stopped.signal(SIGTERM)
            #expect(try await stopped.waitForExit(timeout: .seconds(10)) == 0, "\(stopped.stderr)")
            #expect(stopped.stderr.contains("worker stopped before its database answered"), "\(stopped.stderr)")
        }
        try await TestPostgres.psql(admin, "ALTER DATABASE \(database) ALLOW_CONNECTIONS true")
        #expect(try await worker.waitForExit(timeout: .seconds(30)) == 0, "\(worker.stderr)")
        #expect(try await wait.waitForExit(timeout: .seconds(30)) == 0, "\(wait.stderr)")
        #expect(wait.stdout == "web-1 is standby\n")
        try await waitUntil("the follower to see the stage complete", timeout: .seconds(20)) { follower.stdout.contains("completed") }
        for command in [wait, follower, worker] {
            let said = command.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline: ") }
            #expect(said.filter { $0.hasSuffix("retrying every second") }.count == 1 && said.contains { $0.hasSuffix(" again") }, "\(command.stderr)")
        }
        // A refusal of the credentials is no outage: said at once.
        let wrongUser = try #require(cli.databaseURL).replacingOccurrences(of: "postgres://lifeline@", with: "postgres://nobody-here@")
        let refused = try await cli.run(["events", "--follow", "--db", wrongUser])
        #expect(refused.status == 1 && !refused.stderr.contains("retrying"), "\(refused.stderr)")
    }

    @Test("a writer stopped between its events and its commit holds up no other writer while the log is read: a read says who holds it, a follower waits it out")
    func eventLogHeld() async throws {
        let (cli, url, _) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        // The event lock as a writer holds it from its events to its commit (PostgresSession.eventLock).
        let script = try cli.writeFile("hold.sql", "BEGIN;\nSELECT pg_backend_pid() FROM (SELECT pg_advisory_xact_lock_shared(83864811601922)) AS locked;\nSELECT pg_sleep(60);\n")
        let holder = try BackgroundCommand("/usr/bin/env", ["psql", "-qAt", "-d", url, "-f", script], environment: ProcessInfo.processInfo.environment)
        defer { holder.signal(SIGKILL) }
        let holderPID = try #require(Int32(try await holder.nextLine()))
        let reader = try cli.start(["events"])
        defer { reader.signal(SIGKILL) }
        let follower = try cli.start(["events", "--follow", "--json"])
        defer { follower.signal(SIGKILL) }
        // A reader that queued for the lock would hold up every write behind it.
        var writes = 0
        while reader.isRunning {
            let started = ContinuousClock.now
            let write = try await cli.run(["enqueue", "noop"])
            #expect(write.status == 0 && ContinuousClock.now - started < .seconds(5), "\(write.stderr)")
            writes += 1
        }
        #expect(writes > 1)
        #expect(reader.terminationStatus == 1 && reader.stderr.contains("has held its event log for 10.0 seconds without committing"), "\(reader.stderr)")
        try await waitUntil("the follower to say it tries again", timeout: .seconds(20)) { follower.stderr.contains("; retrying every second") }
        let admin = try #require(TestPostgres.url)
        _ = try await TestPostgres.psql(admin, "SELECT pg_terminate_backend(\(holderPID))")
        try await waitUntil("the follower to read the log", timeout: .seconds(20)) { !follower.lines.isEmpty }
    }

    @Test("an enqueue whose session the server ends before its commit says it lost the connection, where, and that nothing was enqueued")
    func sessionEndedByServer() async throws {
        let (cli, url, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let file = try cli.writeFile("batch.jsonl", Array(repeating: "{}", count: 1000).joined(separator: "\n"))
        let ended = "terminating connection due to administrator command (SQLSTATE 57P01)"
        let cases: [(arguments: [String], said: String)] = [
            (["enqueue", "noop", "--batch", file], ": \(ended); none of the batch was enqueued\n"),
            (["enqueue", "noop"], ": \(ended); the job was not enqueued\n"),
        ]
        for (arguments, said) in cases {
            // A session that holds the jobs table: the insert waits for it, in its transaction.
            let script = try cli.writeFile("hold.sql", "BEGIN;\nLOCK TABLE lifeline.jobs IN ACCESS EXCLUSIVE MODE;\nSELECT 'held';\nSELECT pg_sleep(60);\n")
            let holder = try BackgroundCommand("/usr/bin/env", ["psql", "-qAt", "-d", url, "-f", script], environment: ProcessInfo.processInfo.environment)
            defer { holder.signal(SIGKILL) }
            #expect(try await holder.nextLine() == "held")
            let enqueue = try cli.start(arguments)
            defer { enqueue.signal(SIGKILL) }
            let admin = try #require(TestPostgres.url)
            let waiting = "FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'lifeline' AND wait_event_type = 'Lock'"
            try await waitUntil("the enqueue to wait for the table") { try await TestPostgres.psql(admin, "SELECT count(*) \(waiting)") == "1" }
            _ = try await TestPostgres.psql(admin, "SELECT pg_terminate_backend(pid) \(waiting)")
            #expect(try await enqueue.waitForExit() == 1)
            let location = #/^lifeline: lost the connection to PostgreSQL at postgres://lifeline@127\.0\.0\.1:\d+/\w+/#
            #expect(try location.prefixMatch(in: enqueue.stderr).map { enqueue.stderr[$0.range.upperBound...] == said } == true, "\(enqueue.stderr)")
            _ = try await TestPostgres.psql(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'psql'")
            #expect(try await cli.jobCount() == 1, "only the job before")
        }
    }

    @Test("/healthz reads the jobs themselves: 503 within 5 s while another session holds their table, and /metrics says lifeline_store_up 0; all well again once it lets go")
    func healthWhileJobsHeld() async throws {
        let (cli, url, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let server = try await ServeCLITests.Server(cli)
        #expect(try await server.get("/healthz").status == 200)
        let script = try cli.writeFile("hold.sql", "BEGIN;\nLOCK TABLE lifeline.jobs IN ACCESS EXCLUSIVE MODE;\nSELECT 'held';\nSELECT pg_sleep(60);\n")
        let holder = try BackgroundCommand("/usr/bin/env", ["psql", "-qAt", "-d", url, "-f", script], environment: ProcessInfo.processInfo.environment)
        defer { holder.signal(SIGKILL) }
        #expect(try await holder.nextLine() == "held")
        // Each waits 5 s for the store: less than a prober's or Prometheus's own 10 s.
        var asked = ContinuousClock.now
        let held = try await server.get("/healthz")
        #expect(ContinuousClock.now - asked < .seconds(8), "\(ContinuousClock.now - asked)")
        #expect(held.status == 503 && held.body == ["store": "unavailable", "error": "the store did not answer within 5.0 seconds"], "\(held)")
        asked = ContinuousClock.now
        let metrics = try await server.metrics()
        #expect(ContinuousClock.now - asked < .seconds(8), "\(ContinuousClock.now - asked)")
        #expect(metrics["lifeline_store_up"] == 0 && metrics[#"lifeline_jobs{queue="default",state="available"}"#] == nil, "\(metrics)")
        let admin = try #require(TestPostgres.url)
        _ = try await TestPostgres.psql(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND application_name = 'psql'")
        try await waitUntil("the store to answer again") { try await server.get("/healthz").status == 200 }
        let again = try await server.metrics()
        #expect(again["lifeline_store_up"] == 1 && again[#"lifeline_jobs{queue="default",state="available"}"#] == 1, "\(again)")
    }

    @Test("two pools as two hosts: 120 programs, one pool killed mid-run; each job completes once, none runs twice at once")
    func twoHosts() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        let batch = (0..<120).map { #"{"args": {"argv": ["\#(script)", "\#(directory)", "job\#($0)", "0.3"]}}"# }
        #expect(try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("jobs.jsonl", batch.joined(separator: "\n"))]).status == 0)
        let doomed = try cli.start(["worker", "--concurrency", "16", "--lease", "2s"])
        let steady = try cli.start(["worker", "--concurrency", "16", "--lease", "2s", "--drain"])
        try await waitUntil("the doomed pool to start jobs", timeout: .seconds(30)) {
            RealWorkCLITests.lines(directory + "/starts").count >= 8
        }
        doomed.signal(SIGKILL)
        #expect(try await steady.waitForExit(timeout: .seconds(120)) == 0)
        #expect(RealWorkCLITests.lines(directory + "/double-runs").isEmpty)
        let jobs = try await cli.json(["jobs", "list", "--limit", "1000", "--json"])
        #expect(jobs.count == 120 && jobs.allSatisfy { $0["state"] == "completed" })
        let completions = try await cli.json(["events", "--type", "completed", "--json"]).compactMap { $0["job"]?.intValue }
        #expect(completions.count == 120 && Set(completions).count == 120, "one completion event per job")
    }

    @Test("a worker cut off from the database stops its program before its lease runs out; another host takes the job")
    func cutOff() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let url = try #require(cli.databaseURL)
        let proxy = try await TCPProxy(to: url)
        defer { proxy.stop() }
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["\#(script)", "\#(directory)", "job", "6"]}"#])
        let isolated = try cli.start(["worker", "--lease", "2s"], extraEnvironment: ["LIFELINE_DATABASE_URL": proxy.url])
        defer { isolated.signal(SIGKILL) }
        try await waitUntil("the job to start", timeout: .seconds(30)) { !RealWorkCLITests.lines(directory + "/starts").isEmpty }
        proxy.pause()
        // The taker's lease leaves room for a server slowed by the tests around it: with 2 s, a
        // renewal held up for about a second would stop its run too, and spend a third attempt.
        let other = try cli.start(["worker", "--lease", "10s", "--drain"])
        #expect(try await other.waitForExit(timeout: .seconds(60)) == 0)
        proxy.resume()
        #expect(RealWorkCLITests.lines(directory + "/double-runs").isEmpty, "the cut-off worker stopped its program in time")
        #expect(RealWorkCLITests.lines(directory + "/starts").count == 2)
        let job = try await cli.job(id)
        #expect(job["state"] == "completed" && job["attempt"] == 2)
        #expect(job["errors"]?.arrayValue?.first?["error"]?.stringValue?.hasPrefix("lease expired") == true)
        // Saying why: its renewal is stuck waiting for the store.
        try await waitUntil("the cut-off worker to say so, and why", timeout: .seconds(10)) {
            isolated.stderr.contains("lease not renewed in time") && isolated.stderr.contains("renewal=waiting for the store for ")
        }
    }

    @Test("an idle worker whose connections go silent without a word (no reset, no close) notices it by itself, reconnects, and takes a new job within seconds")
    func silentConnections() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let proxy = try await TCPProxy(to: try #require(cli.databaseURL))
        defer { proxy.stop() }
        let worker = try cli.start(["worker"], extraEnvironment: ["LIFELINE_DATABASE_URL": proxy.url])
        defer { worker.signal(SIGKILL) }
        let first = try await cli.enqueue(["noop"])
        try await waitUntil("the first job to complete", timeout: .seconds(30)) { try await cli.job(first)["state"] == "completed" }
        proxy.silenceOpenConnections()
        // Only its check of the change feed can tell: the worker is idle, and LISTEN only waits.
        try await waitUntil("the worker to notice", timeout: .seconds(30)) {
            worker.stderr.contains("lost the change feed; reconnecting") && worker.stderr.contains("did not answer a check within 5s")
        }
        let enqueued = ContinuousClock.now
        let next = try await cli.enqueue(["noop"])
        // Its claims' connection is as silent, and gives up at its statement timeout (10 s).
        try await waitUntil("the next job to complete", timeout: .seconds(30)) { try await cli.job(next)["state"] == "completed" }
        #expect(ContinuousClock.now - enqueued < .seconds(20), "not left to the 30 s fallback look")
    }

    @Test("a worker asked to stop while the database does not answer says it waits to record the ends; asked again, it leaves them to their leases")
    func stopDuringOutage() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let proxy = try await TCPProxy(to: try #require(cli.databaseURL))
        defer { proxy.stop() }
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "60"]}"#])
        let worker = try cli.start(["worker", "--grace", "1s", "--lease", "60s"], extraEnvironment: ["LIFELINE_DATABASE_URL": proxy.url])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run", timeout: .seconds(30)) { try await cli.job(id)["state"] == "running" }
        proxy.pause()
        worker.signal(SIGTERM)
        // The program is stopped at the grace's end; its end waits for the store, and the worker
        // says so, and how to stop waiting, once its handlers' 5 s are over.
        try await waitUntil("the worker to say it waits for the store", timeout: .seconds(20)) {
            worker.stderr.contains("waiting for the store to record the ends; asked again, the worker stops without them")
        }
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == 0, "\(worker.stderr)")
        #expect(worker.stderr.contains("asked again: stopping now, without waiting for the store"), "\(worker.stderr)")
        #expect(worker.stderr.contains("the store does not record the ends; those jobs run again once their leases run out"), "\(worker.stderr)")
        #expect(!worker.stderr.contains("released without spending an attempt"), "nothing was released: \(worker.stderr)")
        proxy.resume()
        #expect(try await cli.job(id)["state"] == "running", "left to its lease")
    }

    @Test("a worker cut off from the database with several jobs running says so in one line naming them, not one line each")
    func cutOffSaidOnce() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let proxy = try await TCPProxy(to: try #require(cli.databaseURL))
        defer { proxy.stop() }
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        var ids: [Int64] = []
        for name in ["a", "b", "c"] {
            ids.append(try await cli.enqueue(["exec", "--args", #"{"argv": ["\#(script)", "\#(directory)", "\#(name)", "30"]}"#]))
        }
        // One claim takes all three, so their leases end together.
        let worker = try cli.start(["worker", "--lease", "2s"], extraEnvironment: ["LIFELINE_DATABASE_URL": proxy.url])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the jobs to start", timeout: .seconds(30)) { RealWorkCLITests.lines(directory + "/starts").count == 3 }
        proxy.pause()
        try await waitUntil("the worker to stop them", timeout: .seconds(10)) { worker.stderr.contains("lease not renewed in time; stopping 3 jobs") }
        let said = worker.stderr.split(separator: "\n").filter { $0.contains("lease not renewed in time") }
        #expect(said.count == 1 && said[0].contains("jobs=\(ids.map(String.init).joined(separator: ","))"), "\(worker.stderr)")
    }

    /// A session that holds the jobs table from before job `id` comes due until `by` after: a
    /// claim for the job, sent when it comes due, is answered that late.
    static func holdJobsTable(_ cli: CLIRunner, _ url: String, untilAfterDue id: Int64, by: Duration) async throws -> BackgroundCommand {
        let due = try #require(try await cli.job(id)["run_at"]?.stringValue.flatMap(LifelineJSON.parseTime))
        let until = LifelineJSON.formatTime(due.addingTimeInterval(Double(by.milliseconds) / 1000))
        let script = try cli.writeFile("hold.sql", "BEGIN;\nLOCK TABLE lifeline.jobs IN EXCLUSIVE MODE;\nSELECT 'held';\nSELECT pg_sleep_until('\(until)');\nCOMMIT;\n")
        let holder = try BackgroundCommand("/usr/bin/env", ["psql", "-qAt", "-d", url, "-f", script], environment: ProcessInfo.processInfo.environment)
        #expect(try await holder.nextLine() == "held")
        try #require(Date() < due, "the table is held before the job comes due")
        return holder
    }

    @Test("a claim answered late, with most of its lease gone, keeps its job: the lease is renewed in time and the program runs once")
    func slowClaim() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let url = try #require(cli.databaseURL)
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        let worker = try cli.start(["worker", "--lease", "4500ms"])
        defer { worker.signal(SIGKILL) }
        let id = try await cli.enqueue(["exec", "--delay", "3s", "--args", #"{"argv": ["\#(script)", "\#(directory)", "job", "4"]}"#])
        // Another session holds the jobs table until 2 s after the job comes due: the worker's
        // claim for it, sent then, is answered some 2 s later, when the worker would give the
        // job up 3.75 s after sending it (4.5 s less half the 1.5 s renewal interval).
        let lock = try await Self.holdJobsTable(cli, url, untilAfterDue: id, by: .seconds(2))
        defer { lock.signal(SIGKILL) }
        try await waitUntil("the job to complete", timeout: .seconds(60)) { try await cli.job(id)["state"] == "completed" }
        let claimed = try #require(try await cli.json(["events", "--job", "\(id)", "--json"]).first { $0["type"] == "started" }?["at"]?.stringValue)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/starts")
        let programStarted = try #require(attributes[.modificationDate] as? Date)
        let late = Int64(programStarted.timeIntervalSince1970 * 1000) - (try #require(RealWorkCLITests.ms(claimed)))
        #expect(late >= 1500, "the claim was answered \(late) ms after its lease began")
        #expect(try await cli.job(id)["attempt"] == 1)
        #expect(RealWorkCLITests.lines(directory + "/starts").count == 1)
        #expect(RealWorkCLITests.lines(directory + "/double-runs").isEmpty)
        #expect(!worker.stderr.contains("lease not renewed in time"), "\(worker.stderr)")
    }

    @Test("a claim answered after its lease has run out gives its job back unrun, without spending an attempt: a job of one attempt still runs, once")
    func claimAnsweredTooLate() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let url = try #require(cli.databaseURL)
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        let worker = try cli.start(["worker", "--lease", "2s"])
        defer { worker.signal(SIGKILL) }
        let id = try await cli.enqueue(["exec", "--delay", "3s", "--max-attempts", "1", "--args", #"{"argv": ["\#(script)", "\#(directory)", "job", "0.1"]}"#])
        // Another session holds the jobs table until 4 s after the job comes due: the worker's
        // claim, sent then, is answered some 4 s later, past its 2 s lease.
        let lock = try await Self.holdJobsTable(cli, url, untilAfterDue: id, by: .seconds(4))
        defer { lock.signal(SIGKILL) }
        try await waitUntil("the job to end", timeout: .seconds(60)) { try await cli.job(id)["state"]?.stringValue.map { ["completed", "discarded"].contains($0) } == true }
        let job = try await cli.job(id)
        #expect(job["state"] == "completed" && job["attempt"] == 1 && job["errors"] == [], "\(job)")
        #expect(RealWorkCLITests.lines(directory + "/starts").count == 1)
        let types = try await cli.json(["events", "--job", "\(id)", "--json"]).compactMap { $0["type"]?.stringValue }
        #expect(types == ["enqueued", "started", "released", "started", "completed"], "\(types)")
        #expect(worker.stderr.contains("its lease ran out here before it could start; it never ran"), "\(worker.stderr)")
    }

    @Test(
        "hosts stamp leases and due times by the server's clock: a worker on a host 10 minutes ahead leaves another's running jobs alone, and an --at from it is kept",
        .enabled(if: FakeTime.library != nil, "needs libfaketime")
    )
    func hostClockAhead() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let ahead = try FakeTime.environment(offset: "+10m")
        let (script, directory) = try RealWorkCLITests.jobScript(cli)
        var ids: [Int64] = []
        for name in ["a", "b", "c"] {
            ids.append(try await cli.enqueue(["exec", "--args", #"{"argv": ["\#(script)", "\#(directory)", "\#(name)", "4"]}"#]))
        }
        let healthy = try cli.start(["worker", "--concurrency", "3", "--lease", "30s"])
        defer { healthy.signal(SIGKILL) }
        try await waitUntil("the jobs to start", timeout: .seconds(30)) { RealWorkCLITests.lines(directory + "/starts").count == 3 }
        let skewed = try cli.start(["worker", "--lease", "30s"], extraEnvironment: ahead)
        defer { skewed.signal(SIGKILL) }
        // The healthy worker has no free slot: this job is the skewed one's, so its claims have
        // looked at the running jobs' leases by then.
        let probe = try await cli.enqueue(["noop"])
        try await waitUntil("the skewed worker to run a job", timeout: .seconds(30)) { try await cli.job(probe)["state"] == "completed" }
        try await RealWorkCLITests.expectEachRanOnce(cli, ids, directory: directory)
        let stamped = try #require(try await cli.job(probe)["finished_at"]?.stringValue.flatMap(RealWorkCLITests.ms))
        #expect(abs(stamped - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000, "stamped by the server's clock")
        // Five minutes from now by the server's clock is still to come, whatever the client's says.
        let at = LifelineJSON.formatTime(Date().addingTimeInterval(300))
        let scheduled = try await cli.run(["enqueue", "noop", "--at", at], extraEnvironment: ahead)
        #expect(scheduled.status == 0 && scheduled.stdout.contains("scheduled"), "\(scheduled.stdout)\(scheduled.stderr)")
        // A delay counts from when the server takes the job, not from the client's clock.
        let enqueued = try await cli.run(["enqueue", "noop", "--delay", "5m", "--json"], extraEnvironment: ahead)
        try #require(enqueued.status == 0, "\(enqueued.stderr)")
        let delayed = try #require(try JSONValue(parsing: enqueued.stdout)["id"]?.intValue)
        let due = try #require(try await cli.job(delayed)["run_at"]?.stringValue.flatMap(LifelineJSON.parseTime))
        #expect(abs(due.timeIntervalSinceNow - 300) < 60, "due \(due)")
        // "Ago" counts from the server's now too: the jobs that just ended are within the last
        // minute, and none is older than five.
        let recent = try await cli.run(["jobs", "list", "--since", "1m", "--state", "completed", "--json"], extraEnvironment: ahead)
        #expect(recent.status == 0 && recent.lines.count == 4, "\(recent.stdout)\(recent.stderr)")
        let pruned = try await cli.run(["jobs", "prune", "--older-than", "5m", "--json"], extraEnvironment: ahead)
        try #require(pruned.status == 0, "\(pruned.stderr)")
        let prunedJobs = try JSONValue(parsing: pruned.stdout)["jobs"]
        #expect(prunedJobs == 0, "\(pruned.stdout)")
        // Idle beside that job, the skewed worker waits for it by the server's clock: counted by
        // its own, it would find it due at once and claim again every millisecond.
        let url = try #require(cli.databaseURL)
        let commits = { Int(try await TestPostgres.psql(url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")) ?? 0 }
        let before = try await commits()
        try await Task.sleep(for: .seconds(3))
        let made = try await commits() - before
        #expect(made < 100, "\(made) transactions in 3 s of two idle workers")
    }

    @Test(
        "serve on a host 10 minutes ahead counts a server's time in its state by the server's clock",
        .enabled(if: FakeTime.library != nil, "needs libfaketime")
    )
    func metricsClockAhead() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let server = try await ServeCLITests.Server(cli, environment: try FakeTime.environment(offset: "+10m"))
        let seconds = try #require(try await server.metrics()[#"lifeline_server_transitional_seconds{server="web-1",state="creating"}"#])
        #expect(seconds < 60, "\(seconds) s in creating")
    }

    @Test("events --follow sees an event committed by another process within a second (LISTEN/NOTIFY)")
    func followAcrossProcesses() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let follower = try cli.start(["events", "--follow", "--json"])
        defer { follower.signal(SIGKILL) }
        _ = try await follower.nextLine()
        let id = try await cli.enqueue(["noop", "--queue", "other"])
        let committed = ContinuousClock.now
        let (line, arrived) = try await follower.nextTimedLine(timeout: .seconds(5))
        #expect(try JSONValue(parsing: line)["job"]?.intValue == id)
        #expect(arrived - committed < .seconds(1))
    }

    @Test("writers in many processes at once: a follower sees every event once, in order")
    func eventOrderUnderConcurrentWriters() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let follower = try cli.start(["events", "--follow", "--all", "--json"])
        defer { follower.signal(SIGKILL) }
        let lines = (0..<50).map { _ in #"{"args": {}}"# }.joined(separator: "\n")
        let batch = try cli.writeFile("batch.jsonl", lines)
        // Workers claim and finish while six processes enqueue: every kind of write at once.
        let workers = try (0..<2).map { _ in try cli.start(["worker", "--concurrency", "8"]) }
        let writers = try (0..<6).map { index in try cli.start(["enqueue", "noop", "--queue", "q\(index)", "--batch", batch]) }
        for writer in writers { #expect(try await writer.waitForExit(timeout: .seconds(120)) == 0) }
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        for worker in workers { worker.signal(SIGKILL) }
        let all = try await cli.json(["events", "--json", "--all"]).compactMap { $0["seq"]?.intValue }
        try await waitUntil("the follower to see every event", timeout: .seconds(10)) { follower.lines.count >= all.count }
        let seen = try follower.lines.map { try JSONValue(parsing: $0)["seq"]?.intValue ?? -1 }
        #expect(seen == all, "the follower saw \(seen.count) events of \(all.count), in order, none twice")
        #expect(all.count == 301 * 3, "every job enqueued, started and completed")
    }

    @Test("store copy moves a queue from SQLite to PostgreSQL and back, ids and all; a target with jobs is refused")
    func storeCopy() async throws {
        let sqlite = try CLIRunner()
        defer { sqlite.removeAll() }
        _ = try await sqlite.enqueue(["noop"])
        _ = try await sqlite.enqueue(["exec", "--args", #"{"argv": ["false"]}"#, "--max-attempts", "1", "--queue", "nightly"])
        #expect(try await sqlite.run(["queues", "limit", "nightly", "3"]).status == 0)
        #expect(try await sqlite.run(["server", "create", "web-1", "--disk-size", "1MiB"]).status == 0)
        #expect(try await sqlite.run(["worker", "--drain"]).status == 0)
        let later = try await sqlite.enqueue(["noop", "--delay", "1h", "--idempotency-key", "later"])
        let file = sqlite.home.appendingPathComponent("lifeline.db").path
        let postgres = try await Self.runner()
        let url = try #require(postgres.databaseURL)
        // A target holding only a queue's settings holds a queue: a copy would replace them.
        let settingsOnly = try await Self.runner()
        defer { settingsOnly.removeAll() }
        #expect(try await settingsOnly.run(["queues", "pause", "default", "--create"]).status == 0)
        let settings = try await sqlite.run(["store", "copy", "--from", file, "--to", try #require(settingsOnly.databaseURL)])
        #expect(settings.status == 3 && settings.stderr.contains("already holds a queue (0 jobs, 0 events, 0 servers, 0 transitions, 1 queue)"), "\(settings.stderr)")
        #expect(try await settingsOnly.json(["queues", "list", "--json"]).first?["paused"] == true)
        // A copy under way into the same database (here a session holding its lock) refuses a second at once.
        let holder = try BackgroundCommand("/usr/bin/env", [
            "psql", "-qAt", "-d", url, "-c", "SELECT pg_advisory_lock(83864811601924)", "-c", "SELECT pg_sleep(60)",
        ], environment: ProcessInfo.processInfo.environment)
        defer { holder.signal(SIGKILL) }
        try await waitUntil("the session to hold the copy's lock") {
            try await TestPostgres.psql(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == "1"
        }
        let busy = try await sqlite.run(["store", "copy", "--from", file, "--to", url])
        #expect(busy.status == 3 && busy.stderr == "lifeline: another store copy is writing into the target now; it keeps all of its copy or none\n", "\(busy)")
        // A client gone is noticed by its server only after the sleep: the session is ended there.
        try await TestPostgres.psql(url, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        try await waitUntil("the session to end") {
            try await TestPostgres.psql(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0"
        }
        let copied = try await sqlite.run(["store", "copy", "--from", file, "--to", url])
        #expect(copied.status == 0 && copied.stdout.contains("copied \(later) jobs"), "\(copied.stdout)\(copied.stderr)")
        let reads = [["jobs", "list", "--json"], ["events", "--json"], ["server", "list", "--json"], ["queues", "list", "--json"],
                     ["server", "history", "web-1", "--json"]]
        for read in reads {
            let (copy, original) = (try await postgres.run(read).stdout, try await sqlite.run(read).stdout)
            #expect(copy == original, "\(read.joined(separator: " ")): \(copy) ≠ \(original)")
        }
        #expect(try await sqlite.run(["store", "copy", "--from", file, "--to", url]).status == 3, "a target that holds jobs is refused")
        #expect(try await postgres.enqueue(["noop"]) == later + 1, "new jobs are numbered after the copied ones")
        #expect(try await postgres.enqueue(["noop", "--delay", "1h", "--idempotency-key", "later"]) == later, "keys came along")
        let back = sqlite.home.appendingPathComponent("back.db").path
        #expect(try await sqlite.run(["store", "copy", "--from", url, "--to", back, "--json"]).status == 0)
        for read in reads { #expect(try await sqlite.run(read + ["--db", back]).stdout == postgres.run(read).stdout) }
        // An id given and pruned at the source is not given again at the target.
        let pruned = try await postgres.enqueue(["noop"])
        #expect(try await postgres.run(["jobs", "cancel", "\(pruned)"]).status == 0)
        #expect(try await postgres.run(["jobs", "prune", "--older-than", "0s"]).status == 0)
        let again = sqlite.home.appendingPathComponent("again.db").path
        #expect(try await sqlite.run(["store", "copy", "--from", url, "--to", again]).status == 0)
        #expect(try await sqlite.enqueue(["noop", "--db", again]) == pruned + 1, "job \(pruned) was given at the source")
        // The copied outcomes count in the throughput windows, as where they came from.
        let windows = { (cli: CLIRunner, extra: [String]) in
            try await cli.json(["stats", "--json"] + extra).first?["windows"]?.arrayValue?.map { [$0["completed"], $0["failed_attempts"], $0["discarded"]] }
        }
        let (original, inPostgres, copiedBack) = (try await windows(sqlite, []), try await windows(postgres, []), try await windows(sqlite, ["--db", back]))
        #expect(original?.first?[1] == 1 && original == inPostgres && original == copiedBack, "\(String(describing: original))")
    }

    @Test("a worker already waiting on an empty PostgreSQL database runs the jobs a copy brings at once")
    func copyWakesWorker() async throws {
        let sqlite = try CLIRunner()
        defer { sqlite.removeAll() }
        let id = try await sqlite.enqueue(["noop"])
        let postgres = try await Self.runner()
        let url = try #require(postgres.databaseURL)
        let worker = try postgres.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the worker to start", timeout: .seconds(30)) { worker.stderr.contains("worker started") }
        let file = sqlite.home.appendingPathComponent("lifeline.db").path
        #expect(try await sqlite.run(["store", "copy", "--from", file, "--to", url]).status == 0)
        // Its own look comes every 30 s; the copy's commit tells it sooner.
        try await waitUntil("the copied job to run", timeout: .seconds(10)) { try await postgres.job(id)["state"] == "completed" }
    }

    @Test("a copy into PostgreSQL that is killed leaves it as it was, with no queue, the next one makes it whole, and a copy onto its own queue is refused")
    func killedCopy() async throws {
        let sqlite = try CLIRunner()
        defer { sqlite.removeAll() }
        let jobs = StoreCopyCLITests.jobs
        let source = try await StoreCopyCLITests.filledQueue(sqlite)
        let postgres = try await Self.runner()
        let url = try #require(postgres.databaseURL)
        // Killed mid-way: a proxy that forwards only the first rows keeps the copy from ending first.
        let holding = try await TCPProxy(to: url, holdingAfter: 64 << 10)
        defer { holding.stop() }
        let killed = try sqlite.start(["store", "copy", "--from", source, "--to", holding.url])
        try await waitUntil("the proxy to hold the copy", timeout: .seconds(60)) { holding.isHolding || !killed.isRunning }
        killed.signal(SIGKILL)
        #expect(try await killed.waitForExit() == SIGKILL, "\(killed.stderr)")
        // The database had no queue, and still has none: the schema went with the copy's transaction.
        let none = try await postgres.run(["stats"])
        #expect(none.status == 4 && none.stderr.contains("no Lifeline queue at"), "\(none.stderr)")
        let fromNone = try await sqlite.run(["store", "copy", "--from", url, "--to", sqlite.home.appendingPathComponent("back.db").path])
        #expect(fromNone.status == 4 && fromNone.stderr.hasSuffix("(named by --from)\n"), "no write makes a copy's source: \(fromNone.stderr)")
        // Cut off mid-way: the connection is lost, and the copy says the target kept nothing.
        let proxy = try await TCPProxy(to: url, holdingAfter: 64 << 10)
        let cut = try sqlite.start(["store", "copy", "--from", source, "--to", proxy.url])
        try await waitUntil("the proxy to hold the copy", timeout: .seconds(60)) { proxy.isHolding || !cut.isRunning }
        proxy.stop()
        #expect(try await cut.waitForExit() == 1)
        #expect(cut.stderr.hasSuffix("is left as it was\n") && cut.stderr.contains("; the copy stopped, and postgres://"), "\(cut.stderr)")
        #expect(try await postgres.run(["jobs", "list", "--json"]).status == 4, "the cut-off copy's transaction left nothing, no schema either")

        let copy = try await sqlite.run(["store", "copy", "--from", source, "--to", url, "--json"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try JSONValue(parsing: copy.stdout)["jobs"]?.intValue == jobs)
        #expect(try await postgres.jobCount() == Int(jobs))
        let onto = try await sqlite.run(["store", "copy", "--from", url, "--to", url])
        #expect(onto.status == 64 && onto.stderr.contains("--from and --to name the same queue"), "\(onto.stderr)")
    }

    @Test("the programs jobs run see neither the queue's URL nor its password")
    func programEnvironment() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let password = ProcessInfo.processInfo.environment["PGPASSWORD", default: ""]
        for seen in try await OperatorSafetyCLITests.programEnvironments(cli) {
            #expect(!seen.contains("LIFELINE_DATABASE_URL") && !seen.contains("PGPASSWORD"), "\(seen)")
            #expect(password.isEmpty || !seen.contains(password))
        }
    }

    @Test("a queue of a newer schema is refused with one line and left untouched")
    func newerSchema() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let url = try #require(cli.databaseURL)
        _ = try await cli.enqueue(["noop"])
        let version = try #require(Int(try await TestPostgres.psql(url, "SELECT version FROM lifeline.schema_version")))
        try await TestPostgres.psql(url, "UPDATE lifeline.schema_version SET version = 99")
        for command in [["jobs", "list"], ["enqueue", "noop"], ["worker", "--drain"]] {
            let result = try await cli.run(command)
            #expect(result.status == 1 && result.stderr.contains("schema version 99, newer than this lifeline knows"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        try await TestPostgres.psql(url, "UPDATE lifeline.schema_version SET version = \(version)")
        #expect(try await cli.json(["jobs", "list", "--json"]).count == 1, "nothing was changed")
    }

    @Test(
        "sslmode=require, verify-ca and verify-full connect over TLS; verify-full refuses a certificate it cannot trust, or for another host, at once and in one line; verify-ca takes it for any host",
        .enabled(if: ProcessInfo.processInfo.environment["LIFELINE_TEST_POSTGRES_ROOT_CERT"] != nil, "needs the certificate Scripts/postgres.sh makes")
    )
    func tls() async throws {
        let (cli, url, database) = try await Self.runnerAndDatabase()
        defer { cli.removeAll() }
        let root = try #require(ProcessInfo.processInfo.environment["LIFELINE_TEST_POSTGRES_ROOT_CERT"])
        // The certificate is made for localhost.
        let named = url.replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")
        for options in ["sslmode=require", "sslmode=verify-full&sslrootcert=\(root)"] {
            let enqueued = try await cli.run(["enqueue", "noop", "--db", named + "?" + options])
            #expect(enqueued.status == 0, "\(options): \(enqueued.stderr)")
        }
        // verify-ca checks the chain, not the host: 127.0.0.1 is not the certificate's name.
        let checkedChain = try await cli.run(["jobs", "list", "--db", url + "?sslmode=verify-ca&sslrootcert=" + root])
        #expect(checkedChain.status == 0, "\(checkedChain.stderr)")
        // A worker's sessions are encrypted, as the server sees them.
        let worker = try cli.start(["worker", "--db", named + "?sslmode=verify-full&sslrootcert=" + root])
        defer { worker.signal(SIGKILL) }
        let admin = try #require(TestPostgres.url)
        try await waitUntil("the jobs to run") { try await cli.json(["jobs", "list", "--state", "completed", "--json"]).count == 2 }
        let encrypted = try await TestPostgres.psql(admin, """
            SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.datname = '\(database)' AND a.application_name = 'lifeline'
            """)
        let counts = encrypted.split(separator: "|")
        #expect(counts.count == 2 && counts[0] == counts[1] && counts[0] != "0", "encrypted|all: \(encrypted)")
        // Not trusted: the system's roots do not hold this run's certificate, nor is it for 127.0.0.1.
        for (target, reason) in [
            (named + "?sslmode=verify-full", "its TLS certificate is not trusted"),
            (url + "?sslmode=verify-ca", "its TLS certificate is not trusted"),
            (url + "?sslmode=verify-full&sslrootcert=" + root, "its TLS certificate is not issued for this host name"),
        ] {
            let refused = try await cli.run(["worker", "--db", target])
            #expect(refused.status == 1 && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
            #expect(refused.stderr.hasPrefix("lifeline: no TLS connection to PostgreSQL at ") && refused.stderr.contains(reason), "\(refused.stderr)")
        }
    }

    @Test("a password never shows: not in errors, output or worker logs")
    func passwordHidden() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let url = try #require(cli.databaseURL)
        let withPassword = url.replacingOccurrences(of: "postgres://lifeline@", with: "postgres://lifeline:hunter2-secret@")
        let wrong = try await cli.run(["jobs", "list", "--db", withPassword])
        #expect(wrong.status == 1 && wrong.stderr.contains("password authentication failed"))
        let unreachable = try await cli.run(["jobs", "list", "--db", "postgres://lifeline:hunter2-secret@127.0.0.1:1/x"])
        #expect(unreachable.status == 1 && unreachable.stderr.contains("cannot reach PostgreSQL at postgres://lifeline@127.0.0.1:1/x"))
        let malformed = try await cli.run(["jobs", "list", "--db", "postgres://lifeline:hunter2-secret@/x"])
        #expect(malformed.status == 64)
        // The resolver's reason, in words, not the network library's type names.
        let unknownHost = try await cli.run(["jobs", "list", "--db", "postgres://lifeline:hunter2-secret@no-such-host.invalid/x"])
        #expect(unknownHost.status == 1 && unknownHost.stderr.contains("cannot resolve no-such-host.invalid: ") && !unknownHost.stderr.contains("Error"),
                "\(unknownHost.stderr)")
        // A password in the options is never shown either; they are refused, named.
        let option = try await cli.run(["jobs", "list", "--db", url + "?password=hunter2-secret"])
        #expect(option.status == 64 && option.stderr.hasSuffix("options after '?' are not supported (password); sslmode and sslrootcert are\n"), "\(option.stderr)")
        // A database the server does not have holds no queue: exit 4, as a missing file.
        let noDatabase = url[..<url.index(after: url.lastIndex(of: "/")!)] + "no_such_database"
        let missing = try await cli.run(["jobs", "list", "--db", String(noDatabase)])
        #expect(missing.status == 4 && missing.stderr.contains("database \"no_such_database\" does not exist"), "\(missing.stderr)")
        for result in [wrong, unreachable, malformed, unknownHost, option] {
            #expect(!(result.stdout + result.stderr).contains("hunter2"), "\(result.stderr)")
        }
    }

    @Test("a --db URL's password does not show in ps while the command runs")
    func passwordOffCommandLine() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let (password, url) = try Self.urlWithPassword(cli)
        // The worker has only the URL's password: on a server that asks, it runs the job only if
        // it connected with it.
        let worker = try cli.start(["worker", "--db", url], extraEnvironment: ["PGPASSWORD": ""])
        defer { worker.signal(SIGKILL) }
        let id = try await cli.enqueue(["noop"])
        try await waitUntil("the job run by the worker") { try await cli.job(id)["state"] == "completed" }
        let commandLine = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(worker.processIdentifier)/cmdline")), as: UTF8.self)
        #expect(!commandLine.contains(password), "\(commandLine)")
        #expect(commandLine.contains("postgres://lifeline:\(String(repeating: "x", count: password.utf8.count))@"), "\(commandLine)")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit() == 0)
    }

    @Test(
        "a pool's processes, its writer too, overwrite the URL's password (--db or LIFELINE_DATABASE_URL) in their environment, which /proc shows root for as long as they run",
        .enabled(if: getuid() == 0, "reading another process's environment, once it has made itself unreadable, needs root"),
        arguments: [false, true]
    )
    func passwordOffRunnersEnvironment(inEnvironment: Bool) async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        let (password, url) = try Self.urlWithPassword(cli)
        let worker = inEnvironment
            ? try cli.start(["worker", "--processes", "2"], extraEnvironment: ["PGPASSWORD": "", "LIFELINE_DATABASE_URL": url])
            : try cli.start(["worker", "--db", url, "--processes", "2"], extraEnvironment: ["PGPASSWORD": ""])
        defer { worker.signal(SIGKILL) }
        var runners: [Int32] = []
        try await waitUntil("the pool's two processes") {
            runners = ProcessTable.children(of: worker.processIdentifier).filter { ProcessTable.name(of: $0) == "lifeline-runner" }
            return runners.count == 2
        }
        let hidden = "postgres://lifeline:\(String(repeating: "x", count: password.utf8.count))@"
        for runner in runners {
            // Booleans only: a failure must not print the environment, password and all.
            // Each variable that held it is overwritten as the runner starts.
            try await waitUntil("runner \(runner)'s environment to show the URL, its password overwritten") {
                let environment = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/\(runner)/environ")), as: UTF8.self)
                return environment.contains(hidden) && !environment.contains(password)
            }
        }
        let writerShows = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/\(worker.processIdentifier)/environ")), as: UTF8.self).contains(password)
        #expect(!writerShows, "the pool's writer's environment shows the password")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit() == 0)
    }

    /// The test server's password when it asks for one (Scripts/postgres.sh's does; a server
    /// that trusts loopback connections takes any), and the runner's URL with it.
    private static func urlWithPassword(_ cli: CLIRunner) throws -> (password: String, url: String) {
        let password = ProcessInfo.processInfo.environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 } ?? "unasked-for-password"
        return (password, try #require(cli.databaseURL).replacingOccurrences(of: "postgres://lifeline@", with: "postgres://lifeline:\(password)@"))
    }

    @Test("a server that asks for a password nobody gave is told in one line how to give it")
    func missingPassword() async throws {
        let cli = try await Self.runner()
        defer { cli.removeAll() }
        for command in [["jobs", "list"], ["enqueue", "noop"], ["worker", "--drain"]] {
            let result = try await cli.run(command, extraEnvironment: ["PGPASSWORD": ""])
            #expect(result.status == 1 && result.stderr.contains("it asks for a password: set PGPASSWORD (or give it in the URL)"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
    }
}
