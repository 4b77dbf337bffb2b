import Foundation

/// How every store inserts a job: the same state, times and event, whatever the SQL.
extension NewJob {
    /// When the job may first run (never before `now`), and the state it starts in.
    public func start(now: Date) -> (runAt: Date, state: JobState) {
        let runAt = Date(ms: max(self.runAt?.ms ?? now.ms + (delay?.milliseconds ?? 0), now.ms))
        return (runAt, runAt > now ? .scheduled : .available)
    }

    /// The row as inserted, built rather than read back: durations in whole milliseconds and
    /// canonical args, as stored.
    public func inserted(id: Int64, now: Date) throws -> Job {
        let (runAt, state) = start(now: now)
        return Job(
            id: id, queue: queue, kind: kind, args: try JSONValue(parsing: args.canonicalText), state: state, priority: priority,
            attempt: 0, maxAttempts: maxAttempts, timeout: .milliseconds(timeout.milliseconds),
            backoff: Backoff(base: .milliseconds(backoff.base.milliseconds), cap: .milliseconds(backoff.cap.milliseconds), jitter: backoff.jitter),
            runAt: runAt, idempotencyKey: idempotencyKey, server: server, createdAt: Date(ms: now.ms)
        )
    }

    /// The `enqueued` event's data, as canonical text: written field by field, as the
    /// `started` event's is, since a dictionary would be made for every job enqueued.
    public func enqueuedEventData(state: JobState) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + kind.utf8.count + queue.utf8.count)
        bytes.append(contentsOf: #"{"kind":"#.utf8)
        JSONValue.writeString(kind, to: &bytes)
        bytes.append(contentsOf: #","queue":"#.utf8)
        JSONValue.writeString(queue, to: &bytes)
        bytes.append(contentsOf: #","state":"#.utf8)
        JSONValue.writeString(state.rawValue, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The answer when this job's idempotency key is taken by `existing`: the existing job
    /// when kind and args match, else ``JobStoreError/idempotencyConflict(key:existing:)``.
    public func answer(existing: Job) throws -> InsertedJob {
        guard existing.kind == kind, existing.args.isSameText(as: args) else {
            throw JobStoreError.idempotencyConflict(key: idempotencyKey ?? "", existing: existing.id)
        }
        return InsertedJob(job: existing, existing: true)
    }
}

extension JobEvent {
    /// The `started` events' data, as canonical text, for the attempts of one claim; the kind
    /// lets a reader of the log time attempts by kind without reading each job. What follows
    /// the attempt number is the same for every job of a kind in a claim, so it is written
    /// once per kind.
    public struct StartedData {
        private let worker: String
        /// `,"kind":…,"worker":…}` by kind, in the order first seen.
        private var tails: [(kind: String, bytes: [UInt8])] = []

        public init(worker: String) {
            self.worker = worker
        }

        public mutating func text(attempt: Int, kind: String) -> String {
            // The keys, in order, are written as they are. Kinds are compared byte for byte:
            // `==` would take a kind written in another Unicode normal form for the same.
            let tail = tails.first { $0.kind.utf8.elementsEqual(kind.utf8) }?.bytes ?? addTail(kind)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(32 + tail.count)
            bytes.append(contentsOf: #"{"attempt":"#.utf8)
            JSONValue.writeInteger(Int64(attempt), to: &bytes)
            bytes.append(contentsOf: tail)
            return String(decoding: bytes, as: UTF8.self)
        }

        private mutating func addTail(_ kind: String) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.append(contentsOf: #","kind":"#.utf8)
            JSONValue.writeString(kind, to: &bytes)
            bytes.append(contentsOf: #","worker":"#.utf8)
            JSONValue.writeString(worker, to: &bytes)
            bytes.append(UInt8(ascii: "}"))
            tails.append((kind, bytes))
            return bytes
        }
    }
}
