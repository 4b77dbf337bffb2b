import Foundation

/// What a pool's writer and its runner processes say to each other: one frame each on the
/// socket between them.
enum RunnerMessage: Sendable, Hashable {
    /// Writer → runner: run this attempt; it may run until `holdUntil` unless held longer.
    case run(Job, holdUntil: Date, deadline: Date)
    /// Writer → runner: stop this attempt (it timed out, was cancelled, lost its lease or
    /// the pool is shutting down; the writer knows which).
    case stop(AttemptKey)
    /// Writer → runner: the attempt's lease was renewed; it may run until `until`.
    case hold(AttemptKey, until: Date)
    /// Runner → writer: the attempt's handler reported a checkpoint.
    case progress(AttemptKey, JSONValue)
    /// Runner → writer: the attempt's handler ended.
    case ended(AttemptKey, HandlerEnd)
    /// Runner → writer: holds were read. A runner that stops answering them (stopped, wedged)
    /// holds its attempts' leases for as long as the pool renews them, so the pool kills it.
    case alive

    // Each message is one frame (see ``FrameWriter``): a tag, then its fields in order.
    private enum Tag: UInt8 {
        case run, stop, progress, ended, hold, alive
    }

    private enum EndTag: UInt8 {
        case returned, returnedNothing, threw, threwPermanent, threwRetryAfter, notStarted, lost, pastDeadline, stopped, unheld
    }

    /// Appends the message to `bytes` as one frame, its length first.
    func write(to bytes: inout [UInt8]) {
        FrameWriter.append(to: &bytes) { writer in
            write(to: &writer)
        }
    }

    /// Appends `.run(job, holdUntil:)` to `bytes`, as ``write(to:)`` would.
    static func writeRun(_ job: Job, holdUntil: Date, deadline: Date, to bytes: inout [UInt8]) {
        FrameWriter.append(to: &bytes) { writer in
            writeRun(job, holdUntil: holdUntil, deadline: deadline, to: &writer)
        }
    }

    private static func writeRun(_ job: Job, holdUntil: Date, deadline: Date, to writer: inout FrameWriter) {
        writer.byte(Tag.run.rawValue)
        write(job, to: &writer)
        writer.int(holdUntil.ms)
        writer.int(deadline.ms)
    }

    private func write(to writer: inout FrameWriter) {
        switch self {
        case .run(let job, let holdUntil, let deadline):
            Self.writeRun(job, holdUntil: holdUntil, deadline: deadline, to: &writer)
        case .hold(let key, let until):
            writer.byte(Tag.hold.rawValue)
            Self.write(key, to: &writer)
            writer.int(until.ms)
        case .stop(let key):
            writer.byte(Tag.stop.rawValue)
            Self.write(key, to: &writer)
        case .progress(let key, let value):
            writer.byte(Tag.progress.rawValue)
            Self.write(key, to: &writer)
            writer.json(value)
        case .ended(let key, let end):
            writer.byte(Tag.ended.rawValue)
            Self.write(key, to: &writer)
            Self.write(end, to: &writer)
        case .alive:
            writer.byte(Tag.alive.rawValue)
        }
    }

    /// Reads a message from a frame's bytes (after its length).
    init(frame: UnsafeRawBufferPointer) throws(FrameReader.Malformed) {
        var reader = FrameReader(frame)
        let tag = try reader.byte()
        switch Tag(rawValue: tag) {
        case .run: self = .run(try Self.readJob(&reader), holdUntil: Date(ms: try reader.int()), deadline: Date(ms: try reader.int()))
        case .hold: self = .hold(try Self.readKey(&reader), until: Date(ms: try reader.int()))
        case .stop: self = .stop(try Self.readKey(&reader))
        case .progress: self = .progress(try Self.readKey(&reader), try reader.json())
        case .ended: self = .ended(try Self.readKey(&reader), try Self.readEnd(&reader))
        case .alive: self = .alive
        case nil: throw FrameReader.Malformed(reason: "no message is tagged \(tag)")
        }
        guard reader.isAtEnd else { throw FrameReader.Malformed(reason: "bytes follow the message") }
    }

    private static func write(_ key: AttemptKey, to writer: inout FrameWriter) {
        writer.int(key.id)
        writer.int(Int64(key.attempt))
    }

    private static func readKey(_ reader: inout FrameReader) throws(FrameReader.Malformed) -> AttemptKey {
        AttemptKey(id: try reader.int(), attempt: Int(try reader.int()))
    }

    private static func write(_ end: HandlerEnd, to writer: inout FrameWriter) {
        switch end {
        case .returned(let value?):
            writer.byte(EndTag.returned.rawValue)
            writer.json(value)
        case .returned(nil): writer.byte(EndTag.returnedNothing.rawValue)
        case .threw(let message):
            writer.byte(EndTag.threw.rawValue)
            writer.string(message)
        case .threwPermanent(let message):
            writer.byte(EndTag.threwPermanent.rawValue)
            writer.string(message)
        case .threwRetryAfter(let delay):
            writer.byte(EndTag.threwRetryAfter.rawValue)
            writer.int(delay.milliseconds)
        case .notStarted: writer.byte(EndTag.notStarted.rawValue)
        case .pastDeadline(let output):
            writer.byte(EndTag.pastDeadline.rawValue)
            writer.string(output)
        case .lost(let why):
            writer.byte(EndTag.lost.rawValue)
            writer.string(why)
        case .stopped(let output):
            writer.byte(EndTag.stopped.rawValue)
            writer.string(output)
        case .unheld(let why):
            writer.byte(EndTag.unheld.rawValue)
            writer.string(why)
        }
    }

