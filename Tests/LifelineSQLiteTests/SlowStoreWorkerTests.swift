import Foundation
import LifelineQueue
import Synchronization
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

    @Test("an attempt that ignores its stop outlives its job's next attempt, and the worker ends only after it")
    func orphanedAttemptAwaited() async throws {
        let store = try SlowStore()
        // Attempt 1 loses its lease (renewals never get through), ignores its stop, and holds
        // on until attempt 2 has run and two seconds more; later attempts return at once (under
        // load one may lose its lease too, before its finish is written).
        let secondStarted = DispatchSemaphore(value: 0)
        let firstEnded = Mutex(false)
        let stubborn = JobDefinition(kind: "stubborn", args: BuiltinKinds.NoArgs.self) { _, context in
            guard context.job.attempt == 1 else {
                secondStarted.signal()
                return nil
            }
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    _ = secondStarted.wait(timeout: .now() + 30)
                    Thread.sleep(forTimeInterval: 2)
                    firstEnded.withLock { $0 = true }
                    done.resume()
                }
            }
            return nil
        }
        var registry = JobRegistry()
        registry.register(stubborn)
        _ = try await store.jobInsert([NewJob(kind: "stubborn", backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(1)))])
        let configuration = WorkerConfiguration(
            concurrency: 2, lease: .seconds(3), grace: .zero, drain: true, cancellationGrace: .seconds(60), pruneInterval: nil
        )
        let worker = Worker(store: store, registry: registry, configuration: configuration, logger: LogRecord().logger)
        try await worker.run()
        #expect(firstEnded.withLock { $0 }, "the worker ended while its first attempt still ran")
        let job = try #require(try await store.jobGet(1))
        #expect(job.state == .completed)
        #expect(job.attempt >= 2)
    }
}
