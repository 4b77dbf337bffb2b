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

    @Test("a transaction that changes nothing is not announced: an idle worker's claim must not wake it again")
    func quietClaim() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("lifeline.db")
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openConnection(path: path))
        _ = try await store.queueUpdate("default", QueueUpdate(paused: false), create: true)
        let before = try Self.statusChange(path + "-wal")
        _ = try await store.jobClaim(JobFixtures.claim("w", queues: ["default"], limit: 4))
        #expect(try Self.statusChange(path + "-wal") == before)
        _ = try await store.jobInsert([JobFixtures.job()])
        #expect(try Self.statusChange(path + "-wal") != before)
    }

    /// The file's ctime: any write to it or change of its times moves it.
    private static func statusChange(_ path: String) throws -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw POSIXError(.ENOENT) }
        return [info.st_ctim.tv_sec, info.st_ctim.tv_nsec]
    }
}
