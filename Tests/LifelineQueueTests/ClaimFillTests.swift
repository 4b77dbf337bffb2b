import Foundation
import LifelineQueue
import Testing

@Suite("How a claim shares its slots among queues")
struct ClaimFillTests {
    static let queues = ["a", "b", "c"].map { ClaimFill.Queue(name: $0, limit: nil, paused: false) }

    @Test("weighted queues come first in proportion to their weights; every queue is in every order once")
    func weightedOrder() {
        var random = SystemRandomNumberGenerator()
        var first: [String: Int] = [:]
        let rounds = 20_000
        for _ in 0..<rounds {
            let order = ClaimFill.order(Self.queues, weights: ["a": 6, "b": 3, "c": 1], using: &random).map(\.name)
            #expect(order.sorted() == ["a", "b", "c"])
            first[order[0], default: 0] += 1
        }
        // Shares of 0.6, 0.3 and 0.1: 20,000 rounds put each within a few hundredths.
        for (name, share) in [("a", 0.6), ("b", 0.3), ("c", 0.1)] {
            #expect(abs(Double(first[name] ?? 0) / Double(rounds) - share) < 0.03, "\(name): \(first)")
        }
    }

    @Test("without weights, the first waiting jobs across the queues in claim order, whatever their order; with them, what one queue leaves goes to the others")
    func fills() throws {
        // Queue a's jobs at priority 5, b's at 0, c's at 1: each key's id is its place in line.
        let priorities = ["a": 5, "b": 0, "c": 1]
        func fill(_ slots: Int, from queues: [ClaimFill.Queue] = Self.queues, weights: [String: Int], waiting: [String: Int]) throws -> [String] {
            try ClaimFill.fill(slots, from: queues, weights: weights, room: { _ in 0 }, peek: { asked in
                asked.map { queue, count in
                    (0..<min(count, waiting[queue] ?? 0)).map { ClaimFill.Key(priority: priorities[queue]!, runAt: 0, id: Int64($0)) }
                }
            }) { queue, count in
                (0..<min(count, waiting[queue] ?? 0)).map { Self.job(queue, id: $0, priority: priorities[queue]!) }
            }.map(\.queue)
        }
        #expect(try fill(5, weights: [:], waiting: ["a": 9, "b": 2, "c": 9]) == ["b", "b", "c", "c", "c"])
        #expect(try fill(5, from: Self.queues.reversed(), weights: [:], waiting: ["a": 9, "b": 2, "c": 9]) == ["b", "b", "c", "c", "c"])
        #expect(try fill(5, weights: [:], waiting: ["a": 9, "b": 1, "c": 1]) == ["b", "c", "a", "a", "a"])
        // Whichever order the weights draw (c first, nearly always), the slots one queue leaves
        // go to the next: all five are taken. (With nine waiting in a and b, the one draw in
        // about 500 that put c after them left it nothing, and the test failed.)
        let weighted = try fill(5, weights: ["a": 1, "b": 1, "c": 1000], waiting: ["a": 2, "b": 2, "c": 1])
        #expect(weighted.count == 5 && weighted.filter { $0 == "c" }.count == 1)
        // With one queue open, the claim takes from it without a look first.
        let alone = try ClaimFill.fill(3, from: [Self.queues[0]], room: { _ in 0 }, peek: { _ in Issue.record("peeked"); return [] }) {
            queue, count in (0..<count).map { Self.job(queue, id: $0) }
        }
        #expect(alone.count == 3)
    }

    static func job(_ queue: String, id: Int, priority: Int = 5) -> Job {
        Job(id: Int64(id), queue: queue, kind: "noop", args: [:], state: .running, priority: priority, attempt: 1, maxAttempts: 20,
            timeout: .seconds(1800), backoff: .standard, runAt: Date(ms: 0), createdAt: Date(ms: 0))
    }
}