    private static func readEnd(_ reader: inout FrameReader) throws(FrameReader.Malformed) -> HandlerEnd {
        let tag = try reader.byte()
        switch EndTag(rawValue: tag) {
        case .returned: return .returned(try reader.json())
        case .returnedNothing: return .returned(nil)
        case .threw: return .threw(try reader.string())
        case .threwPermanent: return .threwPermanent(try reader.string())
        case .threwRetryAfter: return .threwRetryAfter(.milliseconds(try reader.int()))
        case .notStarted: return .notStarted
        case .pastDeadline: return .pastDeadline(output: try reader.string())
        case .lost: return .lost(try reader.string())
        case .stopped: return .stopped(output: try reader.string())
        case .unheld: return .unheld(try reader.string())
        case nil: throw FrameReader.Malformed(reason: "no handler end is tagged \(tag)")
        }
    }

    /// A job's state goes by its place in this list: its name would be read back by comparing
    /// strings, for every attempt.
    private static let states = JobState.allCases

    /// The whole row as claimed: a handler in a runner sees the same `Job` as one in the
    /// writer's process would.
    private static func write(_ job: Job, to writer: inout FrameWriter) {
        writer.int(job.id)
        writer.string(job.queue)
        writer.string(job.kind)
        writer.json(job.args)
        writer.byte(UInt8(Self.states.firstIndex(of: job.state)!))
        writer.int(Int64(job.priority))
        writer.int(Int64(job.attempt))
        writer.int(Int64(job.maxAttempts))
        writer.int(job.timeout.milliseconds)
        writer.int(job.backoff.base.milliseconds)
        writer.int(job.backoff.cap.milliseconds)
        writer.double(job.backoff.jitter)
        writer.int(job.runAt.ms)
        writer.optional(job.leaseOwner) { $0.string($1) }
        writer.optional(job.leaseExpiresAt) { $0.int($1.ms) }
        writer.optional(job.heartbeatAt) { $0.int($1.ms) }
        writer.optional(job.progress) { $0.json($1) }
        writer.optional(job.result) { $0.json($1) }
        writer.int(Int64(job.errors.count))
        for error in job.errors {
            writer.int(Int64(error.attempt))
            writer.int(error.at.ms)
            writer.string(error.error)
            writer.optional(error.worker) { $0.string($1) }
        }
        writer.optional(job.idempotencyKey) { $0.string($1) }
        writer.optional(job.server) { $0.string($1) }
        writer.bool(job.cancelRequested)
        writer.int(job.createdAt.ms)
        writer.optional(job.attemptedAt) { $0.int($1.ms) }
        writer.optional(job.finishedAt) { $0.int($1.ms) }
    }

    private static func readJob(_ reader: inout FrameReader) throws(FrameReader.Malformed) -> Job {
        let id = try reader.int()
        let queue = try reader.string()
        let kind = try reader.string()
        let args = try reader.json()
        let stateCode = Int(try reader.byte())
        guard stateCode < Self.states.count else { throw FrameReader.Malformed(reason: "no job state is numbered \(stateCode)") }
        let state = Self.states[stateCode]
        let priority = Int(try reader.int())
        let attempt = Int(try reader.int())
        let maxAttempts = Int(try reader.int())
        let timeout = Duration.milliseconds(try reader.int())
        let backoff = Backoff(base: .milliseconds(try reader.int()), cap: .milliseconds(try reader.int()), jitter: try reader.double())
        let runAt = Date(ms: try reader.int())
        let leaseOwner = try reader.present() ? try reader.string() : nil
        let leaseExpiresAt = try reader.present() ? Date(ms: try reader.int()) : nil
        let heartbeatAt = try reader.present() ? Date(ms: try reader.int()) : nil
        let progress = try reader.present() ? try reader.json() : nil
        let result = try reader.present() ? try reader.json() : nil
        let errorCount = try reader.int()
        // No upper bound: a frame that says more than it holds ends inside a field.
        guard errorCount >= 0 else { throw FrameReader.Malformed(reason: "\(errorCount) errors") }
        var errors: [AttemptError] = []
        for _ in 0..<errorCount {
            errors.append(AttemptError(
                attempt: Int(try reader.int()), at: Date(ms: try reader.int()), error: try reader.string(),
                worker: try reader.present() ? try reader.string() : nil
            ))
        }
        let idempotencyKey = try reader.present() ? try reader.string() : nil
        let server = try reader.present() ? try reader.string() : nil
        let cancelRequested = try reader.bool()
        let createdAt = Date(ms: try reader.int())
        let attemptedAt = try reader.present() ? Date(ms: try reader.int()) : nil
        let finishedAt = try reader.present() ? Date(ms: try reader.int()) : nil
        return Job(
            id: id, queue: queue, kind: kind, args: args, state: state, priority: priority, attempt: attempt, maxAttempts: maxAttempts,
            timeout: timeout, backoff: backoff, runAt: runAt, leaseOwner: leaseOwner, leaseExpiresAt: leaseExpiresAt,
            heartbeatAt: heartbeatAt, progress: progress, result: result, errors: errors, idempotencyKey: idempotencyKey,
            server: server, cancelRequested: cancelRequested, createdAt: createdAt, attemptedAt: attemptedAt, finishedAt: finishedAt
        )
    }
}
