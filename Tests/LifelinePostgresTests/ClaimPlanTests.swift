import Foundation
@testable import LifelinePostgres
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("PostgreSQL claim plan", .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct ClaimPlanTests {
    static let claimPlan = """
        EXPLAIN (COSTS OFF) SELECT id FROM lifeline.jobs WHERE queue = 'default' AND state = 'available'
        ORDER BY priority, run_at, id LIMIT 16 FOR UPDATE SKIP LOCKED
        """

    @Test("after a large batch, claims step into the claim index instead of sorting the whole backlog")
    func claimAfterBatch() async throws {
        let url = try await TestPostgres.freshDatabase()
        let session = PostgresSession(location: try PostgresLocation(url: url))
        try await session.migrate()
        // A backlog the planner has never looked at: it guesses few rows and sorts them all.
        try await TestPostgres.psql(url, """
            INSERT INTO lifeline.jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,
                                       backoff_jitter, run_at, created_at)
            SELECT 'default', 'noop', '{}', 'available', 5, 20, 60000, 1000, 60000, 0.1, 0, 0 FROM generate_series(1, 50000)
            """)
        #expect(try await TestPostgres.psql(url, Self.claimPlan).contains("jobs_queue_state"), "the unanalyzed plan this guards against")
        let store = PostgresJobStore(session: session)
        _ = try await store.jobInsert(Array(repeating: JobFixtures.job(queue: "default"), count: PostgresJobStore.analyzedBatch))
        let plan = try await TestPostgres.psql(url, Self.claimPlan)
        #expect(plan.contains("Index Scan using jobs_claim"), "\(plan)")
    }
}
