import Foundation
@testable import LifelineQueue
import LifelineTestKit
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

    @Test("a store that fails claim after claim is said once, and once more when it works again")
    func outageSaidOnce() async throws {
        let store = try SlowStore()
        store.down.withLock { $0 = true }
        let id = try await store.jobInsert([NewJob(kind: "noop")])[0].job.id
        let log = LogRecord()
        var registry = Self.registry
        registry.register(BuiltinKinds.noop)
        let configuration = WorkerConfiguration(concurrency: 1, lease: .seconds(120), grace: .zero, pruneInterval: .seconds(600))
        let worker = Worker(store: store, registry: registry, configuration: configuration, logger: log.logger)
        let run = Task { try await worker.run() }
        try await waitUntil("three claims to fail") { store.claimsRefused.withLock { $0 } >= 3 }
        store.down.withLock { $0 = false }
        try await waitUntil("the job to run once claims work") { try await store.jobGet(id)?.state == .completed }
        worker.shutdown()
        try await run.value
        let said = log.messages.withLock { $0 }.filter { $0.contains("claim") || $0.contains("answers again") }
        #expect(said.count == 2 && said[0].hasPrefix("error: claim failed; retrying") && said[1] == "notice: the store answers again", "\(said)")
    }

    /// Attempt starts and the first attempt's end, as a job whose renewals never get through
    /// is claimed again while that attempt ignores its stop.
    struct Reclaimed {
        var store: SlowStore
        var log: LogRecord
        var firstEnded: ContinuousClock.Instant?
        var started: [(attempt: Int, at: ContinuousClock.Instant)]
    }

    /// Renewals never get through: the first attempt to run is stopped before its 3 s lease runs
    /// out, but its handler ignores the stop, and runs until the store shows the job as `until`
    /// says (given the job and that attempt's number), and `holdingOn` more. Meanwhile another
    /// worker takes back each lease that has run out for a second (this worker leaves its own
    /// alone while their handlers run). Later runs return at once. (On a machine this busy an
    /// attempt can lose its lease before it starts, and never run: the first to run need not
    /// be attempt 1.)
    static func reclaim(until: @escaping @Sendable (Job, Int) -> Bool, holdingOn: Duration, maxAttempts: Int = 20) async throws -> Reclaimed {
        let store = try SlowStore()
        let times = Mutex<(firstEnded: ContinuousClock.Instant?, started: [(attempt: Int, at: ContinuousClock.Instant)])>((nil, []))
        let stubborn = JobDefinition(kind: "stubborn", args: BuiltinKinds.NoArgs.self) { _, context in
            let first = times.withLock { times in
                times.started.append((context.job.attempt, .now))
                return times.started.count == 1
            }
            guard first else { return nil }
            let attempt = context.job.attempt
            // A task of its own, which the stop does not cancel.
            _ = await Task.detached {
                let deadline = ContinuousClock.now + .seconds(60)
                while let job = try await store.jobGet(1), !until(job, attempt), ContinuousClock.now < deadline {
                    // A second late: the worker, woken as the lease runs out, claims first
                    // when it may, however busy the machine.
                    if job.state == .running, let expiry = job.leaseExpiresAt, expiry < Date() - 1 {
                        _ = try await store.jobClaim(ClaimRequest(owner: "another worker", queues: [], limit: 0, lease: .seconds(3)))
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Task.sleep(for: holdingOn)
            }.result
            times.withLock { $0.firstEnded = .now }
            return nil
        }
        var registry = JobRegistry()
        registry.register(stubborn)
        _ = try await store.jobInsert([
            NewJob(kind: "stubborn", maxAttempts: maxAttempts, backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(1))),
        ])
        let configuration = WorkerConfiguration(
            concurrency: 2, lease: .seconds(3), grace: .zero, drain: true, cancellationGrace: .seconds(60), pruneInterval: nil
        )
        let log = LogRecord()
        let worker = Worker(store: store, registry: registry, configuration: configuration, logger: log.logger)
        try await worker.run()
        let (firstEnded, started) = times.withLock { $0 }
        return Reclaimed(store: store, log: log, firstEnded: firstEnded, started: started)
    }

    @Test("a job claimed again while its last attempt is still being stopped waits for it: a worker never runs two attempts at once")
    func reclaimWaitsForStop() async throws {
        let run = try await Self.reclaim(until: { job, first in job.attempt > first }, holdingOn: .seconds(1))
        let ended = try #require(run.firstEnded, "the worker ended while its first attempt still ran")
        // The next attempt, or, on a machine so busy that it was stopped for its lease while
        // held, a later one.
        let next = try #require(run.started.dropFirst().first)
        #expect(next.at >= ended, "attempt \(next.attempt) started \(ended - next.at) before attempt 1 ended")
        let messages = run.log.messages.withLock { $0 }
        #expect(messages.contains { $0.contains("this one starts once it has ended") })
        // Attempt 1's end is not written: its job was claimed again, so its lease is gone.
        #expect(messages.contains { $0.contains("lease lost: the job was claimed again before this attempt ended; not recorded here") }, "\(messages)")
        #expect(!messages.contains { $0.contains("lease lost before the finish was recorded") }, "\(messages)")
        let job = try #require(try await run.store.jobGet(1))
        #expect(job.state == .completed)
        #expect(job.attempt > run.started[0].attempt)
    }

    @Test("an attempt held behind one being stopped, and stopped itself meanwhile (its lease lost too), never starts")
    func heldAttemptStoppedNeverStarts() async throws {
        // Attempt 2 is held from its claim on. Its renewals fail too: its lease runs out, its
        // last attempt spent, before attempt 1 ends.
        var run = try await Self.reclaim(until: { job, _ in job.state == .discarded }, holdingOn: .zero, maxAttempts: 2)
        // The scenario needs one attempt to run. On a machine this busy both can lose their
        // 3 s leases before they start (the test process's threads held up by the tests beside
        // it), and none runs: set up again, twice at most.
        for _ in 0..<2 where run.started.isEmpty {
            run = try await Self.reclaim(until: { job, _ in job.state == .discarded }, holdingOn: .zero, maxAttempts: 2)
        }
        #expect(run.started.count == 1, "\(run.started.map(\.attempt))")
        let messages = run.log.messages.withLock { $0 }
        #expect(messages.contains { $0.contains("its lease ran out here before it could start; it never ran") }, "\(messages)")
        let job = try #require(try await run.store.jobGet(1))
        #expect(job.state == .discarded)
        #expect(job.attempt == 2)
    }

    @Test("a worker does not take back its own job while the job's handler, stopped for its lease, still runs there, and records its end once it returns")
    func ownRunOutLeaseLeftAlone() async throws {
        let store = try SlowStore()
        let (released, release) = AsyncStream<Void>.makeStream()
        let runs = Mutex<[Int]>([])
        // Runs that started before the first one's handler was let go: there must be none.
        let beside = Mutex(0)
        let releasedYet = Mutex(false)
        let stubborn = JobDefinition(kind: "stubborn", args: BuiltinKinds.NoArgs.self) { _, context in
            let first = runs.withLock { runs in
                runs.append(context.job.attempt)
                return runs.count == 1
            }
            if !first, !releasedYet.withLock({ $0 }) { beside.withLock { $0 += 1 } }
            // A task of its own, which the stop does not cancel.
            if first { await Task.detached { for await _ in released {} }.value }
            return nil
        }
        var registry = JobRegistry()
        registry.register(stubborn)
        _ = try await store.jobInsert([NewJob(kind: "stubborn", backoff: Backoff(base: .milliseconds(1), cap: .milliseconds(1)))])
        let configuration = WorkerConfiguration(
            concurrency: 2, lease: .seconds(1), grace: .zero, drain: true, cancellationGrace: .seconds(60), pruneInterval: nil
        )
        let worker = Worker(store: store, registry: registry, configuration: configuration, logger: LogRecord().logger)
        let run = Task { try await worker.run() }
        // Renewals never get through: the lease runs out 1 s after the claim.
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let expiry = try await store.jobGet(1)?.leaseExpiresAt
            if !runs.withLock({ $0.isEmpty }), let expiry, expiry < Date() { break }
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .seconds(2))
        // On a machine this busy an attempt can lose its lease before it starts, and never run:
        // the first to run need not be attempt 1.
        let first = try #require(runs.withLock { $0.first })
        let held = try #require(try await store.jobGet(1))
        #expect(held.state == .running && held.attempt == first && held.errors.count == first - 1, "\(held.state), attempt \(held.attempt)")
        releasedYet.withLock { $0 = true }
        release.finish()
        try await run.value
        // Its handler returned: the attempt is recorded as completed, its finish fenced (no other
        // attempt took the job), and the job does not run again.
        let job = try #require(try await store.jobGet(1))
        #expect(job.state == .completed && job.attempt == first, "\(job.state), attempt \(job.attempt)")
        #expect(job.errors.count == first - 1 && job.errors.allSatisfy { $0.error.hasPrefix("lease expired") })
        #expect(runs.withLock { $0 } == [first] && beside.withLock { $0 } == 0, "\(runs.withLock { $0 })")
    }
}

