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
    /// Jobs that have been attempted more than once.
    public var retriedOnly: Bool
    /// Jobs with smaller ids: the page after one that ended with this id (lists are newest first).
    public var beforeID: Int64?
    public var limit: Int?

    public init(
        states: Set<JobState> = [], queue: String? = nil, kind: String? = nil, server: String? = nil,
        activeSince: Date? = nil, retriedOnly: Bool = false, beforeID: Int64? = nil, limit: Int? = nil
    ) {
        self.states = states
        self.queue = queue
        self.kind = kind
        self.server = server
        self.activeSince = activeSince
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
