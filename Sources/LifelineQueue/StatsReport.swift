import Foundation

/// Stats as `lifeline stats` and the API give them: the stats' own fields, and `held`, by
/// queue, for each queue held back on purpose (`{"paused": Bool, "limit": Int or null}`), as
/// the table's HELD column says.
public struct StatsReport: Encodable, Sendable {
    public var stats: QueueStats
    public var queues: [QueueInfo]

    public init(stats: QueueStats, queues: [QueueInfo]) {
        self.stats = stats
        self.queues = queues
    }

    struct Held: Encodable {
        var paused: Bool
        var limit: Int?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(paused, forKey: .paused)
            // Said even when there is none: a paused queue may have no limit.
            try container.encode(limit, forKey: .limit)
        }

        enum CodingKeys: String, CodingKey {
            case paused, limit
        }
    }

    enum CodingKeys: String, CodingKey {
        case held
    }

    public func encode(to encoder: any Encoder) throws {
        try stats.encode(to: encoder)
        let held = Dictionary(queues.filter(\.isHeld).map { ($0.name, Held(paused: $0.paused, limit: $0.limit)) }, uniquingKeysWith: { first, _ in first })
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(held, forKey: .held)
    }
}
