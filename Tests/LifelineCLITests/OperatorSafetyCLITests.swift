import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// What an operator meets around the queue: reads that never wait or create, writes that
/// wait a bounded time, signals, a database swapped under a worker, bytes that are not text.
@Suite("Reads, locks, signals and files under an operator's hands")
struct OperatorSafetyCLITests {
    static let reads: [[String]] = [
        ["jobs", "list"], ["jobs", "show", "1"], ["stats"], ["events"], ["queues", "list"], ["server", "list"],
        ["server", "show", "web-1"], ["server", "history", "web-1"],
    ]

    @Test("read commands on a missing database exit 4 and create nothing; a write creates it")
    func missingDatabase() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let path = cli.home.appendingPathComponent("lifeline.db").path
        for read in Self.reads {
            let result = try await cli.run(read)
            #expect(result.status == 4 && result.stderr == "lifeline: no Lifeline database at \(path) (set LIFELINE_HOME or --db)\n", "\(read)")
        }
        // A drain has nothing to do in a queue that does not exist; it says so rather than make one.
        for drain in [["worker", "--drain"], ["worker", "--drain", "--processes", "2"]] {
            let result = try await cli.run(drain)
            #expect(result.status == 4 && result.stderr == "lifeline: no Lifeline database at \(path) (set LIFELINE_HOME or --db)\n", "\(drain): \(result.stderr)")
        }
        // A queue's setting makes nothing without --create, and says that --create would.
        for setting in [["queues", "pause", "vm"], ["queues", "retain", "vm", "--completed", "1d"]] {
            let result = try await cli.run(setting)
            #expect(result.status == 4 && result.stderr == "lifeline: no Lifeline database at \(path) (set LIFELINE_HOME or --db; --create makes it, with the queue)\n", "\(setting): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.home.path), "no directory or file was created")
        // LIFELINE_DATABASE_URL that is neither a URL nor a file is named as the culprit.
        let named = try await cli.run(["jobs", "list"], extraEnvironment: ["LIFELINE_DATABASE_URL": "notaurl"])
        #expect(named.status == 4 && named.stderr == "lifeline: no Lifeline database at notaurl (named by LIFELINE_DATABASE_URL: a file path or a postgres:// URL)\n")
        // A home that is a file is said to be in the way, not taken for an empty one.
        let file = cli.home.path + "-file"
        try #require(FileManager.default.createFile(atPath: file, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let blocked = try await cli.run(["jobs", "list"], extraEnvironment: ["LIFELINE_HOME": file])
        #expect(blocked.status == 4 && blocked.stderr == "lifeline: no Lifeline database at \(file)/lifeline.db: a file is in the way of its directory (set LIFELINE_HOME or --db)\n", "\(blocked.stderr)")
        let nowhere = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_DATABASE_URL": "/nonexistent-dir/x.db"])
        #expect(nowhere.status == 4 && nowhere.stderr == "lifeline: no directory /nonexistent-dir for LIFELINE_DATABASE_URL /nonexistent-dir/x.db; create it first\n")
        #expect(try await cli.run(["queues", "limit", "vm", "3", "--create"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("reads work while a stopped writer holds the lock; a write waits LIFELINE_LOCK_TIMEOUT, then names the holder")
    func stoppedWriter() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        // A writer stopped mid-transaction: it holds Lifeline's writer lock and SQLite's.
        let holder = try await Self.stoppedWriter(of: cli, takingWriterLock: true)
        defer { holder.signal(SIGKILL) }
        for read in Self.reads.prefix(5) {
            let result = try await cli.run(read + ["--json"])
            #expect(result.status == 0, "\(read): \(result.stderr)")
        }
        let started = ContinuousClock.now
        let write = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_LOCK_TIMEOUT": "500ms"])
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(write.status == 1 && write.stderr.split(separator: "\n").count == 1)
        #expect(write.stderr.contains("process \(holder.processIdentifier) has held its writer lock"), "\(write.stderr)")
        let bad = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_LOCK_TIMEOUT": "soon"])
        #expect(bad.status == 64 && bad.stderr.contains("LIFELINE_LOCK_TIMEOUT"))
    }

