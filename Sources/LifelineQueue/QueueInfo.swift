import Foundation

/// A queue as configured and as it stands.
public struct QueueInfo: Sendable, Hashable, Encodable {
    public var name: String
    /// At most this many running at once across all processes; `nil` is unlimited.
    public var limit: Int?
    public var paused: Bool
    public var counts: [JobState: Int]
    /// How long finished jobs are kept before workers prune them; `nil` keeps them forever.
    public var retainCompleted: Duration?
    public var retainFailed: Duration?

    /// Kept unless a queue says otherwise.
    public static let defaultRetainCompleted: Duration = .seconds(7 * 86_400)
    public static let defaultRetainFailed: Duration = .seconds(30 * 86_400)

    public init(
        name: String, limit: Int?, paused: Bool, counts: [JobState: Int], retainCompleted: Duration? = defaultRetainCompleted,
        retainFailed: Duration? = defaultRetainFailed
    ) {
        self.name = name
        self.limit = limit
        self.paused = paused
        self.counts = counts
        self.retainCompleted = retainCompleted
        self.retainFailed = retainFailed
    }

    /// Held back on purpose: paused, or limited in the jobs it runs at once.
    public var isHeld: Bool { paused || limit != nil }

    enum CodingKeys: String, CodingKey {
        case name, limit, paused, counts
        case retainCompleted = "retain_completed_seconds"
        case retainFailed = "retain_failed_seconds"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(limit, forKey: .limit)
        try container.encode(paused, forKey: .paused)
        try container.encode(retainCompleted.map { $0.milliseconds / 1000 }, forKey: .retainCompleted)
        try container.encode(retainFailed.map { $0.milliseconds / 1000 }, forKey: .retainFailed)
        let byName = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, counts[$0] ?? 0) })
        try container.encode(byName, forKey: .counts)
    }
}
