import Foundation
import LifelineQueue
import Testing

@Suite("Parsing user input")
struct InputTests {
    @Test("durations", arguments: [
        ("250ms", Int64(250)), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("1h30m", 5_400_000),
        ("1d", 86_400_000), ("0s", 0), ("1m500ms", 60_500), ("00000000000001s", 1000),
    ])
    func durations(_ text: String, _ ms: Int64) throws {
        #expect(try DurationText.parse(text).milliseconds == ms)
        #expect(try DurationText.parse(DurationText.format(.milliseconds(ms))).milliseconds == ms)
    }

    @Test("bad durations are refused", arguments: ["", "5", "-5s", "5x", "s", "1.5s", "5 s", "999999999999999h", "٣s"])
    func badDurations(_ text: String) {
        #expect(throws: JobInputError.self) { try DurationText.parse(text) }
    }

    @Test("a fraction in a duration is refused with the sum to write instead")
    func fractionalDuration() {
        #expect(throws: JobInputError("invalid duration '1.5h': whole numbers only; write a sum such as 1h30m or 1500ms")) { try DurationText.parse("1.5h") }
    }

    @Test("enqueue requests take the kind's defaults")
    func defaults() throws {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        let job = try registry.prepare(EnqueueRequest(kind: "sleep", args: ["ms": 5]))
        #expect(job.queue == "default" && job.priority == 5 && job.maxAttempts == 20)
        // Keys may hold any text but control characters.
        #expect(try registry.prepare(EnqueueRequest(kind: "noop", idempotencyKey: "nightly-é-\u{A0}-☃")).idempotencyKey == "nightly-é-\u{A0}-☃")
    }

    @Test("bad requests are refused with a message", arguments: [
        EnqueueRequest(kind: "nope"),
        EnqueueRequest(kind: "sleep", args: ["ms": -1]),
        EnqueueRequest(kind: "sleep", args: ["ms": "ten"]),
        EnqueueRequest(kind: "sleep", args: [:]),
        EnqueueRequest(kind: "sleep", args: [1, 2]),
        EnqueueRequest(kind: "flaky", args: ["fail_times": -2]),
        EnqueueRequest(kind: "exec", args: ["argv": []]),
        EnqueueRequest(kind: "exec", args: ["argv": [""]]),
        EnqueueRequest(kind: "exec", args: ["argv": ["ls"], "cwd": ""]),
        EnqueueRequest(kind: "noop", queue: "bad queue"),
        EnqueueRequest(kind: "noop", queue: ""),
        EnqueueRequest(kind: "noop", priority: -1),
        EnqueueRequest(kind: "noop", priority: 10),
        EnqueueRequest(kind: "noop", maxAttempts: 0),
        EnqueueRequest(kind: "noop", timeout: .zero),
        EnqueueRequest(kind: "noop", idempotencyKey: ""),
        EnqueueRequest(kind: "noop", idempotencyKey: "a\u{7}b"),
        EnqueueRequest(kind: "noop", idempotencyKey: "a\u{7F}b"),
        EnqueueRequest(kind: "noop", idempotencyKey: "a\u{85}b"),
    ])
    func refused(_ request: EnqueueRequest) {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        #expect(throws: JobInputError.self) { try registry.prepare(request) }
    }

    @Test("bad args are refused naming the field, what it must be and what it is", arguments: [
        (EnqueueRequest(kind: "sleep", args: ["ms": "ten"]), "invalid args for 'sleep': field 'ms' must be an integer, not a string"),
        (EnqueueRequest(kind: "sleep", args: ["ms": .null]), "invalid args for 'sleep': field 'ms' must be an integer, not null"),
        (EnqueueRequest(kind: "sleep", args: [:]), "invalid args for 'sleep': missing field 'ms'"),
        (EnqueueRequest(kind: "sleep", args: ["ms": .double(1.5)]),
         "invalid args for 'sleep': field 'ms': 1.5 is not a whole number"),
        (EnqueueRequest(kind: "sleep", args: ["ms": .double(1e19)]),
         "invalid args for 'sleep': field 'ms': 1e+19 is out of range (-9223372036854775808 to 9223372036854775807)"),
        (EnqueueRequest(kind: "exec", args: ["argv": "ls"]), "invalid args for 'exec': field 'argv' must be an array, not a string"),
        (EnqueueRequest(kind: "exec", args: ["argv": ["ls", 1]]), "invalid args for 'exec': field 'argv[1]' must be a string, not a number"),
        (EnqueueRequest(kind: "exec", args: ["argv": ["ls"], "env": ["A": true]]),
         "invalid args for 'exec': field 'env.A' must be a string, not true or false"),
        (EnqueueRequest(kind: "exec", args: ["argv": ["ls", .string(String(repeating: "x", count: 131_072))]]),
         "invalid args for 'exec': field 'argv[1]' is 131072 bytes; a program takes at most 131071 in one argument or variable (NAME=value); pass more in a file"),
        (EnqueueRequest(kind: "exec", args: ["argv": ["ls"], "env": ["BIG": .string(String(repeating: "x", count: 131_068))]]),
         "invalid args for 'exec': field 'env.BIG' is 131072 bytes; a program takes at most 131071 in one argument or variable (NAME=value); pass more in a file"),
    ])
    func refusedArgs(_ request: EnqueueRequest, _ message: String) {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        #expect(throws: JobInputError(message)) { try registry.prepare(request) }
    }
}