    @Test("a program that holds SQLite's lock without Lifeline's writer lock holds a write up for LIFELINE_LOCK_TIMEOUT, not longer")
    func foreignLockHolder() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let holder = try await Self.stoppedWriter(of: cli, takingWriterLock: false)
        defer { holder.signal(SIGKILL) }
        for write in [["enqueue", "noop"], ["queues", "pause", "default"], ["jobs", "cancel", "1"]] {
            let started = ContinuousClock.now
            let refused = try await cli.run(write, extraEnvironment: ["LIFELINE_LOCK_TIMEOUT": "1s"])
            let waited = ContinuousClock.now - started
            // Half the default timeout (30 s) tells the two apart; a busy machine (the suite runs
            // its tests side by side) took 5 s for a start, the 1 s wait and the exit.
            #expect(waited >= .seconds(1) && waited < .seconds(15), "\(write): \(waited)")
            #expect(refused.status == 1 && refused.stderr.hasSuffix("the database stayed locked by another process for longer than the lock timeout (LIFELINE_LOCK_TIMEOUT); try again\n"), "\(write): \(refused.stderr)")
        }
        holder.signal(SIGKILL)
        #expect(try await cli.job(1)["state"] == "available", "nothing was written")
        #expect(try await cli.run(["enqueue", "noop"]).status == 0)
    }

    @Test("a write held up behind a worker that waits for such a program names the program, not the worker")
    func foreignLockBehindWorker() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(1)["state"] == "completed" }
        let holder = try await Self.stoppedWriter(of: cli, takingWriterLock: false)
        defer { holder.signal(SIGKILL) }
        // The idle worker's next claim takes Lifeline's writer lock, then waits for SQLite's.
        var tried: CLIRunner.Result?
        try await waitUntil("a write to wait behind the worker", timeout: .seconds(30)) {
            tried = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_LOCK_TIMEOUT": "2s"])
            return tried?.stderr.contains("waiting for the database") == true
        }
        let refused = try #require(tried)
        let who = "process \(holder.processIdentifier) (not a Lifeline writer)"
        #expect(refused.status == 1 && refused.stderr == """
            lifeline: waiting for the database: \(who) holds SQLite's write lock (for up to 2s; LIFELINE_LOCK_TIMEOUT)
            lifeline: the database is busy: \(who) has held SQLite's write lock for over 2s (is it stopped, or its disk slow?); set LIFELINE_LOCK_TIMEOUT to wait longer

            """, "\(refused.stderr)")
        #expect(!refused.stderr.contains("\(worker.processIdentifier)"))
        // Told to wait for none, it says who holds the lock, not that it was held "for over 0s".
        let unwaited = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_LOCK_TIMEOUT": "0"])
        #expect(unwaited.status == 1 && unwaited.stderr.hasSuffix(
            "lifeline: the database is busy: \(who) holds SQLite's write lock; set LIFELINE_LOCK_TIMEOUT to wait for it\n"
        ), "\(unwaited.stderr)")
    }

    /// A program stopped (SIGSTOP) inside a write transaction on `cli`'s database, holding
    /// SQLite's lock, and Lifeline's writer lock too when `takingWriterLock`.
    static func stoppedWriter(of cli: CLIRunner, takingWriterLock: Bool) async throws -> BackgroundCommand {
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let lock = takingWriterLock ? "lock = open(\(try LifelineJSON.line(path + "-writer")), 'r+'); fcntl.flock(lock, fcntl.LOCK_EX)" : ""
        let holder = try BackgroundCommand("/usr/bin/env", ["python3", "-c", """
            import fcntl, os, signal, sqlite3
            \(lock)
            db = sqlite3.connect(\(try LifelineJSON.line(path)), isolation_level=None)
            db.execute("BEGIN IMMEDIATE"); db.execute("UPDATE jobs SET priority = priority")
            os.kill(os.getpid(), signal.SIGSTOP)
            """], environment: ProcessInfo.processInfo.environment)
        do {
            try await waitUntil("the writer to stop") { ProcessTable.state(holder.processIdentifier) == "T" }
        } catch {
            holder.signal(SIGKILL)
            throw error
        }
        return holder
    }

    @Test("SIGHUP stops a worker or a pool gracefully; a second signal releases running jobs at once, attempt not spent, and ends their programs", arguments: [1, 2])
    func signals(processes: Int) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#])
        let worker = try cli.start(["worker", "--grace", "60s", "--processes", "\(processes)"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(id)["state"] == "running" }
        worker.signal(SIGHUP)
        try await waitUntil("the worker to start shutting down") { worker.stderr.contains("shutting down") }
        #expect(worker.isRunning, "the first signal waits for the running job")
        // It says which job it waits for and how to stop waiting, and again 10 s on.
        #expect(worker.stderr.contains("asked again, the worker releases them at once") && worker.stderr.contains("jobs=\(id)"), "\(worker.stderr)")
        try await waitUntil("the grace's note 10 s on", timeout: .seconds(30)) { worker.stderr.contains("waiting for running jobs to finish") }
        #expect(worker.stderr.contains("grace_left=50s") || worker.stderr.contains("grace_left=49s"), "about 50 s of the 60 s grace left: \(worker.stderr)")
        let second = ContinuousClock.now
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: .seconds(20)) == 0)
        #expect(try #require(worker.exitedAt) - second < .seconds(5))
        #expect(worker.stderr.contains("stopping now; running jobs are released without spending an attempt"))
        #expect(!worker.stderr.contains("grace period over"), "the grace was cut short, and said so once: \(worker.stderr)")
        let job = try await cli.job(id)
        #expect(job["state"] == "available" && job["attempt"] == 0 && job["errors"] == [])
        #expect(ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty, "the program ended with its attempt")
        // Two signals, each taken for what it is: the pool's processes were told to end, not killed.
        #expect(!worker.stderr.contains(" error "), "\(worker.stderr)")
    }

    @Test(
        "a database deleted or replaced under a running worker or serve ends it, and a worker's running program, with one line and exit 1; the next database there holds none of the old one's commits",
        arguments: [("deleted", "worker"), ("replaced", "worker"), ("replaced", "server")]
    )
    func databaseSwapped(how: String, role: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        // Commits still in the WAL when the file goes: three completed jobs and a running one.
        for _ in 0..<3 { _ = try await cli.enqueue(["noop", "--args", #"{"from": "live"}"#]) }
        let program = try await cli.enqueue(["exec", "--args", #"{"argv": ["sleep", "\#(marker)"]}"#])
        let server = role == "server" ? try await ServeCLITests.Server(cli, token: "t") : nil
        let worker = try server?.process ?? cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        if let server {
            #expect(try await server.post("/api/jobs/\(program)/cancel", token: "t").status == 200)
        } else {
            try await waitUntil("the program to run") { !ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty }
        }
        let path = cli.home.appendingPathComponent("lifeline.db").path
        if how == "deleted" {
            try FileManager.default.removeItem(atPath: path)
        } else {
            // A backup put back, as `cp` then `mv` would.
            let other = try CLIRunner()
            defer { other.removeAll() }
            _ = try await other.enqueue(["noop", "--args", #"{"from": "backup"}"#])
            _ = rename(other.home.appendingPathComponent("lifeline.db").path, path)
        }
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == 1)
        let lines = worker.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") }
        #expect(lines == ["lifeline: the database \(path) \(how == "deleted" ? "was deleted or moved away" : "was replaced by another file") under this \(role); exiting"])
        try await waitUntil("the program to end with its worker", timeout: .seconds(10)) {
            ProcessTable.pids(commandLineContaining: "sleep \(marker)").isEmpty
        }
        // What is at the path now is the backup, or a new queue, and nothing of the old file's.
        _ = try await cli.enqueue(["noop", "--args", #"{"from": "after"}"#])
        let jobs = try await cli.json(["jobs", "list", "--json"])
        let origins = jobs.compactMap { $0["args"]?["from"]?.stringValue }.sorted()
        #expect(origins == (how == "deleted" ? ["after"] : ["after", "backup"]), "\(jobs)")
        let counts = try await cli.json(["stats", "--json"]).first?["counts"]?["default"]
        #expect(counts?["available"] == .int(Int64(origins.count)) && counts?["completed"] == 0 && counts?["running"] == 0,
                "the counts are the new file's: \(String(describing: counts))")
    }

    @Test("a database whose WAL or index is deleted under a worker ends it with one line and exit 1, before it writes over what others commit", arguments: ["-wal", "-shm"])
    func sideFileDeleted(suffix: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to complete") { try await cli.job(1)["state"] == "completed" }
        let path = cli.home.appendingPathComponent("lifeline.db").path
        try FileManager.default.removeItem(atPath: path + suffix)
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == 1)
        let name = suffix == "-wal" ? "WAL file" : "index"
        #expect(worker.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") } == [
            "lifeline: the database \(path) had its \(name) (\(suffix)) deleted under this worker; exiting",
        ], "\(worker.stderr)")
    }

    @Test("a database deleted under events --follow or a server wait ends it with one line and exit 1, rather than a silence for ever", arguments: ["follower", "wait"])
    func databaseDeletedUnderReader(role: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.run(["server", "create", "web-1"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let reader = try cli.start(role == "wait" ? ["server", "wait", "web-1", "--state", "failover"] : ["events", "--follow"])
        defer { reader.signal(SIGKILL) }
        // Each says something once it has read the database.
        if role == "follower" {
            _ = try await reader.nextLine()
        } else {
            try await waitUntil("the wait to read the server") { reader.stderr.contains("rests in standby") }
        }
        let path = cli.home.appendingPathComponent("lifeline.db").path
        try FileManager.default.removeItem(atPath: path)
        #expect(try await reader.waitForExit(timeout: .seconds(10)) == 1)
        let lines = reader.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") && !$0.contains("rests in standby") }
        #expect(lines == ["lifeline: the database \(path) was deleted or moved away under this \(role); exiting"], "\(reader.stderr)")
    }

    /// The environment `exec ["env"]` saw, run by a worker alone and by a pool of two.
    static func programEnvironments(_ cli: CLIRunner, extraEnvironment: [String: String] = [:]) async throws -> [String] {
        var seen: [String] = []
        for processes in ["1", "2"] {
            let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["env"]}"#])
            let drain = try await cli.run(["worker", "--drain", "--processes", processes], extraEnvironment: extraEnvironment)
            #expect(drain.status == 0, "\(drain.stderr)")
            seen.append(try #require(try await cli.job(id)["result"]?["stdout"]?.stringValue))
        }
        return seen
    }

    @Test("the programs jobs run do not inherit the queue's location or the API's token; PGPASSWORD only when the queue is on PostgreSQL; they know their job and attempt")
    func programEnvironment() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let database = cli.home.appendingPathComponent("lifeline.db").path
        let environment = ["LIFELINE_DATABASE_URL": database, "PGPASSWORD": "kept-for-programs", "LIFELINE_TOKEN": "d3b07384d113edec49eaa6238ad5ff00"]
        for (id, seen) in try await Self.programEnvironments(cli, extraEnvironment: environment).enumerated() {
            #expect(!seen.contains("LIFELINE_DATABASE_URL") && !seen.contains("LIFELINE_RUNNER_DATABASE"), "\(seen)")
            #expect(!seen.contains("LIFELINE_TOKEN") && !seen.contains("d3b07384"), "\(seen)")
            #expect(seen.contains("PGPASSWORD=kept-for-programs\n") && seen.contains("LIFELINE_HOME="), "\(seen)")
            // Which attempt of which job it is, to fence its writes with.
            #expect(seen.contains("LIFELINE_JOB_ID=\(id + 1)\n") && seen.contains("LIFELINE_JOB_ATTEMPT=1\n"), "\(seen)")
        }
    }

    /// A user other than root that may run a worker here: root reads any process's environment.
    /// Root's tests run theirs as `nobody`, when that user can run the binary.
    static let workerUser: [String]? = {
        guard getuid() == 0 else { return [] }
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        guard FileManager.default.isExecutableFile(atPath: asNobody[0]) else { return nil }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: asNobody[0])
        probe.arguments = Array(asNobody.dropFirst()) + [CLIRunner.locateBinary().path, "--version"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? asNobody : nil
    }()

    /// Runs the binary as ``workerUser``.
    static func runAsWorkerUser(_ arguments: [String], _ cli: CLIRunner, environment: [String: String]? = nil) async throws -> BackgroundCommand {
        let user = try #require(workerUser)
        let program = user.isEmpty ? [cli.binary.path] : user + [cli.binary.path]
        return try await BackgroundCommand.run(program[0], Array(program.dropFirst()) + arguments, environment: environment ?? cli.environment)
    }

    @Test(
        "a job's program cannot read the environment of its worker's processes, where the queue's password may be",
        .enabled(if: workerUser != nil, "needs a user other than root that can run the binary (setpriv, nobody)")
    )
    func workerEnvironmentUnreadable() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let environment = cli.environment.merging(["PGPASSWORD": "kept-for-programs"]) { $1 }
        let asUser = { (arguments: [String]) in try await Self.runAsWorkerUser(arguments, cli, environment: environment) }
        // Each ancestor of the program up to this test's process: its reaper, a pool's runner, the worker.
        let script = #"""
            p=$PPID
            while [ "$p" -gt 1 ] && [ "$p" != "$1" ]; do
              if head -c 1 /proc/$p/environ >/dev/null 2>&1; then echo "readable $p"; else echo "unreadable $p"; fi
              p=$(cut -d ' ' -f 4 /proc/$p/stat)
            done
            """#
        let args = JSONValue.object(["argv": .array(["sh", "-c", script, "sh", "\(getpid())"].map { .string($0) })])
        for processes in ["1", "2"] {
            let enqueue = try await asUser(["enqueue", "exec", "--args", args.canonicalText, "--json"])
            let id = try #require(try JSONValue(parsing: enqueue.stdout)["id"]?.intValue, "\(enqueue.stderr)")
            let drain = try await asUser(["worker", "--drain", "--processes", processes])
            #expect(drain.terminationStatus == 0, "\(drain.stderr)")
            let shown = try await asUser(["jobs", "show", "\(id)", "--json"])
            let ancestors = try #require(try JSONValue(parsing: shown.stdout)["result"]?["stdout"]?.stringValue).split(separator: "\n")
            #expect(ancestors.count >= (processes == "1" ? 2 : 3) && ancestors.allSatisfy { $0.hasPrefix("unreadable ") }, "\(ancestors)")
        }
    }

    @Test(
        "root's commands that write refuse a queue another user owns (1): no file of it becomes root's, no link of that user's is written through; root's reads still work",
        .enabled(if: getuid() == 0 && workerUser != nil, "needs root, and a user other than root that can run the binary (setpriv, nobody)")
    )
    func anotherUsersQueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let asUser = { (arguments: [String]) in try await Self.runAsWorkerUser(arguments, cli) }
        #expect(try await asUser(["server", "create", "m1", "--disk-size", "64KiB"]).terminationStatus == 0)
        #expect(try await asUser(["worker", "--drain"]).terminationStatus == 0)
        // The user's link, where a failover writes the server's disk, to a file of root's.
        let victim = cli.home.deletingLastPathComponent().appendingPathComponent(cli.home.lastPathComponent + "-root-file")
        try Data("root's".utf8).write(to: victim)
        defer { try? FileManager.default.removeItem(at: victim) }
        let hot = cli.home.appendingPathComponent("infra/servers/m1/hot")
        try FileManager.default.createDirectory(at: hot, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: hot.appendingPathComponent("disk-0.img").path, withDestinationPath: victim.path)
        for path in ["infra/servers", "infra/servers/m1", "infra/servers/m1/hot", "infra/servers/m1/hot/disk-0.img"] {
            #expect(lchown(cli.home.appendingPathComponent(path).path, 65534, 65534) == 0)
        }
        let database = cli.home.appendingPathComponent("lifeline.db").path
        for (arguments, path) in [(["server", "failover", "m1"], database), (["enqueue", "noop"], database), (["worker", "--drain"], cli.home.path)] {
            let refused = try await cli.run(arguments)
            #expect(refused.status == 1 && refused.stderr == "lifeline: \(path) belongs to nobody, not root: run commands that write to it as nobody (runuser -u nobody -- lifeline …), so that its files stay theirs\n", "\(arguments): \(refused)")
        }
        let stats = try await cli.run(["stats", "--json"])
        #expect(stats.status == 0, "\(stats)")
        #expect(try String(contentsOf: victim, encoding: .utf8) == "root's")
        let files = FileManager.default.enumerator(atPath: cli.home.path)?.compactMap { $0 as? String } ?? []
        let roots = files.filter { name in
            var info = stat()
            return lstat(cli.home.appendingPathComponent(name).path, &info) == 0 && info.st_uid == 0
        }
        #expect(!files.isEmpty && roots.isEmpty, "\(roots)")
        // A database of root's in a directory of theirs, and a new one there, are theirs to replace.
        let theirDirectory = cli.home.path + "-theirs"
        try FileManager.default.createDirectory(atPath: theirDirectory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: theirDirectory) }
        #expect(chown(theirDirectory, 65534, 65534) == 0)
        let rootsDatabase = theirDirectory + "/roots.db"
        try FileManager.default.copyItem(atPath: database, toPath: rootsDatabase)
        #expect(chown(rootsDatabase, 0, 0) == 0)
        for path in [rootsDatabase, theirDirectory + "/new.db"] {
            let refused = try await cli.run(["enqueue", "noop", "--db", path])
            #expect(refused.status == 1 && refused.stderr == "lifeline: \(theirDirectory) belongs to nobody, not root: run commands that write to it as nobody (runuser -u nobody -- lifeline …), so that its files stay theirs\n", "\(refused)")
        }
        // Nor does a copy go there, nor a new home.
        let theirsRefused = "lifeline: \(theirDirectory) belongs to nobody, not root: run commands that write to it as nobody (runuser -u nobody -- lifeline …), so that its files stay theirs\n"
        let copy = try await cli.run(["store", "copy", "--from", database, "--to", theirDirectory + "/copy.db"])
        #expect(copy.status == 1 && copy.stderr == theirsRefused, "\(copy)")
        let newHome = try await cli.run(["enqueue", "noop"], extraEnvironment: ["LIFELINE_HOME": theirDirectory + "/home"])
        #expect(newHome.status == 1 && newHome.stderr == theirsRefused, "\(newHome)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: theirDirectory) == ["roots.db"], "nothing made beside it")
        // Others are left to the file modes: a new queue in a directory of root's, as /tmp is, is theirs.
        let shared = cli.home.path + "-shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o1777])
        defer { try? FileManager.default.removeItem(atPath: shared) }
        let theirs = try await Self.runAsWorkerUser(["enqueue", "noop", "--db", shared + "/lifeline.db"], cli)
        #expect(theirs.terminationStatus == 0, "\(theirs.stderr)")
        // Their link there, to an empty file of root's, is not written through by a copy.
        let empty = shared + "/roots-empty"
        try Data().write(to: URL(fileURLWithPath: empty))
        try FileManager.default.createSymbolicLink(atPath: shared + "/planted.db", withDestinationPath: empty)
        #expect(lchown(shared + "/planted.db", 65534, 65534) == 0)
        let planted = try await cli.run(["store", "copy", "--from", database, "--to", shared + "/planted.db"])
        #expect(planted.status == 1 && planted.stderr.hasPrefix("lifeline: \(shared)/planted.db belongs to nobody, not root: "), "\(planted)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: empty)).isEmpty && !FileManager.default.fileExists(atPath: empty + "-writer"))
    }

    @Test(
        "a read while the database file was read-only (0400) leaves no write failing once it is writable again",
        .enabled(if: workerUser != nil, "needs a user other than root that can run the binary (setpriv, nobody)")
    )
    func readWhileReadOnly() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await Self.runAsWorkerUser(["enqueue", "noop"], cli).terminationStatus == 0)
        let database = cli.home.appendingPathComponent("lifeline.db").path
        // The one-job enqueue writes through SQLite's C API alone; the worker opens the store in full.
        for write in [["enqueue", "noop"], ["worker", "--drain"]] {
            for suffix in ["-wal", "-shm"] { unlink(database + suffix) }
            chmod(database, 0o400)
            #expect(try await Self.runAsWorkerUser(["stats"], cli).terminationStatus == 0)
            chmod(database, 0o600)
            let written = try await Self.runAsWorkerUser(write, cli)
            #expect(written.terminationStatus == 0, "\(write): \(written.stderr)")
        }
        #expect(try await cli.json(["jobs", "list", "--state", "completed", "--json"]).count == 2)
    }

    @Test(
        "a queue in a directory its user cannot write is read (stats, jobs list, events), and a write says it cannot, in one line (1)",
        .enabled(if: workerUser != nil, "needs a user other than root that can run the binary (setpriv, nobody)")
    )
    func readOnlyDirectory() async throws {
        let cli = try CLIRunner()
        defer {
            chmod(cli.home.path, 0o700)
            cli.removeAll()
        }
        #expect(try await Self.runAsWorkerUser(["enqueue", "noop"], cli).terminationStatus == 0)
        let database = cli.home.appendingPathComponent("lifeline.db").path
        for suffix in ["-wal", "-shm", "-writer"] { unlink(database + suffix) }
        chmod(cli.home.path, 0o500)
        for (arguments, shows) in [(["stats", "--json"], #""default""#), (["jobs", "list", "--json"], #""noop""#), (["events", "--json"], #""enqueued""#)] {
            let read = try await Self.runAsWorkerUser(arguments, cli)
            #expect(read.terminationStatus == 0 && read.stdout.contains(shows), "\(arguments): \(read.stdout) \(read.stderr)")
        }
        let write = try await Self.runAsWorkerUser(["enqueue", "noop"], cli)
        #expect(write.terminationStatus == 1 && write.stderr == "lifeline: cannot open \(database): the database is read-only here (nothing was written)\n", "\(write.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.home.path) == ["lifeline.db"])
    }

    @Test(
        "a queue in a home another user may not enter: their reads and writes alike say so in one line (1), none takes it for missing",
        .enabled(if: getuid() == 0 && workerUser != nil, "needs root, and a user other than root that can run the binary (setpriv, nobody)")
    )
    func homeNotEntered() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let database = cli.home.appendingPathComponent("lifeline.db").path
        for arguments in [["stats"], ["enqueue", "noop"], ["server", "create", "m1"], ["worker", "--drain"]] {
            let refused = try await Self.runAsWorkerUser(arguments, cli)
            #expect(refused.terminationStatus == 1 && refused.stderr == "lifeline: cannot read \(database): permission denied\n", "\(arguments): \(refused.stderr)")
        }
    }

    @Test("bytes that are not UTF-8 are refused with their place, never stored replaced")
    func invalidUTF8() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let directory = cli.home.deletingLastPathComponent()
        let argsFile = directory.appendingPathComponent("args-\(UUID().uuidString).json")
        try Data(Array(#"{"a": "x"#.utf8) + [0xFF] + Array(#""}"#.utf8)).write(to: argsFile)
        defer { try? FileManager.default.removeItem(at: argsFile) }
        let args = try await cli.run(["enqueue", "noop", "--args-file", argsFile.path])
        #expect(args.status == 64 && args.stderr == "lifeline: --args-file: invalid UTF-8 at byte 8; the text must be UTF-8\n")
        let batch = directory.appendingPathComponent("batch-\(UUID().uuidString).jsonl")
        try Data(Array("{}\n".utf8) + Array(#"{"args": {"a": "é"#.utf8) + [0xC3] + Array(#""}}"#.utf8)).write(to: batch)
        defer { try? FileManager.default.removeItem(at: batch) }
        let lines = try await cli.run(["enqueue", "noop", "--batch", batch.path])
        #expect(lines.status == 64 && lines.stderr.contains("--batch line 2: invalid UTF-8 at byte 18 of the line"), "\(lines.stderr)")
        #expect(try await cli.jobCount() == 1, "nothing was enqueued")
    }

    @Test(
        "under a plain libfaketime preload, which can hand it no arguments at all (argc 0), it runs or says what is missing (64), never traps",
        .enabled(if: FakeTime.library != nil, "needs libfaketime")
    )
    func noArgumentsAtAll() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // Whether the preload leaves the arguments depends on its shared state: both are answered.
        let preload = try FakeTime.plainEnvironment()
        let run = try await cli.run(["--version"], extraEnvironment: preload)
        let ran = run.status == 0 && !run.stdout.isEmpty
        let refused = run.status == 64 && run.stderr.hasPrefix("lifeline: missing command")
        #expect(ran || refused, "\(run.status) \(run.stderr)")
    }
}
