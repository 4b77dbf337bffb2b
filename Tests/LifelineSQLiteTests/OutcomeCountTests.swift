import Foundation
import GRDB
import LifelineQueue
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("SQLite outcome counts")
struct OutcomeCountTests {
    @Test("workers' pruning trims outcome counts older than the widest window, and keeps the rest")
    func trimmed() async throws {
        let clock = ManualClock()
        let database = try SQLiteDatabase.openInMemory()
        let store = SQLiteJobStore(writer: database, clock: clock.function)
        for _ in 0..<2 {
            _ = try await store.jobInsert([JobFixtures.job()])
            let job = try #require(try await store.jobClaim(JobFixtures.claim()).jobs.first)
            #expect(try await store.jobFinish([JobFinish(id: job.id, attempt: job.attempt, owner: "worker-a", outcome: .completed(result: nil))]).count == 1)
            clock.advance(by: .seconds(16 * 60))
        }
        let rows = { try await database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM outcome_counts") ?? 0 } }
        #expect(try await rows() == 2)
        clock.advance(by: .seconds(-16 * 60 + 1))
        _ = try await store.jobPruneExpired(batch: 10)
        #expect(try await rows() == 1, "the outcome 16 minutes old is gone, the one of a second ago stays")
        #expect(try await store.statsGet().windows.map(\.completed) == [1, 1, 1])
    }
}
