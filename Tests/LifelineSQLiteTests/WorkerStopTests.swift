import Foundation
import LifelineQueue
import LifelineSQLite
import Logging
import Synchronization
import Testing

@Suite("A worker that stops")
struct WorkerStopTests {
    @Test("a lease renewal, a cancel check or a pruning pass cut short by the stop is no error")
    func backgroundCallsCutShort() async throws {
        let store = StallingStore(SQLiteJobStore(writer: try SQLiteDatabase.openInMemory()))
        _ = try await store.jobInsert([NewJob(kind: "sleep", args: ["ms": 60_000])])
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        let messages = Messages()
        let logger = Logger(label: "test") { _ in RecordingHandler(messages: messages) }
        // Renewals come every second; the lease runs out three seconds after the claim.
        let configuration = WorkerConfiguration(concurrency: 1, lease: .seconds(3), grace: .zero, pruneInterval: .seconds(600))
        let worker = Worker(store: store, registry: registry, configuration: configuration, logger: logger)
        let run = Task { try await worker.run() }
        // The first renewal round is waiting on the store: the pruning pass too, since the start.
        await store.renewalStarted.first { _ in true }
        worker.shutdown()
        worker.shutdown()
        try await run.value
        #expect(store.renewals.withLock { $0 } >= 1)
        let errors = messages.all.withLock { $0 }.filter { $0.hasPrefix("error") }
        #expect(errors.isEmpty, "\(errors)")
        // The job was given back, not lost or failed.
        #expect(try await store.jobGet(1)?.state == .available)
    }
}

/// A store whose lease renewals, cancel checks and pruning passes wait until the task that
/// made them is cancelled; everything else goes to the store it wraps.
private final class StallingStore: JobStore {
    let inner: SQLiteJobStore
    let renewals = Mutex(0)
    let renewalStarted: AsyncStream<Void>
    private let announce: AsyncStream<Void>.Continuation

    init(_ inner: SQLiteJobStore) {
        self.inner = inner
        (renewalStarted, announce) = AsyncStream.makeStream()
    }

    private func stall<T>() async throws -> T {
        try await Task.sleep(for: .seconds(3600))
        throw CancellationError()
    }

    func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus] {
        renewals.withLock { $0 += 1 }
        announce.yield()
        return try await stall()
    }

    func jobCancelRequested(_ ids: [Int64]) async throws -> Set<Int64> { try await stall() }
    func jobPruneExpired(batch: Int) async throws -> PruneResult { try await stall() }

    func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob] { try await inner.jobInsert(jobs) }
    func jobClaim(_ request: ClaimRequest) async throws -> ClaimResult { try await inner.jobClaim(request) }
    func jobFinish(_ finishes: [JobFinish]) async throws -> Set<Int64> { try await inner.jobFinish(finishes) }
    func jobCancel(_ ids: [Int64]) async throws -> [Int64: CancelResult] { try await inner.jobCancel(ids) }
    func jobRetry(_ ids: [Int64]) async throws -> [Job] { try await inner.jobRetry(ids) }
    func jobGet(_ id: Int64) async throws -> Job? { try await inner.jobGet(id) }
    func jobList(_ filter: JobFilter) async throws -> [Job] { try await inner.jobList(filter) }
    func jobCount(_ filter: JobFilter) async throws -> Int { try await inner.jobCount(filter) }
    func jobPrune(before: Date, dryRun: Bool) async throws -> PruneResult { try await inner.jobPrune(before: before, dryRun: dryRun) }
    func eventList(_ filter: EventFilter) async throws -> [JobEvent] { try await inner.eventList(filter) }
    func statsGet() async throws -> QueueStats { try await inner.statsGet() }
    func queueList() async throws -> [QueueInfo] { try await inner.queueList() }
    func queueUpdate(_ queue: String, _ update: QueueUpdate, create: Bool) async throws {
        try await inner.queueUpdate(queue, update, create: create)
    }
}

private final class Messages: Sendable {
    let all = Mutex<[String]>([])
}

/// Keeps each message with its level, as "level: message".
private struct RecordingHandler: LogHandler {
    let messages: Messages
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        messages.all.withLock { $0.append("\(event.level): \(event.message)") }
    }
}
