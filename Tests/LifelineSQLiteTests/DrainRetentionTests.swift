import Foundation
import LifelineQueue
import LifelineSQLite
import LifelineTestKit
import Testing

@Suite("A draining worker and retention")
struct DrainRetentionTests {
    @Test("a drain that finds nothing to do still makes its pass over retention, as every worker does at start")
    func idleDrainPrunes() async throws {
        let clock = ManualClock()
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openInMemory(), clock: clock.function)
        _ = try await store.jobInsert((0..<3).map { _ in JobFixtures.job(queue: "r") })
        let claimed = try await store.jobClaim(JobFixtures.claim(queues: ["r"])).jobs
        _ = try await store.jobFinish(claimed.map { JobFinish(id: $0.id, attempt: $0.attempt, owner: "worker-a", outcome: .completed(result: nil)) })
        try await store.queueUpdate("r", QueueUpdate(retainCompleted: .seconds(1)), create: false)
        clock.advance(by: .seconds(2))

        let log = LogRecord()
        let configuration = WorkerConfiguration(concurrency: 4, lease: .seconds(30), grace: .zero, drain: true, pruneInterval: .seconds(600))
        try await Worker(store: store, registry: JobRegistry(), configuration: configuration, logger: log.logger).run()
        #expect(try await store.jobCount(JobFilter(states: [.completed])) == 0)
        #expect(log.messages.withLock { $0 }.contains { $0.contains("pruned jobs past their queue's retention") }, "\(log.messages.withLock { $0 })")
    }
}
