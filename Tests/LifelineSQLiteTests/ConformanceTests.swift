import Foundation
import LifelineQueue
import LifelineRecovery
import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("SQLite store conformance")
struct ConformanceTests {
    @Test("in memory", arguments: JobStoreConformance.checks)
    func inMemory(_ check: JobStoreConformance.Check) async throws {
        try await check.run { clock in
            SQLiteJobStore(writer: try SQLiteDatabase.openInMemory(), clock: clock.function)
        }
    }

    @Test("on disk, WAL pool", arguments: JobStoreConformance.checks)
    func onDisk(_ check: JobStoreConformance.Check) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await check.run { clock in
            SQLiteJobStore(writer: try SQLiteDatabase.openPool(path: directory.path("lifeline.db")), clock: clock.function)
        }
    }

    @Test("servers, in memory", arguments: ServerStoreConformance.checks)
    func serversInMemory(_ check: ServerStoreConformance.Check) async throws {
        try await check.run { clock in
            let jobs = SQLiteServerStore.jobStore(writer: try SQLiteDatabase.openInMemory(), clock: clock.function)
            return (jobs, SQLiteServerStore(jobs: jobs))
        }
    }

    @Test("servers, on disk, WAL pool", arguments: ServerStoreConformance.checks)
    func serversOnDisk(_ check: ServerStoreConformance.Check) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await check.run { clock in
            let jobs = SQLiteServerStore.jobStore(writer: try SQLiteDatabase.openPool(path: directory.path("lifeline.db")), clock: clock.function)
            return (jobs, SQLiteServerStore(jobs: jobs))
        }
    }
}
