import Foundation
import LifelineQueue
import Testing

@Suite("A worker beside a slow store")
struct SlowStoreWorkerTests {
    /// Reports progress at once, so the first round of renewals renews its lease, then waits
    /// until it is stopped.
    static let reporting = JobDefinition(kind: "reporting", args: BuiltinKinds.NoArgs.self) { _, context in
        context.report(progress: ["started": true])
        try await Task.sleep(for: .seconds(3600))
        return nil
    }

    static var registry: JobRegistry {
        var registry = JobRegistry()
        registry.register(reporting)
        return registry
    }

    @Test("a lease renewal, a cancel check or a pruning pass cut short by the worker stopping is no error")
    func backgroundCallsCutShort() async throws {
        let store = try SlowStore()
        _ = try await store.jobInsert([NewJob(kind: "reporting")])
        let log = LogRecord()
        // Rounds come every second, and the first renews the job for its new progress. The
        // lease is long: the tests beside this one can hold its tasks up for tens of seconds,
        // and a lease that ran out meanwhile would rightly be reported.
        let configuration = WorkerConfiguration(concurrency: 1, lease: .seconds(120), grace: .zero, pruneInterval: .seconds(600))
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
