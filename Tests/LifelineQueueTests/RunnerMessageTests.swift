import Foundation
import Testing

@testable import LifelineQueue

@Suite("Messages between a pool's writer and its processes")
struct RunnerMessageTests {
    static let job = Job(
        id: 42, queue: "recovery.finalize", kind: "recovery.finalize", args: .object(["server": .string("r-1"), "line": .string("a\nb")]),
        state: .running, priority: 3, attempt: 2, maxAttempts: 5, timeout: .milliseconds(1500),
        backoff: Backoff(base: .milliseconds(250), cap: .seconds(60), jitter: 0.25), runAt: Date(ms: 1_700_000_000_123),
        leaseOwner: "host:1:abc", leaseExpiresAt: Date(ms: 1_700_000_030_123), heartbeatAt: Date(ms: 1_700_000_000_200),
        progress: .object(["done": .int(7)]), result: .null,
        errors: [AttemptError(attempt: 1, at: Date(ms: 1_700_000_000_000), error: "lease expired", worker: nil)],
        idempotencyKey: "k-1", server: "r-1", cancelRequested: false, createdAt: Date(ms: 1_699_999_999_999),
        attemptedAt: Date(ms: 1_700_000_000_124)
    )

    static let key = AttemptKey(id: 42, attempt: 2)

    @Test("every message reads back as written, in a frame that says its length", arguments: [
        RunnerMessage.run(job, holdUntil: Date(ms: 1_700_000_025_123), deadline: Date(ms: 1_700_000_026_456)),
        .run(Job(id: 1, queue: "default", kind: "noop", args: .object([:]), state: .running, priority: 5, attempt: 1, maxAttempts: 20,
                 timeout: .seconds(1800), backoff: .standard, runAt: Date(ms: 5), createdAt: Date(ms: 4)), holdUntil: Date(ms: 6), deadline: Date(ms: 7)),
        .stop(key),
        .hold(key, until: Date(ms: 1_700_000_055_123)),
        .progress(key, .object(["done": .int(1 << 40), "total": .double(1.5)])),
        .ended(key, .returned(.object(["ok": .bool(true)]))),
        .ended(key, .returned(nil)),
        .ended(key, .returned(.null)),
        .ended(key, .threw("exit status 3")),
        .ended(key, .threwPermanent("bad args")),
        .ended(key, .threwRetryAfter(.milliseconds(2500))),
        .ended(key, .notStarted),
        .ended(key, .pastDeadline(output: "")),
        .ended(key, .pastDeadline(output: "'copied 5 of 8 disks'")),
        .ended(key, .lost("its worker process died")),
        .ended(key, .unheld("stopped: its lease was not renewed in time")),
        .ended(key, .stopped(output: "copied 3 of 8 disks")),
        .alive,
    ])
    func roundTrip(message: RunnerMessage) throws {
        let frame = message.frame
        #expect(frame.withUnsafeBytes { FrameReader.length(in: $0, at: 0) } == frame.count - 4)
        #expect(try RunnerMessage(frame: frame[4...]) == message)
    }

    @Test("frames written one after another where they are queued read back in order, each its own length")
    func queued() throws {
        // Fields are gathered a few hundred bytes at a time: a string longer than that, and
        // one that just fits after others, are written whole too.
        let messages: [RunnerMessage] = [
            .run(Self.job, holdUntil: Date(ms: 9), deadline: Date(ms: 10)), .alive, .ended(Self.key, .threw("exit status 3")), .stop(Self.key),
            .ended(Self.key, .stopped(output: String(repeating: "é", count: 1000))),
            .progress(Self.key, .string(String(repeating: "x", count: 490))), .ended(Self.key, .threw(String(repeating: "y", count: 511))),
            // An end's text starts 26 bytes into its frame: 486 bytes fill the 512 exactly, and
            // one of 512 fills them alone.
            .ended(Self.key, .threw(String(repeating: "y", count: 486))), .ended(Self.key, .threw(String(repeating: "z", count: 512))),
        ]
        var bytes: [UInt8] = [7, 7]
        for message in messages { message.write(to: &bytes) }
        #expect(bytes.prefix(2) == [7, 7])
        var start = 2
        var read: [RunnerMessage] = []
        while start < bytes.count, let length = bytes.withUnsafeBytes({ FrameReader.length(in: $0, at: start) }) {
            read.append(try RunnerMessage(frame: bytes[start + 4..<start + 4 + length]))
            start += 4 + length
        }
        #expect(read == messages)
        #expect(start == bytes.count)
    }

    @Test("a job that has failed tens of thousands of times still reaches its runner whole")
    func manyErrors() throws {
        var job = Self.job
        job.errors = (1...20_000).map { AttemptError(attempt: $0, at: Date(ms: Int64($0)), error: "exit status 1", worker: "w") }
        let frame = RunnerMessage.run(job, holdUntil: Date(ms: 1), deadline: Date(ms: 2)).frame
        #expect(try RunnerMessage(frame: frame[4...]) == .run(job, holdUntil: Date(ms: 1), deadline: Date(ms: 2)))
    }