@Suite("Store failures, said once")
struct StoreTroubleTests {
    @Test("while writes fail, a read or a claim that wrote nothing does not say the store answers again; a write does, once")
    func readsDoNotEndWriteFailures() {
        let log = LogRecord()
        let trouble = StoreTrouble(logger: log.logger)
        trouble.failed("recording finished jobs", began: .now, DatabaseFull(), metadata: [:])
        trouble.failed("reading cancel requests", writing: false, began: .now, DatabaseFull())
        trouble.succeeded(writing: false)
        trouble.succeeded(writing: false)
        #expect(log.messages.withLock { $0 }.filter { $0.contains("answers again") }.count == 1, "the read's spell ends, once")
        trouble.succeeded()
        trouble.succeeded()
        let said = log.messages.withLock { $0 }
        #expect(said.filter { $0.contains("answers again") }.count == 2 && said.count == 4, "\(said)")
    }

    @Test("a failure that lasts is said again after the reminder's interval, with how long and how often, not at every try")
    func saidAgainWhileItLasts() {
        let log = LogRecord()
        let start = ContinuousClock.now
        let elapsed = Mutex(Duration.zero)
        let trouble = StoreTrouble(logger: log.logger, clock: { start + elapsed.withLock { $0 } })
        for _ in 1...5 { trouble.failed("claim", began: start, DatabaseFull()) }
        elapsed.withLock { $0 = .seconds(59) }
        trouble.failed("claim", began: start, DatabaseFull())
        #expect(log.messages.withLock { $0 }.count == 1, "the first failure only")
        elapsed.withLock { $0 = .seconds(61) }
        for _ in 1...5 { trouble.failed("claim", began: start, DatabaseFull()) }
        let said = log.messages.withLock { $0 }
        #expect(said.count == 2 && said.last == "error: claim still fails after 1m1s (7 failures); retrying", "\(said)")
        trouble.succeeded()
        #expect(log.messages.withLock { $0 }.last == "notice: the store answers again")
    }

    @Test("an outage is timed from the start of the first call it failed, which may fail only when it gives up waiting")
    func timedFromTheCall() {
        let log = LogRecord()
        let trouble = StoreTrouble(logger: log.logger)
        trouble.failed("claim", began: .now - .seconds(10), DatabaseFull())
        trouble.succeeded()
        let said = log.metadata.withLock { $0 }.last?["for"]?.description ?? ""
        #expect(log.messages.withLock { $0 }.last == "notice: the store answers again" && said.hasPrefix("10s"), "\(said)")
    }

    /// A store error of many lines, as SQLite's carry their statement.
    struct DatabaseFull: Error, CustomStringConvertible {
        var description: String { "SQLite error 13: database or disk is full - while executing `SELECT 1\n  FROM jobs\n  WHERE id = ?`" }
    }

    @Test("an error is logged on one line")
    func oneLine() {
        #expect(StoreTrouble.oneLine(DatabaseFull()) == "SQLite error 13: database or disk is full - while executing `SELECT 1 FROM jobs WHERE id = ?`")
    }
}
