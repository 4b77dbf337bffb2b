/// A `queues` row as stored: a queue's settings.
public struct QueueRecord: Sendable {
    public var name: String
    public var limit: Int?
    public var paused: Bool
    /// NULL is the default, 0 forever (see ``QueueRetention/stored(_:default:)``).
    public var retainCompletedMs: Int64?
    public var retainFailedMs: Int64?

    public init(name: String, limit: Int?, paused: Bool, retainCompletedMs: Int64?, retainFailedMs: Int64?) {
        self.name = name
        self.limit = limit
        self.paused = paused
        self.retainCompletedMs = retainCompletedMs
        self.retainFailedMs = retainFailedMs
    }
}

extension QueueInfo {
    /// Every queue, by name: those with settings, and those that only have jobs, with their
    /// jobs counted by state, as both stores list them.
    public static func listing(_ stored: [QueueRecord], counts: [(String, JobState, Int)]) -> [QueueInfo] {
        var queues: [String: QueueInfo] = [:]
        for queue in stored {
            queues[queue.name] = QueueInfo(
                name: queue.name, limit: queue.limit, paused: queue.paused, counts: [:],
                retainCompleted: QueueRetention.stored(queue.retainCompletedMs, default: defaultRetainCompleted),
                retainFailed: QueueRetention.stored(queue.retainFailedMs, default: defaultRetainFailed)
            )
        }
        for (name, state, count) in counts {
            queues[name, default: QueueInfo(name: name, limit: nil, paused: false, counts: [:])].counts[state] = count
        }
        return queues.values.sorted { $0.name < $1.name }
    }
}
