/// How a claim shares its free slots among queues, the same in every store: paused queues
/// skipped, a limited one given no more than its free room. A worker takes the first waiting
/// jobs across the queues it serves (every queue, or those it named) in claim order
/// (priority, run_at, id), so a priority-0 stage is not kept behind a backlog of another
/// queue. Queues with weights are taken instead in a random order, each first in proportion to
/// its weight (as Sidekiq's weighted queues are), so that over many claims each gets its share
/// and none starves.
public enum ClaimFill {
    /// Where a waiting job stands in claim order.
    public struct Key: Comparable, Sendable {
        public var priority: Int
        public var runAt: Int64
        public var id: Int64

        public init(priority: Int, runAt: Int64, id: Int64) {
            self.priority = priority
            self.runAt = runAt
            self.id = id
        }

        public static func < (a: Key, b: Key) -> Bool {
            (a.priority, a.runAt, a.id) < (b.priority, b.runAt, b.id)
        }
    }

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
    ///   - weights: by queue name; empty takes the queues' jobs in claim order, and a queue
    ///     missing from non-empty weights weighs 1.
    ///   - room: for a limited queue, how many more of its jobs may run now.
    ///   - peek: for each queue and count, the keys of up to that many of its first waiting
    ///     jobs; asked only when more than one queue could fill the slots.
    ///   - claim: claims up to the count from the queue, in claim order.
    public static func fill(
        _ slots: Int, from queues: [Queue], weights: [String: Int] = [:], room: (Queue) throws -> Int,
        peek: ([(queue: String, count: Int)]) throws -> [[Key]], claim: (String, Int) throws -> [Job]
    ) throws -> [Job] {
        guard weights.isEmpty else {
            var random = SystemRandomNumberGenerator()
            var claimed: [Job] = []
            for queue in order(queues, weights: weights, using: &random) where claimed.count < slots && !queue.paused {
                let count = try share(of: queue, slots - claimed.count, room: room)
                if count > 0 { claimed += try claim(queue.name, count) }
            }
            return claimed
        }
        let open = try queues.filter { !$0.paused }.map { (queue: $0.name, count: try share(of: $0, slots, room: room)) }.filter { $0.count > 0 }
        guard open.count > 1 else { return try open.first.map { try claim($0.queue, $0.count) } ?? [] }
        // The first `slots` of the queues' first waiting jobs, counted by queue.
        let firsts = zip(open, try peek(open)).flatMap { queue, keys in keys.prefix(queue.count).map { ($0, queue.queue) } }
        var counts: [String: Int] = [:]
        for (_, queue) in firsts.sorted(by: { $0.0 < $1.0 }).prefix(slots) { counts[queue, default: 0] += 1 }
        let claimed = try open.flatMap { queue in try counts[queue.queue].map { try claim(queue.queue, $0) } ?? [] }
        return claimed.sorted { Key(job: $0) < Key(job: $1) }
    }

    /// How many of `slots` a queue may take: all, or, when limited, no more than its room.
    private static func share(of queue: Queue, _ slots: Int, room: (Queue) throws -> Int) throws -> Int {
        queue.limit == nil ? slots : min(slots, try room(queue))
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

extension ClaimFill.Key {
    public init(job: Job) {
        self.init(priority: job.priority, runAt: job.runAt.ms, id: job.id)
    }
}
