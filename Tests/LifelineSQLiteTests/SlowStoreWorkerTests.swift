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
        let store = try SlowStore(stallsBackground: true)
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
        #expect(log.errors.isEmpty, "\(log.errors)")
        // The job was given back, not lost or failed.
        #expect(try await store.jobGet(1)?.state == .available)
    }

    @Test("jobs of a claim answered after most of their lease are renewed at once, not given up before the next round")
    func slowClaim() async throws {
        // The default 30 s lease: every lease is renewed in the rounds at 10, 20, 30 s from
        // the start, and a job is given up 5 s before its lease ends, counted from when the
        // claim was sent. The claim's answer comes at 21 s, just after the round at 20 s: its
        // 6 s job would be given up at 25 s, before the round at 30 s. (Seconds, not
        // milliseconds: the tests beside this one can hold up its tasks for a second.)
        let store = try SlowStore(claimDelay: .seconds(21))
        _ = try await store.jobInsert([NewJob(kind: "sleep", args: ["ms": 6000])])
        let log = LogRecord()
        let configuration = WorkerConfiguration(concurrency: 1, lease: .seconds(30), drain: true, pruneInterval: nil)
        let worker = Worker(store: store, registry: Self.registry, configuration: configuration, logger: log.logger)
        // Without the early renewal every attempt is given up and claimed again, and the
        // drain never ends: the deadline stops the worker.
        let deadline = Task {
            guard (try? await Task.sleep(for: .seconds(60))) != nil else { return }
            worker.shutdown()
            worker.shutdown()
        }
        try await worker.run()
        deadline.cancel()
        #expect(log.errors.isEmpty, "\(log.errors)")
        let job = try #require(try await store.jobGet(1))
        #expect(job.state == .completed && job.attempt == 1)
        #expect(store.renewals.withLock { $0 } >= 1)
    }
}
