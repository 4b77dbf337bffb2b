/// How a claim shares its free slots among queues, the same in every store: queues in the
/// order asked, paused ones skipped, a limited one given no more than its free room.
public enum ClaimFill {
    /// A queue as a claim sees it; a queue with no settings row is neither paused nor limited.
    public struct Queue: Sendable {
        public var name: String
        public var limit: Int?
        public var paused: Bool

        public init(name: String, limit: Int?, paused: Bool) {
            self.name = name
            self.limit = limit
            self.paused = paused
        }
    }

    /// - Parameters:
    ///   - room: for a limited queue, how many more of its jobs may run now.
    ///   - claim: claims up to the count from the queue, in claim order.
    public static func fill(
        _ slots: Int, from queues: [Queue], room: (Queue) throws -> Int, claim: (String, Int) throws -> [Job]
    ) throws -> [Job] {
        var claimed: [Job] = []
        for queue in queues where claimed.count < slots && !queue.paused {
            var count = slots - claimed.count
            if queue.limit != nil { count = min(count, try room(queue)) }
            guard count > 0 else { continue }
            claimed += try claim(queue.name, count)
        }
        return claimed
    }
}
