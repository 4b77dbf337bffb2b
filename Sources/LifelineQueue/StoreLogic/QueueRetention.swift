/// How long each queue keeps its finished jobs, as stores read it from their queue settings.
public struct QueueRetention: Sendable {
    /// Per queue, in milliseconds: completed and failed (`nil`: forever).
    public var queues: [String: (completed: Int64?, failed: Int64?)] = [:]

    public init() {}

    /// A stored retention: NULL is the default, 0 is forever (`nil`).
    public static func stored(_ ms: Int64?, default: Duration) -> Duration? {
        guard let ms else { return `default` }
        return ms == 0 ? nil : .milliseconds(ms)
    }

    /// Adds a queue's stored settings.
    public mutating func add(queue: String, completedMs: Int64?, failedMs: Int64?) {
        queues[queue] = (
            Self.stored(completedMs, default: QueueInfo.defaultRetainCompleted)?.milliseconds,
            Self.stored(failedMs, default: QueueInfo.defaultRetainFailed)?.milliseconds
        )
    }

    /// A queue's retention in milliseconds; a queue without settings of its own keeps the
    /// defaults.
    public func of(queue: String, completed: Bool) -> Int64? {
        let setting = queues[queue] ?? (QueueInfo.defaultRetainCompleted.milliseconds, QueueInfo.defaultRetainFailed.milliseconds)
        return completed ? setting.completed : setting.failed
    }

    /// The shortest retention of any queue, a queue with no settings' defaults included:
    /// nothing finished more recently can expire.
    public var shortest: Int64 {
        queues.values.flatMap { [$0.completed, $0.failed] }.compactMap { $0 }.reduce(
            min(QueueInfo.defaultRetainCompleted.milliseconds, QueueInfo.defaultRetainFailed.milliseconds), min
        )
    }

    /// Whether a job that finished at `finishedAt` (ms) in `state` has outlived its queue's
    /// retention at `now` (ms).
    public func expired(queue: String, state: String, finishedAt: Int64, now: Int64) -> Bool {
        of(queue: queue, completed: state == JobState.completed.rawValue).map { finishedAt < now - $0 } ?? false
    }
}