    @Test("an attempt that never ran goes back without spending an attempt, its lease lost too (the release is fenced), unless a user cancelled it")
    func notStarted() {
        for reason: StopReason? in [nil, .timeout, .shutdown, .leaseLost] {
            #expect(HandlerEnd.notStarted.outcome(stoppedFor: reason, timeout: .seconds(1)) == .released)
        }
        #expect(HandlerEnd.notStarted.outcome(stoppedFor: .cancelled, timeout: .seconds(1)) == .cancelled)
        #expect(HandlerEnd.lost("gone").outcome(stoppedFor: .timeout, timeout: .seconds(1)) == nil)
        // Stopped where it ran, its lease not renewed in time: it has ended, a failed attempt.
        for reason: StopReason? in [nil, .shutdown, .leaseLost] {
            #expect(HandlerEnd.unheld("x").outcome(stoppedFor: reason, timeout: .seconds(1)) == .failed(error: "x"))
        }
        #expect(HandlerEnd.unheld("x").outcome(stoppedFor: .cancelled, timeout: .seconds(1)) == .cancelled)
    }

    @Test("a program stopped at its timeout leaves what it wrote last in the error; stopped for anything else, the stop says what happens: a lease not renewed in time fails the attempt, fenced")
    func stoppedProgram() {
        let end = HandlerEnd.stopped(output: "copied 3 of 8 disks")
        #expect(end.outcome(stoppedFor: .timeout, timeout: .seconds(1)) == .failed(error: "timed out after 1s: copied 3 of 8 disks"))
        #expect(HandlerEnd.stopped(output: "").outcome(stoppedFor: .timeout, timeout: .seconds(1)) == .failed(error: "timed out after 1s"))
        #expect(end.outcome(stoppedFor: .cancelled, timeout: .seconds(1)) == .cancelled)
        #expect(end.outcome(stoppedFor: .shutdown, timeout: .seconds(1)) == .released)
        #expect(end.outcome(stoppedFor: .leaseLost, timeout: .seconds(1)) == .failed(error: "stopped: its lease was not renewed in time (its worker stopped answering)"))
        // Past its deadline by the time its lease ran out here: a timeout, as the reaper said.
        #expect(HandlerEnd.pastDeadline(output: "").outcome(stoppedFor: .leaseLost, timeout: .seconds(1)) == .failed(error: "timed out after 1s"))
    }

    @Test("an attempt stopped before its handler started ends as its stop says: a timeout spends the attempt")
    func stoppedBeforeStart() {
        let end = HandlerEnd.stoppedBeforeStart
        #expect(end.outcome(stoppedFor: .timeout, timeout: .seconds(1)) == .failed(error: "timed out after 1s"))
        #expect(end.outcome(stoppedFor: .cancelled, timeout: .seconds(1)) == .cancelled)
        #expect(end.outcome(stoppedFor: .shutdown, timeout: .seconds(1)) == .released)
        #expect(end.outcome(stoppedFor: .leaseLost, timeout: .seconds(1)) == .failed(error: "stopped: its lease was not renewed in time (its worker stopped answering)"))
    }

    @Test("a handler that returned is recorded as completed whatever stopped it: its finish is fenced, so it lands only where no other attempt took the job")
    func returnedAfterStop() {
        for reason: StopReason? in [nil, .timeout, .cancelled, .shutdown, .leaseLost] {
            #expect(HandlerEnd.returned(.int(1)).outcome(stoppedFor: reason, timeout: .seconds(1)) == .completed(result: .int(1)))
        }
        #expect(HandlerEnd.threw("killed by signal 15").outcome(stoppedFor: .leaseLost, timeout: .seconds(1)) == .failed(error: "stopped: its lease was not renewed in time (its worker stopped answering)"))
    }

    @Test("a frame that is not a message is refused, saying what is wrong")
    func malformed() throws {
        let stop = RunnerMessage.stop(Self.key).frame
        let run = RunnerMessage.run(Self.job, holdUntil: Date(ms: 2), deadline: Date(ms: 3)).frame
        let cases: [([UInt8], String)] = [
            ([], "ends inside a field"),
            ([9], "no message is tagged 9"),
            (Array(stop[4..<stop.count - 1]), "ends inside a field"),
            (Array(stop[4...]) + [0], "bytes follow the message"),
            (Array(run[4..<run.count - 3]), "ends inside a field"),
            (Array(RunnerMessage.ended(Self.key, .notStarted).frame[4...].dropLast()) + [42], "no handler end is tagged 42"),
        ]
        for (bytes, reason) in cases {
            let error = #expect(throws: FrameReader.Malformed.self) { try RunnerMessage(frame: bytes[...]) }
            #expect(error?.description.contains(reason) == true, "\(bytes): \(String(describing: error))")
        }
        #expect([UInt8]([1, 0, 0]).withUnsafeBytes { FrameReader.length(in: $0, at: 0) } == nil)
    }
}

extension RunnerMessage {
    /// The message as a frame of its own, its length first.
    var frame: [UInt8] {
        var bytes: [UInt8] = []
        write(to: &bytes)
        return bytes
    }

    /// Reads a message from a frame's bytes (after its length).
    init(frame: ArraySlice<UInt8>) throws(FrameReader.Malformed) {
        self = try Array(frame).withUnsafeBytes { raw in Result { () throws(FrameReader.Malformed) in try RunnerMessage(frame: raw) } }.get()
    }
}
