import Foundation

/// Which jobs a listing or count takes. Empty fields do not filter.
public struct JobFilter: Sendable, Hashable {
    public var states: Set<JobState>
    public var queue: String?
    public var kind: String?
    public var server: String?
    /// Jobs created, attempted or finished at or after this time: a job that failed an hour ago
    /// is among those of the last six hours, whenever it was enqueued.
    public var activeSince: Date?
    /// Jobs due later than this time (their `run_at`): of those waiting, the ones not due yet.
    public var dueAfter: Date?
    /// Jobs that have been attempted more than once.
    public var retriedOnly: Bool
    /// Jobs with smaller ids: the page after one that ended with this id (lists are newest first).
    public var beforeID: Int64?
    public var limit: Int?

    public init(
        states: Set<JobState> = [], queue: String? = nil, kind: String? = nil, server: String? = nil,
        activeSince: Date? = nil, dueAfter: Date? = nil, retriedOnly: Bool = false, beforeID: Int64? = nil, limit: Int? = nil
    ) {
        self.states = states
        self.queue = queue
        self.kind = kind
        self.server = server
        self.activeSince = activeSince
        self.dueAfter = dueAfter
        self.retriedOnly = retriedOnly
        self.beforeID = beforeID
        self.limit = limit
    }
}

public struct EventFilter: Sendable, Hashable {
    public var afterSeq: Int64
    public var job: Int64?
    public var server: String?
    public var types: Set<EventType>
    /// Only events at or after this time.
    public var since: Date?
    public var limit: Int?
    /// The newest events first (with `limit`: the last N), instead of the oldest.
    public var newestFirst: Bool

    public init(
        afterSeq: Int64 = 0, job: Int64? = nil, server: String? = nil, types: Set<EventType> = [], since: Date? = nil,
        limit: Int? = nil, newestFirst: Bool = false
    ) {
        self.afterSeq = afterSeq
        self.job = job
        self.server = server
        self.types = types
        self.since = since
        self.limit = limit
        self.newestFirst = newestFirst
    }
}

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
