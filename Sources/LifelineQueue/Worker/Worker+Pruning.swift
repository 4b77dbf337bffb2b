import Foundation

extension Worker {
    /// Jobs deleted per transaction: small, so a pass never holds the write lock long.
    static let pruneBatch = 500

    /// Deletes finished jobs past their queue's retention: once at start, then every
    /// `pruneInterval`. Every worker does it; a job deleted by one is simply gone for the rest.
    func pruneLoop() async {
        guard let interval = configuration.pruneInterval else { return }
        repeat {
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
        } while (try? await Task.sleep(for: interval)) != nil
    }
}
