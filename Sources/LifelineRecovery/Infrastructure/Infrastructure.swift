import Foundation
import LifelineQueue

/// What the stages act on: VMs, disks, backups and the workload pointer. Every stage is
/// idempotent and resumable: run again after a crash or a failure, it checks what is already
/// done before acting, and a copy continues from its last checkpoint.
public protocol Infrastructure: Sendable {
    /// Performs the stage for the server. Progress is reported as the stage goes; the
    /// returned value becomes the job's result.
    func perform(_ request: StageRequest, progress: @escaping @Sendable (StageProgress) -> Void) async throws -> JSONValue?

    /// The machine's recovery points, oldest first; `nil` when this infrastructure cannot
    /// list them (then any name is passed on to the stages).
    func recoveryPoints(machine: String) async throws -> [RecoveryPoint]?
}

/// A machine the infrastructure at hand has no record of.
public struct UnknownMachine: Error, CustomStringConvertible {
    public var machine: String
    /// Where the infrastructure was looked for.
    public var infrastructure: String

    public var description: String { "machine \(machine) is not in the simulated infrastructure at \(infrastructure)" }
}

/// A backup of a machine that a recovery server can start from.
public struct RecoveryPoint: Sendable, Hashable, Codable {
    public var id: String
    public var createdAt: Date?
    /// The size of its disks together, in bytes.
    public var bytes: Int64?

    enum CodingKeys: String, CodingKey {
        case id, bytes
        case createdAt = "created_at"
    }

    public init(id: String, createdAt: Date?, bytes: Int64?) {
        self.id = id
        self.createdAt = createdAt
        self.bytes = bytes
    }
}

/// Everything a stage needs to know about its server, carried in the stage job's args.
public struct StageRequest: Sendable, Hashable, Codable {
    public var stage: Stage
    public var server: String
    public var machine: String
    public var disks: Int
    public var diskSize: Int64
    public var recoveryPoint: String?
    /// The stage's job and attempt: together the attempt's fence token. A later stage or
    /// attempt of the server always has a larger one (by job, then attempt), so an
    /// infrastructure refuses an attempt's acts once a larger token has acted on its server:
    /// an attempt whose lease ran out may still be running.
    public var job: Int64
    public var attempt: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case stage, server, machine, disks, job, attempt
        case diskSize = "disk_size"
        case recoveryPoint = "recovery_point"
    }

    /// Every key is written, `recovery_point` as null when the action named none: a stage
    /// program reads the request as documented, not as a synthesized encoder leaves it.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(stage, forKey: .stage)
        try container.encode(server, forKey: .server)
        try container.encode(machine, forKey: .machine)
        try container.encode(disks, forKey: .disks)
        try container.encode(diskSize, forKey: .diskSize)
        try container.encode(recoveryPoint, forKey: .recoveryPoint)
        try container.encode(job, forKey: .job)
        try container.encode(attempt, forKey: .attempt)
    }

    public init(stage: Stage, server: String, machine: String, disks: Int, diskSize: Int64, recoveryPoint: String?, job: Int64, attempt: Int) {
        self.stage = stage
        self.server = server
        self.machine = machine
        self.disks = disks
        self.diskSize = diskSize
        self.recoveryPoint = recoveryPoint
        self.job = job
        self.attempt = attempt
    }
}

/// How far a stage is: `done` of `total` units (bytes for copies).
public struct StageProgress: Sendable, Hashable, Codable {
    public var done: Int64
    public var total: Int64
    public var detail: String
    /// Units a second over the last 10 s, as the stage's worker measured them (``ProgressRate``):
    /// nil until it has, and from a stage program's line, whose own word is not taken.
    public var rate: Int64?

    public init(done: Int64, total: Int64, detail: String, rate: Int64? = nil) {
        self.done = done
        self.total = total
        self.detail = detail
        self.rate = rate
    }

    enum CodingKeys: String, CodingKey {
        case done, total, detail
    }

    /// A stage program's line may leave `detail` out; it is still progress.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        done = try container.decode(Int64.self, forKey: .done)
        total = try container.decode(Int64.self, forKey: .total)
        detail = try container.decodeIfPresent(String.self, forKey: .detail) ?? ""
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = ["done": .int(done), "total": .int(total), "detail": .string(detail)]
        if let rate { fields["rate"] = .int(rate) }
        return .object(fields)
    }

    /// How long the rest takes at ``rate``, in whole seconds: nil without a rate.
    public var secondsLeft: Int64? {
        guard let rate, rate > 0 else { return nil }
        // Within what a duration can say, whatever a stage program reported.
        return Int64(min((Double(max(total - done, 0)) / Double(rate)).rounded(.up), 1e9))
    }
}

/// A failure a stage cannot get past by retrying: discard the job now.
public struct PermanentStageFailure: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
