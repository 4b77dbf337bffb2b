import Foundation
import LifelinePostgres
import LifelineQueue
import LifelineTestKit
import Synchronization
import Testing

@Suite("PostgreSQL change notices", .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct PromotionNoticeTests {
    @Test("a claim that makes due jobs available tells every worker, whichever queues it serves itself")
    func promotionAnnounced() async throws {
        let location = try PostgresLocation(url: try await TestPostgres.freshDatabase())
        let session = PostgresSession(location: location)
        try await session.migrate()
        let clock = Mutex(Date())
        let store = PostgresJobStore(session: session, clock: { clock.withLock { $0 } })
        let notices = Atomic(0)
        let listener = PostgresChangeListener(location: location) { notices.add(1, ordering: .relaxed) }
        defer { listener.stop() }
        try await waitUntil("the listener to listen") { notices.load(ordering: .relaxed) > 0 }
        _ = try await store.jobInsert([JobFixtures.job(queue: "recovery", runAt: clock.withLock { $0 } + 3600)])
        try await waitUntil("the enqueue to be heard") { notices.load(ordering: .relaxed) > 1 }
        let before = notices.load(ordering: .relaxed)
        // A worker of another queue finds the job due: the workers of its queue hear of it.
        clock.withLock { $0 += 7200 }
        #expect(try await store.jobClaim(JobFixtures.claim(queues: ["other"])).jobs.isEmpty)
        try await waitUntil("the job made available to be heard", timeout: .seconds(10)) { notices.load(ordering: .relaxed) > before }
        #expect(try await store.jobClaim(JobFixtures.claim(queues: ["recovery"])).jobs.count == 1)
    }
}
