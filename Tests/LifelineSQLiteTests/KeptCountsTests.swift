import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery
@testable import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("SQLite kept counts")
struct KeptCountsTests {
    @Test("every move of a job and every outcome event is counted: claims, each kind of finish, a lease taken back, cancels, retries, a copy")
    func everyMove() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let clock = ManualClock()
        let database = try SQLiteDatabase.openPool(path: directory.path("lifeline.db"))
        let store = SQLiteJobStore(writer: database, clock: clock.function)
        _ = try await store.jobInsert((0..<6).map { _ in JobFixtures.job(queue: "a") } + (0..<3).map { _ in JobFixtures.job(queue: "b", maxAttempts: 1) }
            + [JobFixtures.job(queue: "b", runAt: clock.now.addingTimeInterval(60))])
        try await Self.expectKeptAsCounted(database)

        let claimed = try await store.jobClaim(JobFixtures.claim("w1", queues: ["a", "b"], limit: 9)).jobs
        #expect(claimed.count == 9)
        try await Self.expectKeptAsCounted(database)
        let outcomes: [JobOutcome] = [
            .completed(result: nil), .completed(result: ["ok": true]), .failed(error: "retry me"), .failed(error: "last attempt in b"),
            .discarded(error: "no such disk"), .snoozed(delay: .seconds(5)), .released, .completed(result: nil),
        ]
        let finishes = zip(claimed, outcomes).map { JobFinish(id: $0.id, attempt: $0.attempt, owner: "w1", outcome: $1) }
        #expect(try await store.jobFinish(finishes).count == finishes.count)
        try await Self.expectKeptAsCounted(database)
        let outcomeTypes = try await database.read { try Set(String.fetchAll($0, sql: "SELECT type FROM outcome_counts")) }
        #expect(outcomeTypes == ["completed", "retrying", "discarded"])

        // The ninth job's lease runs out; another worker's claim takes it back.
        clock.advance(by: .seconds(31))
        _ = try await store.jobClaim(JobFixtures.claim("w2", queues: ["a", "b"], limit: 1))
        #expect(try await store.jobGet(claimed[8].id)?.attempt == 1)
        try await Self.expectKeptAsCounted(database)

        let waiting = try await store.jobList(JobFilter(states: [.available, .scheduled, .retryable]))
        _ = try await store.jobCancel(waiting.prefix(2).map(\.id))
        let finished = try await store.jobList(JobFilter(states: [.discarded, .cancelled]))
        #expect(try await store.jobRetry(finished.map(\.id)).count == finished.count)
        clock.advance(by: .seconds(120))
        _ = try await store.jobClaim(JobFixtures.claim("w3", queues: ["a", "b"], limit: 3))
        try await Self.expectKeptAsCounted(database)

        let copy = try SQLiteDatabase.openPool(path: directory.path("copy.db"))
        let target = SQLiteJobStore(writer: copy)
        try await target.copyInsert(store.copySettingsAndServers())
        try await target.copyInsert(CopyBatch(jobs: store.copyJobs(after: 0, limit: 100)))
        try await target.copyInsert(CopyBatch(events: store.copyEvents(after: 0, limit: 1000)))
        try await Self.expectKeptAsCounted(copy)
        #expect(try await target.statsGet().counts == store.statsGet().counts)
        #expect(try await store.statsGet().windowsByQueue.keys.sorted() == ["a", "b"])
    }

    /// The kept counts equal a count of the rows: jobs per queue and state (running left out),
    /// and outcome events per queue, type and second.
    private static func expectKeptAsCounted(_ database: some DatabaseWriter, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let kept = "SELECT queue || '/' || state, n FROM job_counts WHERE n <> 0"
        let counted = "SELECT queue || '/' || state, count(*) FROM jobs WHERE state <> 'running' GROUP BY queue, state"
        let keptOutcomes = "SELECT queue || '/' || type || '@' || second, n FROM outcome_counts WHERE n <> 0"
        let countedOutcomes = """
            SELECT j.queue || '/' || e.type || '@' || (e.at / 1000), count(*) FROM events e JOIN jobs j ON j.id = e.job
            WHERE e.type IN ('completed', 'retrying', 'discarded') GROUP BY j.queue, e.type, e.at / 1000
            """
        let rows = try await database.read { db in
            try [kept, counted, keptOutcomes, countedOutcomes].map { sql in
                var rows: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: sql) { rows[row[0]] = row[1] }
                return rows
            }
        }
        #expect(rows[0] == rows[1], "jobs", sourceLocation: sourceLocation)
        #expect(rows[2] == rows[3], "outcome events", sourceLocation: sourceLocation)
    }

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
