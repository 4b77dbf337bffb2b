import Foundation
import LifelineQueue
import Testing

@Suite("A worker beside a slow store")
struct SlowStoreWorkerTests {
    static var registry: JobRegistry {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        return registry
    }

    @Test("a lease renewal, a cancel check or a pruning pass cut short by the worker stopping is no error")
    func backgroundCallsCutShort() async throws {
        let store = try SlowStore()
        _ = try await store.jobInsert([NewJob(kind: "sleep", args: ["ms": 60_000])])
        let log = LogRecord()
        // Renewals come every second; the lease runs out three seconds after the claim.
        let configuration = WorkerConfiguration(concurrency: 1, lease: .seconds(3), grace: .zero, pruneInterval: .seconds(600))
        let worker = Worker(store: store, registry: Self.registry, configuration: configuration, logger: log.logger)
        let run = Task { try await worker.run() }
        // The first renewal round is waiting on the store; the pruning pass too, since the start.
        await store.renewalArrived.first { _ in true }
        worker.shutdown()
        worker.shutdown()
        try await run.value
        #expect(store.renewals.withLock { $0 } >= 1)
        #expect(log.errors.isEmpty, "\(log.errors)")
        // The job was given back, not lost or failed.
        #expect(try await store.jobGet(1)?.state == .available)
    }
}
