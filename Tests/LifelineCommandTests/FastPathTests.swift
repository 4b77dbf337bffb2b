import ArgumentParser
import LifelineRecovery
import Testing

@testable import lifeline

/// Compares a fast path with swift-argument-parser over thousands of command lines generated
/// from `words` after the command's name: every line the fast path takes, the parser must
/// take and read alike. Returns how many lines the fast path took.
func fastPathAgreesWithParser<Options: Equatable, Command: ParsableCommand>(
    _ command: String, words: [String], fast: ([String]) -> Options?, parsed: (Command) -> Options
) async throws -> Int {
    var random = SplitMix64(seed: 0x5EED)
    var taken = 0
    for round in 0..<8_000 {
        // Seconds of parsing in a debug build: the tests beside this one get their turns on
        // the shared threads meanwhile.
        if round % 16 == 0 { await Task.yield() }
        let count = Int(random.next() % 7)
        let line = [command] + (0..<count).map { _ in words[Int(random.next() % UInt64(words.count))] }
        guard let options = fast(line) else { continue }
        taken += 1
        let parsedCommand = try #require(try? Lifeline.parseAsRoot(line) as? Command, "the fast path took \(line), which the parser refuses")
        #expect(options == parsed(parsedCommand), "\(line)")
    }
    return taken
}

/// The names of a value's stored properties, in order.
func propertyLabels(_ value: Any) -> [String] {
    Mirror(reflecting: value).children.compactMap(\.label)
}

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
        "--unknown", "-q", "--Queue", "---", "-=1", "--=x",
    ]

    @Test("thousands of generated command lines: what it takes, it reads as the parser does")
    func agreesWithParser() async throws {
        let taken = try await fastPathAgreesWithParser("enqueue", words: Self.words, fast: EnqueueFastPath.options) { (command: EnqueueCommand) in
            command.options
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
        let fast = try #require(EnqueueFastPath.options(line))
        let parsed = try #require(try Lifeline.parseAsRoot(line) as? EnqueueCommand)
        #expect(fast == parsed.options)
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
        #expect(EnqueueFastPath.options(line) == nil)
    }

    /// Every option of `enqueue` has its plain value, so nothing the parser reads is lost on
    /// the way to the enqueue; the fast path takes only the options it lists.
    @Test("every option of enqueue has its plain value")
    func knowsEveryProperty() throws {
        let command = try #require(try Lifeline.parseAsRoot(["enqueue", "noop"]) as? EnqueueCommand)
        #expect(propertyLabels(command).map { String($0.dropFirst()) } == propertyLabels(command.options))
        #expect(propertyLabels(command.store).map { String($0.dropFirst()) } == propertyLabels(command.options.store))
    }
}

/// The worker fast path, as the enqueue one: what it takes, it reads as the parser does.
@Suite("worker's fast path")
struct WorkerFastPathTests {
    static let words = [
        "help", "x", "", "-", "--", "-h", "--help", "--version", "--drain", "--drain=true", "--runner", "--queues", "a,b",
        "reports:3,nightly:1", "--queues=", "--queues=-q", "--concurrency", "16", "0", "1001", "-1", "+2", "--concurrency=8",
        "--processes", "4", "65", "--processes=2", "--lease", "30s", "-5s", "--lease=1m", "--grace", "0s", "--grace=",
        "--db", "/tmp/q.db", "--db=postgres://u@h/d", "--db=", "--unknown", "-q", "--Drain", "---", "-=1", "--=x",
    ]

    @Test("thousands of generated command lines: what it takes, it reads as the parser does")
    func agreesWithParser() async throws {
        let taken = try await fastPathAgreesWithParser("worker", words: Self.words, fast: WorkerFastPath.options) { (command: WorkerCommand) in
            command.options
        }
        #expect(taken > 400, "only \(taken) generated lines were taken")
    }

    @Test(
        "the command lines people write are taken",
        arguments: [
            ["worker"], ["worker", "--drain"], ["worker", "--concurrency", "16"], ["worker", "--queues", "recovery.finalize,nightly", "--processes", "2"],
            ["worker", "--queues", "reports:3,nightly:1"], ["worker", "--db", "/tmp/q.db", "--lease", "1m", "--grace", "10s", "--drain"],
            ["worker", "--drain", "--processes", "4", "--concurrency", "16"],
        ]
    )
    func common(line: [String]) throws {
        let fast = try #require(WorkerFastPath.options(line))
        let parsed = try #require(try Lifeline.parseAsRoot(line) as? WorkerCommand)
        #expect(fast == parsed.options)
    }

    @Test(
        "help, mistakes, values out of range and a pool's runner go to the parser or their own path",
        arguments: [
            ["worker", "--help"], ["worker", "-h"], ["worker", "extra"], ["worker", "--drain", "--drain"], ["worker", "--queues"],
            ["worker", "--queues", "--drain"], ["worker", "--concurrency", "0"], ["worker", "--concurrency", "many"],
            ["worker", "--processes", "65"], ["worker", "--db="], ["worker", "--", "x"], ["worker", "--runner"], ["enqueue", "noop"],
        ]
    )
    func declined(line: [String]) {
        #expect(WorkerFastPath.options(line) == nil)
    }

    @Test("every option of worker has its plain value")
    func knowsEveryProperty() throws {
        let command = try #require(try Lifeline.parseAsRoot(["worker"]) as? WorkerCommand)
        #expect(propertyLabels(command).map { String($0.dropFirst()) } == propertyLabels(command.options))
    }
}
