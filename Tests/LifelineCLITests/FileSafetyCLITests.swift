import Foundation
import GRDB
import LifelineQueue
import LifelineTestKit
import Testing

/// Wrong files, read-only and full disks: a clear error, nothing corrupted, nothing touched.
@Suite("Database files the CLI must not damage", .serialized)
struct FileSafetyCLITests {
    static let wrongFiles: [String] = ["random", "empty", "foreign", "newer", "truncated"]

    @Test("a wrong database file: one clear line, exit 1, the file byte-for-byte untouched", arguments: wrongFiles)
    func wrongFile(_ kind: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let path = try cli.writeFile("target.db", "")
        switch kind {
        case "random":
            try Data((0..<8192).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: path))
        case "foreign":
            try FileManager.default.removeItem(atPath: path)
            let other = try DatabaseQueue(path: path)
            try await other.write { try $0.execute(sql: "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)") }
            try other.close()
        case "newer":
            try FileManager.default.removeItem(atPath: path)
            #expect(try await cli.run(["enqueue", "noop", "--db", path]).status == 0)
            let raw = try DatabaseQueue(path: path)
            try await raw.writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = 42; PRAGMA wal_checkpoint(TRUNCATE)") }
            try raw.close()
            // The writer lock file of the first enqueue; nothing below may create it again.
            try FileManager.default.removeItem(atPath: path + "-writer")
        case "truncated":
            // A whole queue, cut off after its first pages, as a copy that stopped leaves it.
            try FileManager.default.removeItem(atPath: path)
            let lines = (1...500).map { #"{"args": {"n": \#($0)}}"# }.joined(separator: "\n")
            #expect(try await cli.run(["enqueue", "noop", "--batch", try cli.writeFile("batch.jsonl", lines), "--db", path]).status == 0)
            // Closed cleanly: its WAL is empty, and goes with its index and writer lock.
            #expect(try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int == 0)
            for suffix in ["-writer", "-wal", "-shm"] { try FileManager.default.removeItem(atPath: path + suffix) }
            try FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent + "/batch.jsonl")
            let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try file.truncate(atOffset: 6000)
            try file.close()
        default:
            break
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        for command in [["enqueue", "noop"], ["jobs", "list"], ["worker", "--drain"], ["server", "list"]] {
            let result = try await cli.run(command + ["--db", path])
            #expect(result.status == 1, "\(command)")
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(path))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        #expect(siblings == ["target.db"], "no -wal, -shm or staging file appeared")
    }

