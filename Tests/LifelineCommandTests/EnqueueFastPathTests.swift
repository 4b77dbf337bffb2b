import ArgumentParser
import LifelineRecovery
import Testing

@testable import lifeline

/// The enqueue fast path must read every command line it takes exactly as
/// swift-argument-parser does, and leave everything else to it.
@Suite("enqueue's fast path")
struct EnqueueFastPathTests {
    /// Words a command line is built from: every option, good and bad values, values that
    /// look like options, help, the end of options, and words the parser treats specially.
    static let words = [
        "noop", "sleep", "help", "x y", "", "-", "--", "-h", "--help", "--version", "--json", "--json=true",
        "--args", "{\"ms\": 1}", "--args={\"a\": \"b=c\"}", "--args-file", "args.json", "--queue", "q", "--queue=",
        "--queue=-q", "--priority", "3", "-1", "+2", "x", "--priority=7", "--delay", "5s", "-5s", "--at",
        "2026-01-01T00:00:00Z", "--max-attempts", "2", "--max-attempts=", "--timeout", "1s", "--backoff",
        "--idempotency-key", "k", "--batch", "jobs.jsonl", "--db", "/tmp/q.db", "--db=postgres://u@h/d",
        "--unknown", "-q", "--Queue",
    ]

    @Test("thousands of generated command lines: what it takes, it reads as the parser does")
    func agreesWithParser() throws {
        var random = SplitMix64(seed: 0x5EED)
        var taken = 0
        for _ in 0..<8_000 {
            let count = Int(random.next() % 7)
            let line = ["enqueue"] + (0..<count).map { _ in Self.words[Int(random.next() % UInt64(Self.words.count))] }
            guard let fast = EnqueueFastPath.command(line) else { continue }
            taken += 1
            let parsed = try #require(
                try? Lifeline.parseAsRoot(line) as? EnqueueCommand,
                "the fast path took \(line), which the parser refuses"
            )
            #expect(Self.fields(fast) == Self.fields(parsed), "\(line)")
        }
        // The generator must reach the path often, or the comparison proves little.
        #expect(taken > 400, "only \(taken) generated lines were taken")
    }

    @Test(
        "the command lines people write are taken",
        arguments: [
            ["enqueue", "noop"],
            ["enqueue", "sleep", "--args", "{\"ms\": 500}", "--queue", "slow", "--json"],
            ["enqueue", "exec", "--args={\"argv\": [\"echo\"]}", "--idempotency-key", "hi", "--priority", "0"],
            ["enqueue", "--db", "/tmp/q.db", "noop", "--timeout", "30s", "--max-attempts", "3", "--backoff", "1s"],
            ["enqueue", "noop", "--batch", "jobs.jsonl"],
            ["enqueue", "noop", "--delay", "5m"],
        ]
    )
    func common(line: [String]) throws {
        let fast = try #require(EnqueueFastPath.command(line))
        let parsed = try #require(try Lifeline.parseAsRoot(line) as? EnqueueCommand)
        #expect(Self.fields(fast) == Self.fields(parsed))
    }

    @Test(
        "help, mistakes and conflicts go to the parser",
        arguments: [
            ["enqueue"], ["enqueue", "--help"], ["enqueue", "noop", "-h"], ["enqueue", "noop", "extra"],
            ["enqueue", "noop", "--queue"], ["enqueue", "noop", "--queue", "--json"], ["enqueue", "noop", "--queue="],
            ["enqueue", "noop", "--json", "--json"], ["enqueue", "noop", "--queue", "a", "--queue", "b"],
            ["enqueue", "noop", "--priority", "high"], ["enqueue", "noop", "--args", "{}", "--args-file", "f"],
            ["enqueue", "noop", "--delay", "1s", "--at", "2026-01-01T00:00:00Z"], ["enqueue", "noop", "--batch", "b", "--args", "{}"],
            ["enqueue", "noop", "--", "x"], ["worker", "--drain"], ["--version"],
        ]
    )
    func declined(line: [String]) {
        #expect(EnqueueFastPath.command(line) == nil)
    }

    /// The fast path fills every property of the command, or reading the one it missed traps;
    /// a property added to `enqueue` must be listed in `EnqueueFastPath.options` and in
    /// `fields(_:)` before this passes.
    @Test("the fast path and this suite know every property of enqueue")
    func knowsEveryProperty() {
        let properties = Mirror(reflecting: EnqueueCommand()).children.compactMap(\.label)
        #expect(properties == [
            "_kind", "_args", "_argsFile", "_queue", "_priority", "_delay", "_at", "_maxAttempts", "_timeout", "_backoff",
            "_idempotencyKey", "_batch", "_json", "_store",
        ])
        #expect(Mirror(reflecting: StoreOptions()).children.compactMap(\.label) == ["_db"])
    }

    static func fields(_ command: EnqueueCommand) -> [String?] {
        [
            command.kind, command.args, command.argsFile, command.queue, command.priority.map(String.init), command.delay,
            command.at, command.maxAttempts.map(String.init), command.timeout, command.backoff, command.idempotencyKey,
            command.batch, String(command.json), command.store.db,
        ]
    }
}
