import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("Leases across steps of the wall clock", .enabled(if: WallClockSteps.bootID != nil, "this system does not name its boot"))
struct WallClockStepsTests {
    /// A store with one running job and one waiting to retry, and when their lease ends and
    /// their retry comes due.
    static func store() async throws -> (any DatabaseWriter, lease: Int64, retry: Int64) {
        let database = try SQLiteDatabase.openInMemory()
        let store = SQLiteJobStore(writer: database, clock: ManualClock().function)
        _ = try await store.jobInsert([JobFixtures.job(), JobFixtures.job()])
        let claimed = try await store.jobClaim(JobFixtures.claim()).jobs
        _ = try await store.jobFinish([JobFinish(id: claimed[1].id, attempt: claimed[1].attempt, owner: "worker-a", outcome: .failed(error: "again"))])
        let (lease, retry) = try await times(database)
        return (database, lease, retry)
    }

    static func times(_ database: any DatabaseWriter) async throws -> (lease: Int64, retry: Int64) {
        try await database.read { db in
            (try #require(try Int64.fetchOne(db, sql: "SELECT lease_expires_at FROM jobs WHERE state = 'running'")),
             try #require(try Int64.fetchOne(db, sql: "SELECT run_at FROM jobs WHERE state = 'retryable'")))
        }
    }

    /// A write's look at the clock, with the wall clock `ahead` of the true time.
    static func look(_ database: any DatabaseWriter, ahead: Int64 = 0) async throws {
        _ = try await database.write { try WallClockSteps.now($0, wallMs: { Date().ms + ahead }) }
    }

    @Test("a step of an hour, back or ahead, moves the running leases and the retries' due times as much, once", arguments: [-3_600_000, 3_600_000] as [Int64])
    func step(by step: Int64) async throws {
        let (database, lease, retry) = try await Self.store()
        try await Self.look(database)
        #expect(try await Self.times(database) == (lease, retry), "the first look records where the clock stands")
        try await Self.look(database, ahead: step)
        let (movedLease, movedRetry) = try await Self.times(database)
        #expect(abs(movedLease - lease - step) < 100 && movedRetry - retry == movedLease - lease, "moved by \(movedLease - lease) ms")
        try await Self.look(database, ahead: step)
        #expect(try await Self.times(database) == (movedLease, movedRetry), "once")
    }

    @Test("a move within the readings' spread leaves them alone")
    func noStep() async throws {
        let (database, lease, retry) = try await Self.store()
        try await Self.look(database)
        try await Self.look(database, ahead: 5)
        #expect(try await Self.times(database) == (lease, retry))
    }
}
