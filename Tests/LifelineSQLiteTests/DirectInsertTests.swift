import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("One job inserted through SQLite's C API")
struct DirectInsertTests {
    @Test("a ready database takes the job and its event, in the store's words; a taken key answers with its job")
    func readyDatabase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openConnection(path: path))
        let first = try await store.jobInsert([JobFixtures.job()])[0].job

        let inserted = try #require(try DirectInsert.insert(JobFixtures.job(queue: "other", key: "k"), path: path, lockTimeout: .seconds(5)))
        #expect(!inserted.existing && inserted.job.id == first.id + 1 && inserted.job.queue == "other")
        #expect(try await store.jobGet(inserted.job.id) == inserted.job, "the job as built is the job as stored")
        #expect(try await store.eventList(EventFilter(job: inserted.job.id)).map(\.type) == [.enqueued])
        #expect(try await store.queueList().map(\.name).contains("other"), "workers of every queue find its queue")

        let again = try #require(try DirectInsert.insert(JobFixtures.job(queue: "other", key: "k"), path: path, lockTimeout: .seconds(5)))
        #expect(again.existing && again.job == inserted.job)
        #expect(throws: JobStoreError.self) {
            try DirectInsert.insert(JobFixtures.job(kind: "sleep", key: "k"), path: path, lockTimeout: .seconds(5))
        }
        #expect(try await store.jobCount(JobFilter()) == 2, "a taken key inserted nothing")
    }

    @Test("a damaged schema is left to the store opened in full, whose error names the file")
    func damagedSchema() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        try SQLiteDatabase.openConnection(path: path).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = 'CREATE TABLE jobs (' WHERE name = 'jobs'")
        }
        #expect(try DirectInsert.insert(JobFixtures.job(), path: path, lockTimeout: .seconds(5)) == nil)
    }

    @Test("a missing, foreign or older database is left to the store opened in full, untouched")
    func notReady() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = directory.path("missing.db")
        #expect(try DirectInsert.insert(JobFixtures.job(), path: missing, lockTimeout: .seconds(5)) == nil)
        #expect(!FileManager.default.fileExists(atPath: missing))

        let foreign = directory.path("foreign.db")
        try DatabaseQueue(path: foreign).write { try $0.execute(sql: "CREATE TABLE jobs (id INTEGER PRIMARY KEY)") }
        let foreignBytes = try Data(contentsOf: URL(fileURLWithPath: foreign))
        #expect(try DirectInsert.insert(JobFixtures.job(), path: foreign, lockTimeout: .seconds(5)) == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == foreignBytes)

        let older = directory.path("older.db")
        let queue = try DatabaseQueue(path: older)
        try SchemaMigrations.migrator.migrate(queue, upTo: "v4-job-counts")
        try queue.close()
        #expect(try DirectInsert.insert(JobFixtures.job(), path: older, lockTimeout: .seconds(5)) == nil)
        let reopened = try DatabaseQueue(path: older)
        #expect(try reopened.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM jobs") } == 0)
        #expect(try reopened.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 4)
    }
}
