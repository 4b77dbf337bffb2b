import CLifelineSQLite
import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("Opening database files")
struct DatabaseFileTests {
    @Test("a new database and its directory are owner-only, in WAL mode with synchronous FULL")
    func newDatabase() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let home = directory.path("home")
        try SQLiteDatabase.ensureDirectory(home)
        let path = home + "/lifeline.db"
        let pool = try SQLiteDatabase.openPool(path: path)
        #expect(try permissions(home) == 0o700)
        #expect(try permissions(path) == 0o600)
        #expect(try permissions(path + "-wal") == 0o600)
        #expect(try pool.writeWithoutTransaction { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        #expect(try pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try pool.read { try Int.fetchOne($0, sql: "PRAGMA busy_timeout") } != nil)
    }

    @Test("a lease renewal, committed without a sync, is seen at once by other connections, and the writer is back to synchronous FULL after it")
    func renewalUnsynced() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pool = try SQLiteDatabase.openPool(path: directory.path("lifeline.db"))
        let store = SQLiteJobStore(writer: pool)
        _ = try await store.jobInsert([JobFixtures.job()])
        let job = try #require(try await store.jobClaim(JobFixtures.claim(lease: .seconds(5))).jobs.first)
        let leaseEnd = { try await pool.read { try Int64.fetchOne($0, sql: "SELECT lease_expires_at FROM jobs WHERE id = ?", arguments: [job.id]) } }
        let claimed = try #require(try await leaseEnd())
        let statuses = try await store.jobRenewLeases(LeaseRenewal(owner: "worker-a", lease: .seconds(60), jobs: [.init(id: job.id, attempt: job.attempt)]))
        #expect(statuses[job.id] == .held)
        #expect(try #require(try await leaseEnd()) >= claimed + 55_000)
        #expect(try await pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
    }

    @Test("a database made by a one-shot command is in WAL mode with synchronous FULL")
    func oneConnection() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queue = try SQLiteDatabase.openConnection(path: directory.path("lifeline.db"))
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        #expect(try queue.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
    }

    @Test("a new database's maker removes what makers killed before it left aside: their staging files, not a live maker's nor another database's")
    func abandonedStagingRemoved() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let dead = ended.processIdentifier
        let left = ["lifeline.db.creating-\(dead)", "lifeline.db.creating-\(dead)-journal"]
        // Process 1 lives; another.db is another database.
        let kept = ["lifeline.db.creating-1", "another.db.creating-\(dead)", "lifeline.db.creating-\(dead).bak"]
        for name in left + kept { try Data("x".utf8).write(to: URL(fileURLWithPath: directory.path(name))) }
        _ = try SQLiteDatabase.openPool(path: directory.path("lifeline.db"))
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory.url.path))
        #expect(files.isDisjoint(with: left) && files.isSuperset(of: kept) && files.contains("lifeline.db"), "\(files.sorted())")
    }

    @Test("reopening a database keeps its jobs")
    func reopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let job = try await SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: path)).jobInsert([JobFixtures.job()])[0].job
        #expect(try await SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: path)).jobGet(job.id) == job)
    }

    @Test("a database of schema 3 is brought up to date with its jobs counted")
    func countsOfAnOlderDatabase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        try Self.olderDatabase(path, upTo: "v3-queue-retention", jobs: [("a", "available"), ("a", "available"), ("a", "scheduled"), ("b", "available")])
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: path))
        #expect(try await store.statsGet().counts == ["a": [.available: 2, .scheduled: 1], "b": [.available: 1]])
        _ = try await store.jobInsert([JobFixtures.job(queue: "b")])
        #expect(try await store.statsGet().counts["b"] == [.available: 2])
    }

    @Test("a database of schema 4 is brought up to date: its state checks compare, and hold as before")
    func comparisonsOfAnOlderDatabase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let raw = try Self.olderDatabase(path, upTo: "v4-job-counts")
        let insert = """
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,
                              backoff_jitter, run_at, created_at, finished_at) VALUES ('a', 'noop', '{}', ?, 5, 3, 1000, 10, 100, 0, 0, 0, ?)
            """
        try await raw.write { try $0.execute(sql: insert, arguments: ["available", nil]) }
        try raw.close()

        let pool = try SQLiteDatabase.openPool(path: path)
        try await pool.write { db in
            #expect(try Int.fetchOne(db, sql: "PRAGMA user_version") == SchemaMigrations.version)
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'jobs'") ?? ""
            #expect(definition.contains("state = 'completed' OR"), "\(definition)")
            #expect(!definition.contains("state IN"), "\(definition)")
            // The checks hold as before.
            #expect(throws: DatabaseError.self) { try db.execute(sql: insert, arguments: ["finished", nil]) }
            #expect(throws: DatabaseError.self) { try db.execute(sql: insert, arguments: ["completed", nil]) }
            #expect(throws: DatabaseError.self) { try db.execute(sql: insert, arguments: ["available", 1]) }
            try db.execute(sql: insert, arguments: ["completed", 1])
            try db.execute(sql: insert, arguments: ["cancelled", 1])
        }
        let store = SQLiteJobStore(writer: pool)
        #expect(try await store.statsGet().counts["a"] == [.available: 1, .completed: 1, .cancelled: 1])
    }

    @Test("job ids are never given twice: not after the newest jobs are pruned, nor those pruned before schema 6")
    func jobIDsNeverReused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let raw = try Self.olderDatabase(path, upTo: "v5-comparisons-not-lists")
        try await raw.write { db in
            for _ in 1...3 { try Self.insertJob(db, queue: "a", state: "available") }
            try db.execute(sql: "INSERT INTO events (at, type, job, data) VALUES (0, 'enqueued', 3, '{}')")
            // Schema 5 gave a pruned newest job's id again.
            try db.execute(sql: "DELETE FROM jobs WHERE id >= 2")
        }
        try raw.close()

        let store = SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: path))
        #expect(try await store.jobInsert([JobFixtures.job()])[0].job.id == 4, "job 3 is named by an event")
        let pool = try SQLiteDatabase.openPool(path: path)
        try await pool.write { try $0.execute(sql: "DELETE FROM jobs WHERE id = 4") }
        #expect(try await store.jobInsert([JobFixtures.job()])[0].job.id == 5)
        // A copy into this store ends by numbering new jobs after every job it names.
        try await pool.write { try $0.execute(sql: "INSERT INTO events (at, type, job, data) VALUES (0, 'enqueued', 10, '{}')") }
        try await store.copyFinish(jobIDFloor: 0)
        #expect(try await store.jobInsert([JobFixtures.job()])[0].job.id == 11)
        // And after every id its source gave, the newest pruned there included.
        try await store.copyFinish(jobIDFloor: 20)
        #expect(try await store.jobInsert([JobFixtures.job()])[0].job.id == 21)
        try pool.close()
    }

    @Test("schema 5's edit of the jobs table goes through on a connection that is defensive, and leaves it so")
    func comparisonsOnADefensiveConnection() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let raw = try Self.olderDatabase(directory.path("lifeline.db"), upTo: "v4-job-counts")
        raw.writeWithoutTransaction { db in
            #expect(lifeline_sqlite_set_defensive(UnsafeMutableRawPointer(db.sqliteConnection), 1) == 0)
        }
        try SchemaMigrations.migrator.migrate(raw)
        try raw.writeWithoutTransaction { db in
            let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'jobs'") ?? ""
            #expect(!definition.contains("state IN"))
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            // Still defensive: the flag was on before the edit.
            #expect(lifeline_sqlite_set_defensive(UnsafeMutableRawPointer(db.sqliteConnection), 1) == 1)
        }
    }

    static let wrongFiles: [(String, Data)] = [
        ("empty file", Data()),
        ("random bytes", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })),
        ("text", Data("hello, I am not a database\n".utf8)),
    ]

    @Test("files that are not SQLite are refused untouched", arguments: wrongFiles.map(\.0))
    func notSQLite(_ name: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let contents = Self.wrongFiles.first { $0.0 == name }!.1
        try contents.write(to: URL(fileURLWithPath: path))
        #expect(throws: DatabaseOpenError.self) { try SQLiteDatabase.openPool(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == contents)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["lifeline.db"])
    }

    @Test("a SQLite database of another program is refused untouched")
    func foreign() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("other.db")
        let other = try DatabaseQueue(path: path)
        try other.write { try $0.execute(sql: "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')") }
        try other.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect {
            try SQLiteDatabase.openPool(path: path)
        } throws: { error in
            guard case .foreign = error as? DatabaseOpenError else { return false }
            return true
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("a Lifeline database of a newer schema is refused untouched")
    func newerSchema() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        try SQLiteDatabase.openPool(path: path).close()
        let raw = try DatabaseQueue(path: path)
        try raw.writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE)") }
        try raw.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: DatabaseOpenError.newerSchema(path: path, version: 99, known: SchemaMigrations.version)) {
            try SQLiteDatabase.openPool(path: path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // Read by a reader that takes it (a pool's runner process, whose writer goes on): its
        // jobs are there.
        #expect(throws: DatabaseOpenError.newerSchema(path: path, version: 99, known: SchemaMigrations.version)) {
            try SQLiteDatabase.openReadOnly(path: path)
        }
        let reader = try SQLiteDatabase.openReadOnly(path: path, acceptingNewer: true)
        #expect(try reader.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM jobs") } == 0)
        try reader.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("the claim query is served by the claim index of available jobs, without sorting, in a new database and one of schema 6")
    func claimPlan() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        try Self.olderDatabase(path, upTo: "v6-job-ids-never-reused", jobs: [("q", "available"), ("q", "scheduled"), ("q", "available"), ("r", "available")])
        // Opening migrates it. Its plans are read on a connection opened since: EXPLAIN reads no
        // page, so a connection that read the schema before the migration (a pool's first
        // reader) would still plan with the old index; a statement run on it is planned again.
        _ = try SQLiteDatabase.openPool(path: path)
        let databases: [(any DatabaseReader, [Int64])] = [(try SQLiteDatabase.openInMemory(), []), (try DatabaseQueue(path: path), [1, 3])]
        for (database, expected) in databases {
            let (plan, runningPlan, claimable, partial) = try await database.read { db in
                let plan = try Row.fetchAll(db, sql: """
                    EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE queue = 'q' AND state = 'available'
                    ORDER BY priority, run_at, id LIMIT 10
                    """).map { $0["detail"] as String }
                let runningPlan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteJobStore.runningCountSQL, arguments: ["q"])
                    .map { $0["detail"] as String }
                let claimable = try Int64.fetchAll(db, sql: "SELECT id FROM jobs INDEXED BY jobs_claim WHERE queue = 'q' AND state = 'available'")
                let partial = try Row.fetchAll(db, sql: "PRAGMA index_list(jobs)").contains { $0["name"] == "jobs_claim" && $0["partial"] == 1 }
                return (plan, runningPlan, claimable, partial)
            }
            #expect(plan.contains { $0.contains("jobs_claim") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
            #expect(claimable == expected)
            #expect(partial, "the claim index holds available jobs only")
            // A limited queue's running jobs, counted at every claim, come from the lease index.
            #expect(runningPlan.allSatisfy { !$0.hasPrefix("SCAN jobs") || $0.contains("jobs_lease") }, "\(runningPlan)")
            #expect(runningPlan.contains { $0.contains("jobs_lease") }, "\(runningPlan)")
        }
    }

    @Test("a database of schema 7 is brought up to date: claims, finishes and events count by statement, other moves by one trigger")
    func countsOfSchema7() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        try Self.olderDatabase(path, upTo: "v7-claim-index-of-available-jobs", jobs: [("a", "available"), ("a", "available"), ("a", "scheduled")])
        let clock = ManualClock(Date(timeIntervalSince1970: 0))
        let pool = try SQLiteDatabase.openPool(path: path)
        let triggers = try await pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name") }
        #expect(triggers == ["events_append_only", "jobs_counted_delete", "jobs_counted_insert", "jobs_counted_move"])
        let store = SQLiteJobStore(writer: pool, clock: clock.function)
        let claimed = try await store.jobClaim(JobFixtures.claim(queues: ["a"])).jobs
        #expect(try await store.statsGet().counts["a"] == [.running: 3], "the scheduled job came due and was claimed with the others")
        _ = try await store.jobFinish(claimed.map { JobFinish(id: $0.id, attempt: $0.attempt, owner: "worker-a", outcome: .completed(result: nil)) })
        #expect(try await store.statsGet().counts["a"] == [.completed: 3])
        #expect(try await store.statsGet().windows.map(\.completed) == [3, 3, 3])
    }

    @Test("a database of schema 9 is brought up to date with its recent outcomes counted per queue")
    func outcomesOfSchema9() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        try Self.olderDatabase(path, upTo: "v9-wall-clock-steps", jobs: [("a", "available"), ("a", "available"), ("b", "available")])
        let raw = try DatabaseQueue(path: path)
        // Job 9 was pruned: its completion is no queue's.
        try await raw.write { db in
            try db.execute(sql: """
                INSERT INTO events (at, type, job) VALUES (1800000000000, 'completed', 1), (1800000000000, 'completed', 2),
                    (1800000000000, 'retrying', 3), (1800000000000, 'completed', 9), (1799000000000, 'completed', 1)
                """)
        }
        try raw.close()
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: path), clock: { Date(timeIntervalSince1970: 1_800_000_030) })
        let stats = try await store.statsGet()
        #expect(stats.windowsByQueue.mapValues { $0.map { [$0.completed, $0.retries] } } == ["a": [[2, 0], [2, 0], [2, 0]], "b": [[0, 1], [0, 1], [0, 1]]])
        #expect(stats.windows.map(\.completed) == [2, 2, 2])
    }

    @Test("stats read kept counts and a few index entries, never all the jobs or their claim index")
    func statsPlans() throws {
        let queue = try SQLiteDatabase.openInMemory()
        for sql in [SQLiteJobStore.countsSQL, SQLiteJobStore.runningByOwnerSQL, SQLiteJobStore.oldestWaitingSQL, SQLiteJobStore.outcomesSQL] {
            let arguments = StatementArguments(Array(repeating: 0, count: sql.filter { $0 == "?" }.count))
            let plan = try queue.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }
            let scans = plan.filter { $0.hasPrefix("SCAN jobs") || $0.hasPrefix("SCAN j ") }
            #expect(scans.allSatisfy { $0.contains("jobs_lease") }, "\(sql): \(plan)")
        }
    }

    /// A job written as an older schema's store wrote it.
    private static func insertJob(_ db: Database, queue: String, state: String) throws {
        try db.execute(sql: """
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,
                              backoff_jitter, run_at, created_at) VALUES (?, 'noop', '{}', ?, 5, 3, 1000, 10, 100, 0, 0, 0)
            """, arguments: [queue, state])
    }

    /// A database file of an older schema holding jobs of these queues and states, closed.
    private static func olderDatabase(_ path: String, upTo migration: String, jobs: [(queue: String, state: String)]) throws {
        let raw = try olderDatabase(path, upTo: migration)
        try raw.write { db in
            for job in jobs { try insertJob(db, queue: job.queue, state: job.state) }
        }
        try raw.close()
    }

    /// A database file of an older schema, as a build of that schema left it.
    private static func olderDatabase(_ path: String, upTo migration: String) throws -> DatabaseQueue {
        let raw = try DatabaseQueue(path: path)
        try SchemaMigrations.migrator.migrate(raw, upTo: migration)
        return raw
    }

    private func permissions(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }
}
