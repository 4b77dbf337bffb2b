import LifelineQueue
import LifelineRecovery

/// Why a queue's waiting jobs are not taken though a worker may serve it: the queue is paused,
/// or at its limit. Said where a wait would otherwise blame a missing worker.
enum QueueHold {
    /// Why the server's stage job, waiting for a worker, is held back by its queue; `nil` when
    /// no job waits, the queue holds nothing back, or it cannot be read (the caller says what
    /// it would say anyway).
    static func reason(for server: ServerInfo, in jobs: any JobStore) async -> String? {
        guard server.currentJobState == .available, let queues = try? await jobs.queueList() else { return nil }
        return reason(for: server, queues: queues)
    }

    /// ``reason(for:in:)`` from the queues as read.
    static func reason(for server: ServerInfo, queues: [QueueInfo]) -> String? {
        hold(for: server, queues: queues).map { "\($0.what) (\($0.remedy))" }
    }

    /// The hold alone, without its remedy: for a progress bar's few columns.
    static func brief(for server: ServerInfo, queues: [QueueInfo]) -> String? {
        hold(for: server, queues: queues)?.what
    }

    private static func hold(for server: ServerInfo, queues: [QueueInfo]) -> (what: String, remedy: String)? {
        guard server.currentJobState == .available, let queue = server.lifecycle.currentStage?.queue,
            let info = queues.first(where: { $0.name == queue })
        else { return nil }
        if info.paused { return ("queue \(queue) is paused", "lifeline queues resume \(queue)") }
        guard let limit = info.limit, case let running = info.counts[.running] ?? 0, running >= limit else { return nil }
        return ("queue \(queue) runs at most \(limit) at once, and \(running == 1 ? "1 is" : "\(running) are") running", "lifeline queues limit \(queue) N")
    }
}
