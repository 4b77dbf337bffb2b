import LifelineQueue

/// Why a queue's waiting jobs are not taken though a worker may serve it: the queue is paused,
/// or at its limit. Said where a wait would otherwise blame a missing worker.
enum QueueHold {
    /// `nil` when the queue holds nothing back (or cannot be read: the caller says what it would).
    static func reason(_ queue: String, in jobs: any JobStore) async -> String? {
        guard let info = try? await jobs.queueList().first(where: { $0.name == queue }) else { return nil }
        if info.paused { return "queue \(queue) is paused (lifeline queues resume \(queue))" }
        guard let limit = info.limit else { return nil }
        if limit == 0 { return "queue \(queue) is limited to 0 at once (lifeline queues limit \(queue) none)" }
        let running = info.counts[.running] ?? 0
        guard running >= limit else { return nil }
        return "queue \(queue) runs at most \(limit) at once, and \(running) are running (lifeline queues limit \(queue) N)"
    }
}
