import Foundation
import LifelinePostgres
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("PostgreSQL hosts' clocks", .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct HostClockTests {
    @Test("a job claimed by a host whose reading of the server's clock is behind the enqueuer's starts no earlier than it was enqueued; its lease counts from the claim")
    func startNotBeforeEnqueue() async throws {
        let url = try await TestPostgres.freshDatabase()
        let session = PostgresSession(location: try PostgresLocation(url: url))
        try await session.migrate()
        let enqueuedAt = Date(ms: 1_800_000_000_000)
        let enqueuer = PostgresJobStore(session: session, clock: { enqueuedAt })
        let claimer = PostgresJobStore(session: session, clock: { enqueuedAt.addingTimeInterval(-0.013) })
        let id = try await enqueuer.jobInsert([JobFixtures.job()])[0].job.id
        let claimed = try await claimer.jobClaim(JobFixtures.claim(lease: .seconds(30)))
        let job = try #require(claimed.jobs.first)
        #expect(job.id == id && job.attemptedAt == enqueuedAt, "\(String(describing: job.attemptedAt))")
        #expect(job.leaseExpiresAt == enqueuedAt.addingTimeInterval(-0.013 + 30), "\(String(describing: job.leaseExpiresAt))")
        let events = try await claimer.eventList(EventFilter(job: id))
        #expect(events.map(\.type) == [.enqueued, .started] && events.map(\.at) == [enqueuedAt, enqueuedAt], "\(events.map(\.at))")
    }
}
