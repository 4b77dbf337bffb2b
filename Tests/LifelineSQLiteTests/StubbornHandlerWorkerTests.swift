import Foundation
import LifelineQueue
import LifelineSQLite
import Synchronization
import Testing

@Suite("A handler that ignores its stop")
struct StubbornHandlerWorkerTests {
    /// A job kind whose first run ignores its stop: it waits, in a task of its own that the stop
    /// does not cancel, until `release` finishes, then throws as a late-cancelled handler would.
    /// Later runs return at once. Records which attempt ran first, when it ended and when the
    /// next run started. (On a busy machine an attempt can time out before it starts, and
    /// never run: the first run need not be attempt 1.)
    final class Stubborn: Sendable {
        struct Runs {
            var first: Int?
            var firstEnded: ContinuousClock.Instant?
            var secondStarted: ContinuousClock.Instant?
        }

        let runs = Mutex(Runs())
        let (released, release) = AsyncStream<Void>.makeStream()

        var definition: JobDefinition {
            JobDefinition(kind: "stubborn", args: BuiltinKinds.NoArgs.self) { [self] _, context in
                let isFirst = runs.withLock { runs in
                    guard runs.first == nil else {
                        runs.secondStarted = runs.secondStarted ?? .now
                        return false
                    }
                    runs.first = context.job.attempt
                    return true
                }
                guard isFirst else { return nil }
                await Task.detached { [released] in for await _ in released {} }.value
                runs.withLock { $0.firstEnded = .now }
                throw CancellationError()
            }
        }

        var registry: JobRegistry {
            var registry = JobRegistry()
            registry.register(definition)
            return registry
        }
    }

    /// The limit is long: tests beside these can hold up Swift concurrency's threads for tens of seconds.
    static func waitFor(_ condition: () async throws -> Bool, within limit: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + limit
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test("one that ignores its timeout keeps its slot and its job's lease until it returns: the next attempt starts only then")
    func timedOutKeepsSlot() async throws {
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openInMemory())
        let stubborn = Stubborn()
        _ = try await store.jobInsert([
            NewJob(kind: "stubborn", timeout: .milliseconds(300), backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(1))),
        ])
        let configuration = WorkerConfiguration(
            concurrency: 2, lease: .seconds(30), grace: .zero, drain: true, cancellationGrace: .milliseconds(200), pruneInterval: nil
        )
        let log = LogRecord()
        let worker = Worker(store: store, registry: stubborn.registry, configuration: configuration, logger: log.logger)
        let run = Task { try await worker.run() }
        // Well past its timeout and its cancellation grace, the attempt is still the job's.
        try await Self.waitFor { log.errors.contains { $0.contains("handler ignores its stop") } }
        try await Task.sleep(for: .milliseconds(500))
        let first = try #require(stubborn.runs.withLock { $0.first })
        let held = try #require(try await store.jobGet(1))
        #expect(held.state == .running && held.attempt == first, "\(held.state), attempt \(held.attempt) of \(first)")
        #expect(stubborn.runs.withLock { $0.secondStarted } == nil)
        stubborn.release.finish()
        try await run.value
        let runs = stubborn.runs.withLock { $0 }
        let ended = try #require(runs.firstEnded)
        let started = try #require(runs.secondStarted)
        #expect(started >= ended, "the next attempt started \(ended - started) before the first ended")
        let job = try #require(try await store.jobGet(1))
        // Each attempt but the last timed out (on a busy machine, some before they could start).
        #expect(job.state == .completed && job.attempt > first)
        #expect(job.errors.map(\.error) == Array(repeating: "timed out after 300ms", count: job.attempt - 1))
    }

    /// Starts a worker on a job whose handler ignores its stop, asks it to shut down (twice if
    /// told), and returns how long it took to stop, what it logged and the job's state then.
    static func stop(grace: Duration, askTwice: Bool) async throws -> (took: Duration, log: LogRecord, state: JobState?) {
        let store = SQLiteJobStore(writer: try SQLiteDatabase.openInMemory())
        let stubborn = Stubborn()
        defer { stubborn.release.finish() }
        _ = try await store.jobInsert([NewJob(kind: "stubborn")])
        let configuration = WorkerConfiguration(
            concurrency: 1, lease: .seconds(30), grace: grace, cancellationGrace: .milliseconds(500), pruneInterval: nil
        )
        let log = LogRecord()
        let worker = Worker(store: store, registry: stubborn.registry, configuration: configuration, logger: log.logger)
        let run = Task { try await worker.run() }
        try await Self.waitFor { stubborn.runs.withLock { $0.first != nil } }
        // A worker that waited for the handler would wait for ever: it is let go after 60 s, so
        // that the test fails rather than hangs.
        let backstop = Task {
            try await Task.sleep(for: .seconds(60))
            stubborn.release.finish()
        }
        defer { backstop.cancel() }
        let asked = ContinuousClock.now
        worker.shutdown()
        if askTwice { worker.shutdown() }
        try await run.value
        return (ContinuousClock.now - asked, log, try await store.jobGet(1)?.state)
    }

    @Test("a stopping worker waits for it only its cancellation grace; its job stays running, left to its lease")
    func shutdownLeavesItToItsLease() async throws {
        let (took, log, state) = try await Self.stop(grace: .zero, askTwice: false)
        // The bound is loose: tests beside this one can hold up the worker's tasks for seconds.
        #expect(took >= .milliseconds(500) && took < .seconds(45), "the worker did not wait its cancellation grace, and no more: \(took)")
        #expect(log.errors.contains { $0.contains("jobs not ended once told to stop (their handlers ignore it, or their worker processes do not answer); they go back when their leases run out") }, "\(log.errors)")
        // Released, it could start again beside the handler still running here.
        #expect(state == .running)
    }

    @Test("a second shutdown request ends the grace period at once, however long: the handler is waited for only its cancellation grace")
    func secondRequestEndsGrace() async throws {
        let (took, _, state) = try await Self.stop(grace: .seconds(60), askTwice: true)
        #expect(took >= .milliseconds(500) && took < .seconds(45), "\(took)")
        #expect(state == .running)
    }
}
