import Foundation
@testable import LifelinePostgres
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("PostgreSQL job counts", .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct JobCountTests {
    @Test("counts stay exact while four sessions insert, claim and cancel at once, and the changes get folded")
    func concurrentWriters() async throws {
        let url = try await TestPostgres.freshDatabase()
        let location = try PostgresLocation(url: url)
        try await PostgresSession(location: location).migrate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                let store = PostgresJobStore(session: PostgresSession(location: location))
                group.addTask {
                    for n in 0..<200 {
                        let id = try await store.jobInsert([JobFixtures.job(queue: "q\(n % 3)")])[0].job.id
                        if n % 5 == 0 { _ = try await store.jobCancel([id]) }
                        if n % 7 == 0 { _ = try await store.jobClaim(JobFixtures.claim("w\(writer)", queues: ["q0", "q1", "q2"], limit: 2)) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let store = PostgresJobStore(session: PostgresSession(location: location))
        var expected: [String: [JobState: Int]] = [:]
        for job in try await store.jobList(JobFilter()) { expected[job.queue, default: [:]][job.state, default: 0] += 1 }
        #expect(expected.values.reduce(0) { $0 + $1.values.reduce(0, +) } == 800)
        #expect(try await store.statsGet().counts == expected)
        // About 1,100 counted statements ran; one in 64 folds, so far fewer changes remain.
        let unfolded = try #require(Int(try await TestPostgres.psql(url, "SELECT count(*) FROM lifeline.job_count_changes")))
        #expect(unfolded < 500, "\(unfolded) changes not folded")
        #expect(try await TestPostgres.psql(url, "SELECT count(*) FROM lifeline.job_counts") != "0")
    }

    @Test("a database of schema 1 is brought up to date with its jobs and recent outcomes counted")
    func upgrade() async throws {
        let url = try await TestPostgres.freshDatabase()
        try await TestPostgres.psql(url, PostgresSchema.migrations[0] + "UPDATE lifeline.schema_version SET version = 1;")
        try await TestPostgres.psql(url, """
            INSERT INTO lifeline.jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,
                                       backoff_jitter, run_at, created_at, finished_at)
            VALUES ('a', 'noop', '{}', 'available', 5, 3, 1000, 10, 100, 0, 0, 0, NULL),
                   ('a', 'noop', '{}', 'completed', 5, 3, 1000, 10, 100, 0, 0, 0, 1800000000000),
                   ('b', 'noop', '{}', 'available', 5, 3, 1000, 10, 100, 0, 0, 0, NULL);
            INSERT INTO lifeline.events (at, type, job) VALUES (1800000000000, 'completed', 2);
            """)
        let session = PostgresSession(location: try PostgresLocation(url: url))
        try await session.migrate()
        let store = PostgresJobStore(session: session, clock: { Date(timeIntervalSince1970: 1_800_000_030) })
        let stats = try await store.statsGet()
        #expect(stats.counts == ["a": [.available: 1, .completed: 1], "b": [.available: 1]])
        #expect(stats.windows.map(\.completed) == [1, 1, 1])
        #expect(stats.windowsByQueue.mapValues { $0.map(\.completed) } == ["a": [1, 1, 1]])
    }
}
