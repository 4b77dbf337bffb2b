import Foundation
import LifelineQueue
import Testing

/// The behaviour every ``JobStore`` must show. A store's tests run each check on a fresh,
/// empty store built by their factory:
///
/// ```swift
/// @Test(arguments: JobStoreConformance.checks)
/// func inMemory(_ check: JobStoreConformance.Check) async throws {
///     try await check.run { clock in try makeStore(clock) }
/// }
/// ```
public enum JobStoreConformance {
    public typealias Factory = @Sendable (ManualClock) async throws -> any JobStore

    public struct Check: Sendable, CustomTestStringConvertible {
        public let name: String
        let body: @Sendable (any JobStore, ManualClock) async throws -> Void

        public var testDescription: String { name }

        public func run(_ factory: Factory) async throws {
            let clock = ManualClock()
            let store = try await factory(clock)
            try await body(store, clock)
            try await EventChecks.expectWellFormedLog(store)
            try await CountChecks.expectCountsMatchJobs(store, clock)
        }
    }

    public static let checks: [Check] = InsertChecks.all + ClaimChecks.all + FinishChecks.all + ManageChecks.all
}

/// Checks on the event log that hold after any sequence of operations.
enum EventChecks {
    /// Sequence numbers strictly increase, and every job has its `enqueued` event first.
    static func expectWellFormedLog(_ store: any JobStore) async throws {
        let events = try await store.eventList(EventFilter())
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.seq < $1.seq }, "event seq must strictly increase")
        var seen = Set<Int64>()
        for event in events {
            guard let job = event.job else { continue }
            if seen.insert(job).inserted {
                #expect(event.type == .enqueued || event.type == .pruned, "job \(job)'s first event is \(event.type)")
            }
        }
    }

    static func types(_ store: any JobStore, job: Int64) async throws -> [EventType] {
        try await store.eventList(EventFilter(job: job)).map(\.type)
    }
}

/// Checks on the kept counts that hold after any sequence of operations.
enum CountChecks {
    /// `stats` and `queues` count what a listing of every job finds, and the oldest waiting
    /// job is the earliest available one, or scheduled or retryable one whose time has come.
    static func expectCountsMatchJobs(_ store: any JobStore, _ clock: ManualClock) async throws {
        let jobs = try await store.jobList(JobFilter())
        var expected: [String: [JobState: Int]] = [:]
        for job in jobs { expected[job.queue, default: [:]][job.state, default: 0] += 1 }
        let stats = try await store.statsGet()
        #expect(stats.counts == expected, "stats counts")
        let listed = try await store.queueList().filter { !$0.counts.isEmpty }
        #expect(Dictionary(uniqueKeysWithValues: listed.map { ($0.name, $0.counts) }) == expected, "queue counts")
        var oldest: [String: Duration] = [:]
        for job in jobs where job.state == .available || [.scheduled, .retryable].contains(job.state) && job.runAt <= clock.now {
            let waited = Duration.milliseconds(max(0, clock.now.ms - job.runAt.ms))
            oldest[job.queue] = max(oldest[job.queue] ?? .zero, waited)
        }
        #expect(stats.oldestWaiting == oldest, "oldest waiting")
    }
}
