import Foundation
import LifelineQueue
import LifelineSQLite
import Logging
import Synchronization

/// An in-memory SQLite store whose lease renewals, cancel checks and pruning passes wait until
/// the task that made them is cancelled, and whose claims fail while it is `down`. Everything
/// else goes straight to the store.
final class SlowStore: JobStore {
    struct Down: Error {}

    let inner: SQLiteJobStore
    let renewals = Mutex(0)
    let down = Mutex(false)
    let claimsRefused = Mutex(0)
    /// Yields when a lease renewal arrives.
    let renewalArrived: AsyncStream<Void>
    private let announce: AsyncStream<Void>.Continuation

    init() throws {
        inner = SQLiteJobStore(writer: try SQLiteDatabase.openInMemory())
        (renewalArrived, announce) = AsyncStream.makeStream()
    }

    var now: Date { inner.now }

    private func stall<T>() async throws -> T {
        try await Task.sleep(for: .seconds(3600))
        throw CancellationError()
    }

    func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus] {
        renewals.withLock { $0 += 1 }
        announce.yield()
        return try await stall()
    }

    func jobCancelRequested(_ ids: [Int64]) async throws -> Set<Int64> {
        try await stall()
    }

    func jobPruneExpired(batch: Int) async throws -> PruneResult {
        try await stall()
    }

    func jobClaim(_ claim: DeferredClaim) async throws -> ClaimResult? {
        if down.withLock({ $0 }) {
            claimsRefused.withLock { $0 += 1 }
            throw Down()
        }
        return try await inner.jobClaim(claim)
    }

    func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob] { try await inner.jobInsert(jobs) }
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

/// What a logger was told, each message as "level: message".
final class LogRecord: Sendable {
    let messages = Mutex<[String]>([])
    /// Each message's metadata, in the same order.
    let metadata = Mutex<[Logger.Metadata]>([])

    var logger: Logger {
        Logger(label: "test") { [self] _ in Handler(record: self) }
    }

    var errors: [String] { messages.withLock { $0 }.filter { $0.hasPrefix("error") } }

    private struct Handler: LogHandler {
        let record: LogRecord
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            record.messages.withLock { $0.append("\(event.level): \(event.message)") }
            record.metadata.withLock { $0.append(metadata.merging(event.metadata ?? [:]) { $1 }) }
        }
    }
}
