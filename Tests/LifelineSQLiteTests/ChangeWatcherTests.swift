import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Synchronization
import Testing

@Suite("Watching a database for other processes' commits")
struct ChangeWatcherTests {
    @Test("a commit's announcement wakes a watcher on its own, after the commit's writes were reported")
    func announcement() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openConnection(path: path))
        _ = try await store.jobInsert([JobFixtures.job()])
        let calls = Atomic(0)
        let watcher = try DatabaseChangeWatcher(databasePath: path) { calls.add(1, ordering: .relaxed) }
        // Nothing is written now: only the announcement can wake it, as when a commit's sync
        // outlasts the pause after its writes.
        DatabaseChangeWatcher.announceCommit(databasePath: path)
        try await waitUntil("the watcher to be told") { calls.load(ordering: .relaxed) > 0 }
        withExtendedLifetime(watcher) {}
    }

    @Test("a database made by a one-shot command is in WAL mode with synchronous FULL")
    func oneConnection() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queue = try SQLiteDatabase.openConnection(path: directory.path("lifeline.db"))
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        #expect(try queue.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
    }
}
