import Foundation

/// One entry of the append-only event log. `seq` grows with every append and is never
/// reused, so readers resume with "after seq".
public struct JobEvent: Sendable, Hashable {
    public var seq: Int64
    public var at: Date
    public var type: EventType
    public var job: Int64?
    public var server: String?
    public var data: JSONValue

    public init(seq: Int64, at: Date, type: EventType, job: Int64?, server: String?, data: JSONValue) {
        self.seq = seq
        self.at = at
        self.type = type
        self.job = job
        self.server = server
        self.data = data
    }
}

extension JobEvent: Encodable {
    enum CodingKeys: String, CodingKey { case seq, at, type, job, server, data }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(at, forKey: .at)
        try container.encode(type, forKey: .type)
        try container.encode(job, forKey: .job)
        try container.encode(server, forKey: .server)
        try container.encode(data, forKey: .data)
    }
}

/// What an event records. Persisted names never change.
public enum EventType: String, Sendable, Codable, CaseIterable {
    /// A job was inserted.
    case enqueued
    /// A worker claimed the job and started an attempt.
    case started
    /// An attempt failed (or its lease expired) and the job waits for its backoff.
    case retrying
    /// The job finished successfully.
    case completed
    /// The job failed for good.
    case discarded
    /// The job was cancelled.
    case cancelled
    /// A user asked a running job to stop; the worker stops it at its next heartbeat.
    case cancelRequested = "cancel_requested"
    /// The handler asked to run again later without spending an attempt.
    case snoozed
    /// A worker shutting down gave the job back without spending an attempt.
    case released
    /// A user put a job back, or made it due now, with a fresh attempt budget (`jobs retry`).
    case retried
    /// Finished jobs and old events were deleted.
    case pruned
    /// A recovery server moved from one state to another (or was created or removed).
    case stateChanged = "state_changed"
    /// A stage job finished that is not its server's current operation: recorded, ignored.
    case stageIgnored = "stage_ignored"
}