    @Test("a queue of the schema before is read by this build: a read command brings it up to date first, as on PostgreSQL, and so does store copy --from")
    func olderSchemaRead() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop"])
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let copy = cli.home.appendingPathComponent("copy.db").path
        try await Self.makeSchemaBefore(path)
        let copied = try await cli.run(["store", "copy", "--from", path, "--to", copy, "--json"])
        try #require(copied.status == 0, "\(copied.stderr)")
        #expect(try JSONValue(parsing: copied.stdout)["jobs"] == 1, "\(copied.stdout)")
        #expect(try await Self.schemaVersion(path) == 10)
        try await Self.makeSchemaBefore(path)
        let listed = try await cli.run(["jobs", "list", "--json"])
        #expect(listed.status == 0 && listed.stderr.isEmpty, "\(listed.stderr)")
        let ids = try listed.lines.map { try JSONValue(parsing: $0)["id"]?.intValue }
        #expect(ids == [id])
        #expect(try await Self.schemaVersion(path) == 10)
    }

    @Test(
        "a read of a queue of the schema before that its user may not write says why it cannot be brought up to date, and changes nothing",
        .enabled(if: getuid() == 0 && OperatorSafetyCLITests.workerUser != nil, "needs root, and a user other than root that can run the binary (setpriv, nobody)")
    )
    func olderSchemaNotWritable() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let path = cli.home.appendingPathComponent("lifeline.db").path
        try await Self.makeSchemaBefore(path)
        chmod(cli.home.path, 0o755)
        chmod(path, 0o644)
        let read = try await OperatorSafetyCLITests.runAsWorkerUser(["jobs", "list"], cli)
        #expect(read.terminationStatus == 1, "\(read.stderr)")
        #expect(read.stderr.hasPrefix("lifeline: \(path) has schema version 9, older than this lifeline's (10); bringing it up to date failed: "), "\(read.stderr)")
        #expect(try await Self.schemaVersion(path) == 9)
    }

    /// Schema 10 as schema 9 had it: outcome events counted per type and second, not per queue.
    static func makeSchemaBefore(_ path: String) async throws {
        let raw = try DatabaseQueue(path: path)
        try await raw.writeWithoutTransaction { db in
            try db.execute(sql: """
                DROP TABLE outcome_counts;
                CREATE TABLE outcome_counts (type TEXT NOT NULL, second INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (type, second)) WITHOUT ROWID;
                DELETE FROM grdb_migrations WHERE identifier = 'v10-outcomes-counted-per-queue'; PRAGMA user_version = 9
                """)
        }
        try raw.close()
    }

    static func schemaVersion(_ path: String) async throws -> Int? {
        let raw = try DatabaseQueue(path: path)
        defer { try? raw.close() }
        return try await raw.read { try Int.fetchOne($0, sql: "PRAGMA user_version") }
    }

    /// Runs a program to its end; throws when it fails.
    static func run(_ program: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ProgramFailed(program: program, status: process.terminationStatus) }
    }

    struct ProgramFailed: Error {
        var program: String
        var status: Int32
    }

    /// A file's size; 0 when it is missing.
    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// SQLite's check of the file and its WAL, read from a copy elsewhere: on a full disk, the
    /// WAL's shared-memory index could not be made beside them to read them in place.
    static func integrityCheck(_ path: String) throws -> String? {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let copy = directory.path("check.db")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        if FileManager.default.fileExists(atPath: path + "-wal") { try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal") }
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: copy, configuration: config).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
    }

    @Test(
        "a full disk: enqueue fails with one clear line, nothing is corrupted, and work continues once space is freed",
        .enabled(if: TmpfsMount.allowed, "this machine does not allow mounting a tmpfs")
    )
    func fullDisk() async throws {
        let mount = try TmpfsMount(size: "16m")
        defer { mount.remove() }
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let db = mount.url.appendingPathComponent("lifeline.db").path
        #expect(try await cli.run(["enqueue", "noop", "--db", db]).status == 0)
        // Most of the disk goes to a file that can be removed later.
        try Data(count: 12 << 20).write(to: mount.url.appendingPathComponent("filler"))
        let big = try cli.writeFile("big.json", #"{"argv": ["true", ""# + String(repeating: "x", count: 100_000) + #""]}"#)
        var failure: CLIRunner.Result?
        for _ in 0..<200 {
            let result = try await cli.run(["enqueue", "exec", "--args-file", big, "--max-attempts", "1", "--db", db])
            if result.status != 0 {
                failure = result
                break
            }
        }
        let full = try #require(failure, "the disk never filled")
        #expect(full.status == 1 && full.stderr.split(separator: "\n").count == 1)
        #expect(full.stderr.contains("the disk is full"))
        // Reads take nothing from a full disk.
        let count = try await cli.json(["jobs", "list", "--limit", "1000", "--json", "--db", db]).count
        #expect(try await cli.json(["stats", "--json", "--db", db]).count == 1)
        #expect(try await cli.run(["events", "--db", db]).status == 0)
        #expect(try Self.integrityCheck(db) == "ok")
        try FileManager.default.removeItem(at: mount.url.appendingPathComponent("filler"))
        #expect(try await cli.run(["enqueue", "exec", "--args-file", big, "--db", db]).status == 0)
        #expect(try await cli.json(["jobs", "list", "--limit", "1000", "--json", "--db", db]).count == count + 1)
        #expect(try await cli.start(["worker", "--drain", "--db", db]).waitForExit() == 0)
    }

    @Test(
        "a disk that fills under a worker: freeing less than the WAL's checkpoint size (4 MiB) is enough for the work to go on",
        .enabled(if: TmpfsMount.allowed, "this machine does not allow mounting a tmpfs")
    )
    func fullDiskUnderWorker() async throws {
        let mount = try TmpfsMount(size: "4m")
        defer { mount.remove() }
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let db = mount.url.appendingPathComponent("lifeline.db").path
        let wal = db + "-wal"
        // Ten seconds of work: a look at the jobs held up by a busy machine still finds most of
        // it to do once the disk is filled, and the queue's files must grow to record it. No
        // more jobs than this: the queue itself must leave room on the 4 MiB disk once freed.
        let jobs = try cli.writeFile("jobs.jsonl", String(repeating: #"{"args": {"argv": ["sleep", "0.4"]}}"# + "\n", count: 200))
        #expect(try await cli.run(["enqueue", "exec", "--batch", jobs, "--db", db]).status == 0)
        let worker = try cli.start(["worker", "--concurrency", "8", "--lease", "3s", "--db", db])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("work to be under way", timeout: .seconds(30)) {
            try await cli.json(["jobs", "list", "--state", "completed", "--limit", "20", "--json", "--db", db]).count >= 16
        }
        let filler = mount.url.appendingPathComponent("filler")
        try? Data(count: 8 << 20).write(to: filler)
        try await waitUntil("the worker to find the disk full", timeout: .seconds(30)) { worker.stderr.contains("disk is full") }
        // What is freed is less than the WAL grows to before SQLite's own checkpoint.
        try FileManager.default.removeItem(at: filler)
        try await waitUntil("every job to complete", timeout: .seconds(60)) {
            try await cli.json(["jobs", "list", "--state", "completed", "--limit", "1000", "--json", "--db", db]).count == 200
        }
        #expect(Self.size(wal) < 1 << 20, "the WAL restarts instead of growing")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit() == 0)
        #expect(try Self.integrityCheck(db) == "ok")
    }

    @Test(
        "a drain on a disk with less room left than the WAL grows to before SQLite's own checkpoint ends: the WAL restarts rather than taking the last of it",
        .enabled(if: TmpfsMount.allowed, "this machine does not allow mounting a tmpfs")
    )
    func nearlyFullDisk() async throws {
        let mount = try TmpfsMount(size: "8m")
        defer { mount.remove() }
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let db = mount.url.appendingPathComponent("lifeline.db").path
        let args = String(repeating: "x", count: 200)
        let jobs = try cli.writeFile("jobs.jsonl", String(repeating: #"{"args": {"note": "\#(args)"}}"# + "\n", count: 3000))
        #expect(try await cli.run(["enqueue", "noop", "--batch", jobs, "--db", db]).status == 0)
        // What the drain needs in the database file is a few pages; the WAL, growing to its
        // checkpoint at 4 MiB, would need far more than the 768 KiB left.
        var volume = statvfs()
        #expect(statvfs(mount.url.path, &volume) == 0)
        let free = Int(volume.f_bavail) * Int(volume.f_frsize)
        try Data(count: free - (768 << 10)).write(to: mount.url.appendingPathComponent("filler"))
        let drain = try cli.start(["worker", "--drain", "--concurrency", "4", "--db", db])
        defer { drain.signal(SIGKILL) }
        #expect(try await drain.waitForExit(timeout: .seconds(120)) == 0, "\(drain.stderr.suffix(500))")
        #expect(try await cli.json(["stats", "--json", "--db", db]).first?["counts"]?["default"]?["completed"] == 3000)
        #expect(try Self.integrityCheck(db) == "ok")
    }

    @Test(
        "a worker whose finished jobs a full disk cannot record says so at its first SIGTERM, not after its grace, and ends at a second, leaving them to their leases",
        .enabled(if: TmpfsMount.allowed, "this machine does not allow mounting a tmpfs")
    )
    func secondSignalOnFullDisk() async throws {
        let mount = try TmpfsMount(size: "8m")
        defer { mount.remove() }
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let db = mount.url.appendingPathComponent("lifeline.db").path
        let started = FileManager.default.temporaryDirectory.appendingPathComponent("started-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: started) }
        // Ends that keep 8 KB of output each need more of the WAL than the claims' commits left
        // it, and the disk has no room for more.
        let args = #"{"argv": ["sh", "-c", "echo >> \#(started); printf '%04000d' 0; printf '%04000d' 0 >&2; sleep 1"]}"#
        for _ in 0..<4 { #expect(try await cli.run(["enqueue", "exec", "--args", args, "--db", db]).status == 0) }
        let worker = try cli.start(["worker", "--concurrency", "4", "--db", db])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the jobs to start", timeout: .seconds(30)) {
            ((try? String(contentsOfFile: started, encoding: .utf8)) ?? "").count == 4
        }
        try? Data(count: 16 << 20).write(to: mount.url.appendingPathComponent("filler"))
        try await waitUntil("the ends to find the disk full", timeout: .seconds(30)) { worker.stderr.contains("disk is full") }
        worker.signal(SIGTERM)
        try await waitUntil("the first signal to be taken", timeout: .seconds(10)) { worker.stderr.contains("shutting down") }
        // The programs have ended: the 30 s grace is not spent waiting for ends only the store
        // holds up; past the handlers' 5 s, the worker says it waits for them, and how to stop.
        try await waitUntil("the worker to say it waits for the store", timeout: .seconds(15)) {
            worker.stderr.contains("waiting for the store to record the ends; asked again, the worker stops without them")
        }
        worker.signal(SIGTERM)
        let asked = ContinuousClock.now
        #expect(try await worker.waitForExit(timeout: .seconds(20)) != -1)
        #expect(ContinuousClock.now - asked < .seconds(5), "at once")
        #expect(worker.stderr.contains("the store does not record the ends; those jobs run again once their leases run out"), "\(worker.stderr)")
        #expect(!worker.stderr.contains("released without spending an attempt"), "nothing was released: \(worker.stderr)")
    }

    @Test("a database named through a symbolic link is the file it names: one writer lock beside it, a worker on the link hears of new jobs at once, and leaves when the link is pointed elsewhere")
    func symbolicLink() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.enqueue(["noop"])
        let link = cli.home.appendingPathComponent("link.db").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "lifeline.db")
        let worker = try cli.start(["worker", "--db", link])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the first job to complete") { try await cli.job(first)["state"] == "completed" }
        // SQLite writes beside the file the link names; so do Lifeline's lock and its watch.
        let second = try await cli.enqueue(["noop", "--db", link])
        try await waitUntil("the job enqueued through the link to complete", timeout: .seconds(5)) { try await cli.job(second)["state"] == "completed" }
        #expect(!FileManager.default.fileExists(atPath: link + "-writer"), "one writer lock, beside the file")
        // The link pointed at another queue is the database replaced; the one it named is left whole.
        let other = cli.home.appendingPathComponent("other.db").path
        _ = try await cli.enqueue(["noop", "--db", other])
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "other.db")
        #expect(try await worker.waitForExit(timeout: .seconds(30)) == 1)
        #expect(worker.stderr.contains("lifeline: the database \(link) was replaced by another file under this worker; exiting"), "\(worker.stderr)")
        let left = try await cli.json(["jobs", "list", "--json"])
        #expect(left.map { $0["state"] } == ["completed", "completed"], "\(left)")
    }

    @Test("a database path that starts with file: is that file, not a URI to SQLite, for every way of opening it: nothing else is made beside it")
    func fileColonPath() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try FileManager.default.createDirectory(at: cli.home, withIntermediateDirectories: true)
        let run = { (arguments: [String], environment: [String: String]) async throws -> BackgroundCommand in
            let command = try cli.start(arguments, extraEnvironment: environment, directory: cli.home)
            #expect(try await command.waitForExit() == 0, "\(arguments): \(command.stderr)")
            return command
        }
        for (database, environment) in [("file:x.db", [String: String]()), ("file:h/lifeline.db", ["LIFELINE_HOME": "file:h"])] {
            let named = environment.isEmpty ? ["--db", database] : []
            _ = try await run(["enqueue", "noop"] + named, environment)  // creates it
            _ = try await run(["enqueue", "noop"] + named, environment)  // one write, on its own connection
            _ = try await run(["worker", "--drain"] + named, environment)  // a pool
            let listed = try await run(["jobs", "list", "--json"] + named, environment)  // read-only
            #expect(listed.stdout.split(separator: "\n").count == 2 && !listed.stdout.contains(#""state":"available""#), "\(listed.stdout)")
            #expect(FileManager.default.fileExists(atPath: cli.home.appendingPathComponent(database).path), "\(database)")
        }
        let made = try FileManager.default.contentsOfDirectory(atPath: cli.home.path).filter { !$0.hasPrefix("file:") }
        #expect(made.isEmpty, "beside the files named: \(made)")
    }

    @Test("a row the schema forbids (a damaged file: a running job without its worker) is said in one line, exit 1, by the CLI and by serve, never a crash")
    func rowTheSchemaForbids() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let edit = try await BackgroundCommand.run("/usr/bin/env", ["python3", "-c", """
            import sqlite3
            db = sqlite3.connect(\(try LifelineJSON.line(path)), isolation_level=None)
            db.execute("PRAGMA ignore_check_constraints = 1")
            db.execute("UPDATE jobs SET state = 'running', lease_owner = NULL, lease_expires_at = 1")
            db.close()
            """], environment: ProcessInfo.processInfo.environment)
        #expect(edit.terminationStatus == 0, "\(edit.stderr)")
        let said = "lifeline: the database file is damaged: column lease_owner holds a value its type forbids\n"
        for command in [["stats"], ["stats", "--json"]] {
            let result = try await cli.run(command)
            #expect(result.status == 1 && result.stderr == said, "\(command): \(result.stderr)")
        }
        let server = try await ServeCLITests.Server(cli)
        let stats = try await server.get("/api/stats")
        let answer = stats.body["error"]?.stringValue ?? ""
        #expect(stats.status == 503 && "lifeline: " + answer + "\n" == said, "\(stats)")
        // Serve goes on, and its health check says the damage found.
        let health = try await server.get("/healthz")
        #expect(health.status == 503 && health.body["error"] == stats.body["error"] && server.process.isRunning, "\(health)")
    }

    @Test("a job whose stored arguments are no JSON (a flipped bit) stops a worker with one line naming the job, as every command that reads it says")
    func damagedJobRow() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        for _ in 0..<3 { _ = try await cli.enqueue(["noop"]) }
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let edit = try await BackgroundCommand.run("/usr/bin/env", ["python3", "-c", """
            import sqlite3
            db = sqlite3.connect(\(try LifelineJSON.line(path)), isolation_level=None)
            db.execute("PRAGMA ignore_check_constraints = 1")
            db.execute("UPDATE jobs SET args = '{\\"a\\":\\"' || char(1) || '\\"}' WHERE id = 2")
            db.close()
            """], environment: ProcessInfo.processInfo.environment)
        #expect(edit.terminationStatus == 0, "\(edit.stderr)")
        let said = "lifeline: the database file is damaged: job 2's stored row cannot be read: "
            + "invalid JSON at line 1, column 7: a control character in a string must be escaped (e.g. \\n)"
        let worker = try cli.start(["worker", "--drain"])
        defer { worker.signal(SIGKILL) }
        #expect(try await worker.waitForExit(timeout: .seconds(20)) == 1, "not retried for ever")
        #expect(worker.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") } == [Substring(said)], "\(worker.stderr)")
        for command in [["jobs", "show", "2"], ["jobs", "list", "--json"]] {
            let result = try await cli.run(command)
            #expect(result.status == 1 && result.stderr == said + "\n", "\(command): \(result.stderr)")
        }
    }

    @Test("a database damaged past its header stops a worker, or a drain, with one line and exit 1, not retries for ever", arguments: [false, true])
    func damagedUnderWorker(drain: Bool) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let jobs = try cli.writeFile("jobs.jsonl", String(repeating: "{}\n", count: 2000))
        #expect(try await cli.run(["enqueue", "noop", "--batch", jobs]).status == 0)
        // Pages in the middle of the file, among the jobs' rows, written over.
        let path = cli.home.appendingPathComponent("lifeline.db").path
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try file.seek(toOffset: UInt64(Self.size(path) / 2))
        try file.write(contentsOf: Data(repeating: 0xFF, count: 8192))
        try file.close()
        let worker = try cli.start(["worker"] + (drain ? ["--drain"] : []))
        defer { worker.signal(SIGKILL) }
        #expect(try await worker.waitForExit(timeout: .seconds(20)) == 1)
        let said = worker.stderr.split(separator: "\n").filter { $0.hasPrefix("lifeline:") }
        #expect(said == ["lifeline: the database file is damaged: database disk image is malformed"], "\(worker.stderr)")
    }

    @Test(
        "a new database or a copy on a nearly full disk is made whole or not at all, leaves nothing beside it, and is made once space is freed",
        .enabled(if: TmpfsMount.allowed, "this machine does not allow mounting a tmpfs"),
        arguments: Array(stride(from: 40, through: 400, by: 40))
    )
    func creationOnFullDisk(kilobytes: Int) async throws {
        let mount = try TmpfsMount(size: "\(kilobytes)k")
        defer { mount.remove() }
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let db = mount.url.appendingPathComponent("lifeline.db").path
        let copy = mount.url.appendingPathComponent("copy.db").path
        let made = try await cli.run(["enqueue", "noop", "--db", db])
        let copied = try await cli.run(["store", "copy", "--from", cli.home.appendingPathComponent("lifeline.db").path, "--to", copy])
        for (result, path) in [(made, db), (copied, copy)] where result.status != 0 {
            #expect(result.status == 1 && result.stderr.contains("the disk is full"), "\(kilobytes) KiB: \(result.stderr)")
            #expect(try !FileManager.default.fileExists(atPath: path) || Self.integrityCheck(path) == "ok", "\(kilobytes) KiB")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: mount.url.path)
        #expect(!names.contains { $0.contains(".creating-") || $0.contains(".partial-") }, "\(kilobytes) KiB: \(names)")
        #expect(copied.status == 0 || !names.contains("copy.db-writer"), "a failed copy leaves no lock file: \(kilobytes) KiB: \(names)")
        try Self.run("/bin/mount", ["-o", "remount,size=8m", mount.url.path])
        #expect(try await cli.run(["enqueue", "noop", "--db", db]).status == 0)
        #expect(try await cli.json(["jobs", "list", "--json", "--db", db]).count == (made.status == 0 ? 2 : 1))
        #expect(try Self.integrityCheck(db) == "ok")
        if copied.status != 0 {
            #expect(try await cli.run(["store", "copy", "--from", cli.home.appendingPathComponent("lifeline.db").path, "--to", copy]).status == 0)
        }
        #expect(try await cli.json(["jobs", "list", "--json", "--db", copy]).count == 1)
    }

    @Test(
        "a read-only mount: writes fail with a clear error, reads work, the database untouched",
        .enabled(if: TmpfsMount.allowed, "this machine does not allow mounting a tmpfs")
    )
    func readOnly() async throws {
        let mount = try TmpfsMount(size: "4m")
        defer { mount.remove() }
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let db = mount.url.appendingPathComponent("lifeline.db").path
        #expect(try await cli.run(["enqueue", "noop", "--db", db]).status == 0)
        // A copy is the file alone, without the WAL and its index that a reader otherwise makes.
        let copy = mount.url.appendingPathComponent("copy.db").path
        #expect(try await cli.run(["store", "copy", "--from", db, "--to", copy]).status == 0)
        try Self.run("/bin/mount", ["-o", "remount,ro", mount.url.path])
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let write = try await cli.run(["enqueue", "noop", "--db", db])
        #expect(write.status == 1 && write.stderr.split(separator: "\n").count == 1 && write.stderr.contains(db))
        for path in [db, copy] {
            for read in [["jobs", "list", "--json"], ["stats", "--json"], ["events", "--json"], ["queues", "list", "--json"]] {
                let result = try await cli.run(read + ["--db", path])
                #expect(result.status == 0 && !result.stdout.isEmpty, "\(path) \(read): \(result.stderr)")
            }
            #expect(try await cli.run(["server", "list", "--db", path]).stdout == "no servers\n")
            #expect(try await cli.json(["jobs", "list", "--json", "--db", path]).count == 1, "\(path)")
        }
        // SQLite says only "unable to open database file" where it cannot make the WAL's files.
        let copied = try await cli.run(["jobs", "cancel", "1", "--db", copy])
        #expect(copied.status == 1, "\(copied)")
        #expect(copied.stderr == "lifeline: cannot open \(copy): its directory \(mount.url.path) is on a read-only mount, where SQLite must make the database's -wal and -shm files (nothing was written)\n")
        // Served read-only: an action says why, once.
        let server = try await ServeCLITests.Server(cli, token: "read-only-test-token", environment: ["LIFELINE_DATABASE_URL": copy])
        let action = try await server.post("/api/jobs/1/cancel", token: "read-only-test-token")
        let why = action.body["error"]?.stringValue ?? ""
        #expect(action.status == 503 && why.hasPrefix("served read-only since serve started: cannot open \(copy): its directory"), "\(action)")
        #expect(why.components(separatedBy: "(nothing was written)").count == 2, "said once: \(why)")
        let fresh = try await cli.run(["enqueue", "noop", "--db", mount.url.appendingPathComponent("new.db").path])
        #expect(fresh.status == 1 && fresh.stderr.contains("new.db"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before)
    }
}

/// A small tmpfs mounted for one test, where the machine allows mounting.
struct TmpfsMount {
    let url: URL

    /// Whether this machine lets tests mount a tmpfs (tried once).
    static let allowed: Bool = {
        guard let probe = try? TmpfsMount(size: "1m") else { return false }
        probe.remove()
        return true
    }()

    init(size: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lifeline-mount-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        do {
            try FileSafetyCLITests.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", url.path])
        } catch {
            try? FileManager.default.removeItem(at: url)
            throw error
        }
    }

    func remove() {
        try? FileSafetyCLITests.run("/bin/umount", ["-l", url.path])
        try? FileManager.default.removeItem(at: url)
    }
}
