/// How a claim shares its free slots among queues, the same in every store: queues in the
/// order asked, paused ones skipped, a limited one given no more than its free room. Queues
/// with weights are looked at in a random order, each first in proportion to its weight (as
/// Sidekiq's weighted queues are), so that over many claims each gets its share and none starves.
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
    ///   - weights: by queue name; empty takes the queues in their order, and a queue missing
    ///     from non-empty weights weighs 1.
    public static func fill(
        _ slots: Int, from queues: [Queue], weights: [String: Int] = [:], room: (Queue) throws -> Int,
        claim: (String, Int) throws -> [Job]
    ) throws -> [Job] {
        var queues = queues
        if !weights.isEmpty {
            var random = SystemRandomNumberGenerator()
            queues = order(queues, weights: weights, using: &random)
        }
        var claimed: [Job] = []
        for queue in queues where claimed.count < slots && !queue.paused {
            var count = slots - claimed.count
            if queue.limit != nil { count = min(count, try room(queue)) }
            guard count > 0 else { continue }
            claimed += try claim(queue.name, count)
        }
        return claimed
    }

    /// The queues in a random order where each comes next in proportion to its weight among
    /// those left.
    public static func order(_ queues: [Queue], weights: [String: Int], using random: inout some RandomNumberGenerator) -> [Queue] {
        let weight = { (queue: Queue) in max(weights[queue.name] ?? 1, 1) }
        var left = queues
        var ordered: [Queue] = []
        ordered.reserveCapacity(queues.count)
        while !left.isEmpty {
            var pick = Int.random(in: 0..<left.reduce(0) { $0 + weight($1) }, using: &random)
            let index = left.firstIndex { queue in
                pick -= weight(queue)
                return pick < 0
            }!
            ordered.append(left.remove(at: index))
        }
        return ordered
    }
}
