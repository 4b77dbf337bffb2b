import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("Leases across steps of the wall clock", .enabled(if: WallClockSteps.bootID != nil, "this system does not name its boot"))
struct WallClockStepsTests {
    /// A store with one running job, and that job's lease's end.
    static func running() async throws -> (any DatabaseWriter, Int64) {
        let database = try SQLiteDatabase.openInMemory()
        let store = SQLiteJobStore(writer: database, clock: ManualClock().function)
        _ = try await store.jobInsert([JobFixtures.job()])
        let job = try #require(try await store.jobClaim(JobFixtures.claim()).jobs.first)
        return (database, try #require(job.leaseExpiresAt).ms)
    }

    static func leaseEnd(_ database: any DatabaseWriter) async throws -> Int64 {
        try #require(try await database.read { try Int64.fetchOne($0, sql: "SELECT lease_expires_at FROM jobs WHERE state = 'running'") })
    }

    @Test("a step back of an hour moves the running leases back as much, once: a dead worker's jobs are not held an hour longer")
    func stepBack() async throws {
        let (database, leaseEnd) = try await Self.running()
        let wall = Date().ms
        try await database.write { try WallClockSteps.follow($0, wallMs: wall) }
        #expect(try await Self.leaseEnd(database) == leaseEnd, "the first look records where the clock stands")
        try await database.write { try WallClockSteps.follow($0, wallMs: wall - 3_600_000) }
        let moved = try await Self.leaseEnd(database) - leaseEnd
        #expect(abs(moved + 3_600_000) < 1_000, "moved by \(moved) ms")
        try await database.write { try WallClockSteps.follow($0, wallMs: wall - 3_600_000) }
        #expect(try await Self.leaseEnd(database) - leaseEnd == moved, "once")
    }

    @Test("a move under a second (the clock's slewing) leaves the leases alone")
    func slew() async throws {
        let (database, leaseEnd) = try await Self.running()
        let wall = Date().ms
        try await database.write { try WallClockSteps.follow($0, wallMs: wall) }
        try await database.write { try WallClockSteps.follow($0, wallMs: wall + 500) }
        #expect(try await Self.leaseEnd(database) == leaseEnd)
    }
}
