import Foundation
import LifelinePostgres
import LifelineQueue
import LifelineRecovery
import LifelineTestKit
import Testing

/// Each check runs in a database of its own on the server `Scripts/postgres.sh` starts
/// (`LIFELINE_TEST_POSTGRES_URL`); without one, the suite shows as skipped.
@Suite("PostgreSQL store conformance", .enabled(if: TestPostgres.available, "needs LIFELINE_TEST_POSTGRES_URL (Scripts/postgres.sh)"))
struct ConformanceTests {
    @Test("jobs", arguments: JobStoreConformance.checks)
    func jobs(_ check: JobStoreConformance.Check) async throws {
        let database = try PostgresLocation(url: try await TestPostgres.freshDatabase())
        try await check.run { clock in
            let session = PostgresSession(location: database)
            try await session.migrate()
            return PostgresJobStore(session: session, clock: clock.function)
        }
    }

    @Test("servers", arguments: ServerStoreConformance.checks)
    func servers(_ check: ServerStoreConformance.Check) async throws {
        let database = try PostgresLocation(url: try await TestPostgres.freshDatabase())
        try await check.run { clock in
            let session = PostgresSession(location: database)
            try await session.migrate()
            let jobs = PostgresServerStore.jobStore(session: session, clock: clock.function)
            return (jobs, PostgresServerStore(jobs: jobs))
        }
    }
}
