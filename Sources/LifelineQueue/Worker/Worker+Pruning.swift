import Foundation

extension Worker {
    /// Jobs deleted per transaction: small, so a pass never holds the write lock long.
    static let pruneBatch = 500

    /// Deletes finished jobs past their queue's retention, once; nothing without a
    /// `pruneInterval`. Every worker makes a pass at start, then every `pruneInterval`; a job
    /// deleted by one is simply gone for the rest.
    func prunePass() async {
        guard configuration.pruneInterval != nil else { return }
        do {
            let pruned = try await store.jobPruneExpired(batch: Self.pruneBatch)
            if pruned.jobs > 0 {
                logger.info("pruned jobs past their queue's retention", metadata: ["jobs": "\(pruned.jobs)", "events": "\(pruned.events)"])
            }
        } catch {
            // Cut short by the worker stopping: nothing failed.
            guard !Task.isCancelled else { return }
            logger.error("pruning failed", metadata: ["error": "\(error)"])
        }
    }

    /// The passes after the first, every `pruneInterval`.
    func pruneLoop(after first: Task<Void, Never>) async {
        await first.value
        guard let interval = configuration.pruneInterval else { return }
        while (try? await Task.sleep(for: interval)) != nil {
            await prunePass()
        }
    }
}
