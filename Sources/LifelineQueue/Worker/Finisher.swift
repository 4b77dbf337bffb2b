import Logging
import Synchronization

/// Writes finished attempts in groups: while one transaction commits, the finishes that
/// arrive wait and go together in the next one (group commit). A finish is never dropped: a
/// failed write is retried until the store takes it.
final class Finisher: Sendable {
    private struct Pending {
        var finishes: [(JobFinish, CheckedContinuation<Bool, Never>)] = []
        var flushing = false
    }

    private let store: any JobStore
    private let logger: Logger
    private let pending = Mutex(Pending())

    init(store: any JobStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Records the finish; returns whether it applied (false: the lease had been lost).
    func finish(_ finish: JobFinish) async -> Bool {
        await withCheckedContinuation { continuation in
            let startFlushing = pending.withLock { pending -> Bool in
                pending.finishes.append((finish, continuation))
                guard !pending.flushing else { return false }
                pending.flushing = true
                return true
            }
            if startFlushing { Task { await flush() } }
        }
    }

    private func flush() async {
        var failures = 0
        while true {
            let batch = pending.withLock { pending in
                let batch = pending.finishes
                pending.finishes = []
                if batch.isEmpty { pending.flushing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let applied = try await store.jobFinish(batch.map(\.0))
                failures = 0
                for (finish, continuation) in batch { continuation.resume(returning: applied.contains(finish.id)) }
            } catch {
                failures += 1
                logger.error("cannot record finished jobs; retrying", metadata: ["error": "\(error)", "jobs": "\(batch.count)"])
                pending.withLock { $0.finishes.insert(contentsOf: batch, at: 0) }
                try? await Task.sleep(for: Backoff.storeRetry.delay(afterAttempt: failures))
            }
        }
    }
}
