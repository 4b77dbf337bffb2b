import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("lifeline enqueue")
struct EnqueueCLITests {
    @Test("enqueue prints the job; --json has the contract's fields")
    func enqueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(["enqueue", "sleep", "--args", #"{"ms": 5}"#, "--queue", "slow", "--priority", "1"])
        #expect(result.status == 0 && result.stdout.contains("enqueued job 1"))
        let job = try await cli.json(["enqueue", "noop", "--max-attempts", "3", "--json"])[0]
        for field in ["id", "queue", "kind", "state", "attempt", "max_attempts", "priority", "args", "idempotency_key", "server",
                      "run_at", "created_at", "finished_at", "errors", "progress", "result"] {
            #expect(job[field] != nil, "missing \(field)")
        }
        #expect(job["max_attempts"] == 3 && job["state"] == "available" && job["existing"] == false)
        let first = try await cli.job(1)
        #expect(first["queue"] == "slow" && first["priority"] == 1 && first["args"] == ["ms": 5])
    }

    @Test("the database home is created owner-only")
    func permissions() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let attributes = try FileManager.default.attributesOfItem(atPath: cli.home.path)
        #expect(attributes[.posixPermissions] as? Int == 0o700)
        let db = try FileManager.default.attributesOfItem(atPath: cli.home.appendingPathComponent("lifeline.db").path)
        #expect(db[.posixPermissions] as? Int == 0o600)
    }

    @Test("each enqueue closes the database before it exits: its WAL file is left empty")
    func closesDatabase() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // The last line goes to the parser, not the fast path.
        for line in [["noop"], ["noop", "--json"], ["--json", "--", "noop"]] {
            #expect(try await cli.run(["enqueue"] + line).status == 0, "\(line)")
        }
        let wal = try FileManager.default.attributesOfItem(atPath: cli.home.appendingPathComponent("lifeline.db-wal").path)
        #expect(wal[.size] as? Int == 0)
        #expect(try await cli.jobCount() == 3)
    }

    @Test("--delay schedules the job")
    func delay() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop", "--delay", "1h"])
        #expect(try await cli.job(id)["state"] == "scheduled")
        let leapDay = try await cli.enqueue(["noop", "--at", "2032-02-29T23:59:59.999+01:00"])
        #expect(try await cli.job(leapDay)["run_at"] == "2032-02-29T22:59:59.999Z", "a real day, in another zone")
        let at = try await cli.enqueue(["noop", "--at", "2999-01-01T00:00:00Z"])
        #expect(try await cli.job(at)["run_at"] == "2999-01-01T00:00:00.000Z")
        let lowercase = try await cli.enqueue(["noop", "--at", "2030-01-01t00:00:00z"])
        #expect(try await cli.job(lowercase)["run_at"] == "2030-01-01T00:00:00.000Z", "RFC 3339 allows 't' and 'z'")
    }

    @Test("an idempotency key returns the existing job; other args are a conflict (exit 3)")
    func idempotency() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.json(["enqueue", "sleep", "--args", #"{"ms": 1}"#, "--idempotency-key", "k", "--json"])[0]
        let again = try await cli.json(["enqueue", "sleep", "--args", #"{ "ms" : 1 }"#, "--idempotency-key", "k", "--json"])[0]
        #expect(again["id"] == first["id"] && again["existing"] == true)
        // Asked for on another queue, the key's job is named as it is, on its own queue.
        let elsewhere = try await cli.run(["enqueue", "sleep", "--args", #"{"ms": 1}"#, "--idempotency-key", "k", "--queue", "other", "--priority", "0", "--timeout", "1800s"])
        #expect(elsewhere.status == 0 && elsewhere.stdout == "job \(first["id"]?.intValue ?? 0) (sleep on default, available) already exists under key 'k'\n", "\(elsewhere.stdout)")
        // What it was asked for and does not have is said; what it has (the default 30m timeout) is not.
        #expect(elsewhere.stderr == "lifeline: job \(first["id"]?.intValue ?? 0) keeps the settings it was enqueued with; not applied: --queue other, --priority 0 (a key compares only kind and args)\n", "\(elsewhere.stderr)")
        #expect(try await cli.run(["enqueue", "sleep", "--args", #"{"ms": 1}"#, "--idempotency-key", "k"]).stderr.isEmpty)
        // A key whose job was cancelled says what runs it again.
        let id = first["id"]?.intValue ?? 0
        #expect(try await cli.run(["jobs", "cancel", "\(id)"]).status == 0)
        let cancelled = try await cli.run(["enqueue", "sleep", "--args", #"{"ms": 1}"#, "--idempotency-key", "k"])
        #expect(cancelled.stdout == "job \(id) (sleep on default, cancelled) already exists under key 'k'; lifeline jobs retry \(id) runs it again\n", "\(cancelled.stdout)")
        let conflict = try await cli.run(["enqueue", "sleep", "--args", #"{"ms": 2}"#, "--idempotency-key", "k"])
        #expect(conflict.status == 3 && conflict.stderr.contains("idempotency key"))
        let otherKind = try await cli.run(["enqueue", "noop", "--idempotency-key", "k"])
        #expect(otherKind.status == 3)
        // In a batch, the conflict names its line; nothing of the batch is written.
        let batch = try cli.writeFile("batch.jsonl", #"{"args": {"ms": 1}, "idempotency_key": "new"}"# + "\n\n" + #"{"args": {"ms": 3}, "idempotency_key": "k"}"# + "\n")
        let inBatch = try await cli.run(["enqueue", "sleep", "--batch", batch])
        #expect(inBatch.status == 3 && inBatch.stderr == "lifeline: --batch line 3: idempotency key 'k' belongs to job \(first["id"]?.intValue ?? 0) with another kind or args\n", "\(inBatch.stderr)")
        // A key on two lines of a batch with other args: the later line, and the earlier one.
        let twice = try cli.writeFile("twice.jsonl", [1, 1, 2].map { #"{"args": {"ms": \#($0)}, "idempotency_key": "t"}"# }.joined(separator: "\n"))
        let inFile = try await cli.run(["enqueue", "sleep", "--batch", twice])
        #expect(inFile.status == 3 && inFile.stderr == "lifeline: --batch line 3: idempotency key 't' is on line 1 with another kind or args\n", "\(inFile.stderr)")
        // A queue every line inherits is the flag's fault.
        let owned = try await cli.run(["enqueue", "sleep", "--batch", twice, "--queue", "recovery.vm"])
        #expect(owned.status == 64 && owned.stderr.hasPrefix("lifeline: queue 'recovery.vm' is kept for the jobs of"), "\(owned.stderr)")
        #expect(try await cli.jobCount() == 1)
        // A batch that meets a key's job with the same args names it beside the new ones.
        let repeated = try cli.writeFile("again.jsonl", #"{"args": {"ms": 1}, "idempotency_key": "k"}"# + "\n" + #"{"args": {"ms": 2}}"# + "\n")
        let named = try await cli.run(["enqueue", "sleep", "--batch", repeated])
        #expect(named.status == 0 && named.stdout.hasPrefix("enqueued 1 job: ") && named.stdout.hasSuffix(" (1 already existed: \(first["id"]?.intValue ?? 0))\n"), "\(named)")
    }

    @Test("under an idempotency key, args that are one text in two Unicode spellings are other args: the programs given them see two names")
    func unicodeSpellings() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let composed = #"{"argv": ["touch", "caf\u00e9"]}"#, decomposed = #"{"argv": ["touch", "cafe\u0301"]}"#
        #expect(try await cli.run(["enqueue", "exec", "--args", composed, "--idempotency-key", "u"]).status == 0)
        let other = try await cli.run(["enqueue", "exec", "--args", decomposed, "--idempotency-key", "u"])
        #expect(other.status == 3 && other.stderr.contains("with another kind or args"), "\(other)")
        // In one batch, the second line is named.
        let lines = [composed, decomposed].map { #"{"args": \#($0), "idempotency_key": "b"}"# }.joined(separator: "\n")
        let batch = try await cli.run(["enqueue", "exec", "--batch", try cli.writeFile("spellings.jsonl", lines)])
        #expect(batch.status == 3 && batch.stderr == "lifeline: --batch line 2: idempotency key 'b' is on line 1 with another kind or args\n", "\(batch)")
        #expect(try await cli.jobCount() == 1)
    }

    @Test("concurrent duplicate enqueues from several processes make one job")
    func concurrentDuplicates() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let processes = try (0..<8).map { _ in try cli.start(["enqueue", "noop", "--idempotency-key", "same", "--json"]) }
        for process in processes { #expect(try await process.waitForExit() == 0) }
        #expect(try await cli.jobCount() == 2)
    }

    @Test("processes racing to create a new queue all end up in the same database")
    func concurrentCreation() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let processes = try (0..<6).map { _ in try cli.start(["enqueue", "noop"]) }
        for process in processes {
            let status = try await process.waitForExit()
            #expect(status == 0, "\(process.stderr)")
        }
        #expect(try await cli.jobCount() == 6)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cli.home.path).filter { $0.contains("creating") }
        #expect(leftovers.isEmpty)
    }

    static let badInputs: [[String]] = [
        ["enqueue", "noop", "--args", "{broken"],
        ["enqueue", "noop", "--args", "[1, 2]"],
        ["enqueue", "nope"],
        ["enqueue", "sleep", "--args", #"{"ms": -5}"#],
        ["enqueue", "sleep", "--args", #"{"ms": "soon"}"#],
        ["enqueue", "sleep", "--args", #"{"ms": 5, "msx": 3}"#],
        ["enqueue", "sleep", "--args", #"{"ms": 5, "ms": 7}"#],
        ["enqueue", "exec", "--args", #"{"argv": ["true"], "envv": {"A": "1"}}"#],
        ["enqueue", "noop", "--priority", "-1"],
        ["enqueue", "noop", "--priority", "12"],
        ["enqueue", "noop", "--max-attempts", "-3"],
        ["enqueue", "noop", "--max-attempts", "0"],
        ["enqueue", "noop", "--timeout", "5x"],
        ["enqueue", "noop", "--timeout", "-5s"],
        ["enqueue", "noop", "--backoff", "forever"],
        ["enqueue", "noop", "--delay", "1.5s"],
        ["enqueue", "noop", "--at", "tomorrow"],
        ["enqueue", "noop", "--at", "99999-01-01T00:00:00Z"],
        ["enqueue", "noop", "--at", "2030-02-30T00:00:00Z"],
        ["enqueue", "noop", "--at", "2031-02-29T00:00:00Z"],
        ["enqueue", "noop", "--at", "2030-04-31T00:00:00Z"],
        ["enqueue", "noop", "--at", "2030-01-01T24:00:00Z"],
        ["enqueue", "noop", "--at", "2030-01-01T00:60:00Z"],
        ["enqueue", "noop", "--at", "2030-01-01T00:00:60.5Z"],
        ["enqueue", "noop", "--queue", "no spaces"],
        ["enqueue", "noop", "--args-file", "/no/such/file"],
        ["enqueue", "noop", "--delay", "1s", "--at", "2030-01-01T00:00:00Z"],
        ["enqueue", "noop", "--bogus-flag"],
        ["enqueue"],
    ]

    @Test("bad input exits 64 with one line and writes nothing", arguments: badInputs)
    func badInput(_ arguments: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let result = try await cli.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try await cli.jobCount() == 1)
    }

    @Test("a batch is enqueued in one transaction")
    func batch() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let lines = (0..<500).map { #"{"args": {"ms": \#($0)}, "idempotency_key": "b\#($0)", "priority": \#($0 % 10)}"# }
            + [#"{"kind": "noop", "queue": "other", "delay": "1h", "max_attempts": 2, "timeout": "5s", "backoff": "1s", "idempotency_key": null}"#]
        let path = try cli.writeFile("jobs.jsonl", lines.joined(separator: "\n") + "\n")
        let summary = try await cli.json(["enqueue", "sleep", "--batch", path, "--json"])[0]
        #expect(summary["enqueued"] == 501 && summary["existing"] == 0)
        let ids = (summary["ids"]?.arrayValue ?? []).compactMap(\.intValue)
        #expect(ids == Array(1...501), "each line's job, in order")
        #expect(try await cli.job(ids[7])["args"] == ["ms": 7])
        #expect(try await cli.jobCount() == 501)
        let again = try await cli.json(["enqueue", "sleep", "--batch", path, "--json"])[0]
        #expect(again["existing"] == 500)
        let againIDs = (again["ids"]?.arrayValue ?? []).compactMap(\.intValue)
        #expect(againIDs.prefix(500) == ArraySlice(1...500), "a key already taken names its job")
        #expect(againIDs.count == 501 && againIDs[500] > 501, "the line without a key is a new job")
    }

    @Test("--batch - and --args-file - read standard input")
    func standardInput() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let lines = try cli.writeFile("jobs.jsonl", #"{"args": {"ms": 1}}"# + "\n" + #"{"args": {"ms": 2}, "queue": "q"}"# + "\n")
        let batch = try await cli.run(["enqueue", "sleep", "--batch", "-", "--json"], input: lines)
        #expect(batch.status == 0, "\(batch.stderr)")
        #expect(try JSONValue(parsing: batch.stdout)["ids"] == [1, 2])
        #expect(try await cli.job(2)["args"] == ["ms": 2])
        let args = try cli.writeFile("args.json", #"{"ms": 3}"#)
        let one = try await cli.run(["enqueue", "sleep", "--args-file", "-", "--json"], input: args)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(try await cli.job(3)["args"] == ["ms": 3])
        // Nothing on standard input is no jobs, said as for an empty file.
        let empty = try await cli.run(["enqueue", "sleep", "--batch", "-"])
        #expect(empty.status == 64 && empty.stderr == "lifeline: --batch: standard input has no jobs\n", "\(empty.stderr)")
        // A named pipe (as a shell's <(…) gives) is read as a stream; what cannot be read says why.
        let fifo = cli.home.appendingPathComponent("jobs.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let piped = try cli.start(["enqueue", "sleep", "--batch", fifo, "--json"])
        try Data(#"{"args": {"ms": 4}}"#.utf8 + [10]).write(to: URL(fileURLWithPath: fifo))
        #expect(try await piped.waitForExit() == 0, "\(piped.stderr)")
        for (path, reason) in [(cli.home.path, "is a directory"), (cli.home.appendingPathComponent("none").path, "no such file or directory")] {
            let refused = try await cli.run(["enqueue", "sleep", "--batch", path])
            #expect(refused.status == 64 && refused.stderr == "lifeline: --batch: cannot read '\(path)': \(reason)\n", "\(refused.stderr)")
        }
    }

    static let badBatches: [String] = [
        #"{"args": {"ms": 1}}\#n{broken\#n"#,
        #"{"args": {"ms": 1}}\#n{"args": {"ms": -1}}\#n"#,
        #"{"args": {"ms": 1}}\#n{"kind": "nope"}\#n"#,
        #"{"args": {"ms": 1}}\#n{"args": {"ms": 1}, "delay": "soon"}\#n"#,
        #"{"args": {"ms": 1}}\#n{"args": {"ms": 1}, "colour": "red"}\#n"#,
        #"{"args": {"ms": 1}}\#n{"args": {"ms": 1, "colour": "red"}}\#n"#,
        #"{"args": {"ms": 1}}\#n{"args": {"ms": 1}, "args": {"ms": 2}}\#n"#,
        #"{"args": {"ms": 1}}\#n[1]\#n"#,
        #"{"args": {"ms": 1}, "idempotency_key": "x"}\#n{"args": {"ms": 2}, "idempotency_key": "x"}\#n"#,
        "\n\n",
    ]

    @Test("a broken batch line fails the whole batch", arguments: badBatches)
    func badBatch(_ contents: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let path = try cli.writeFile("bad.jsonl", contents)
        let result = try await cli.run(["enqueue", "sleep", "--batch", path])
        #expect(result.status == 64 || result.status == 3)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(try await cli.jobCount() == 1)
    }

    @Test("a batch saved with a byte-order mark, or a job laid out over several lines, is told what to change")
    func batchLayout() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marked = try cli.writeFile("marked.jsonl", "\u{FEFF}{}\n")
        let bom = try await cli.run(["enqueue", "noop", "--batch", marked])
        #expect(bom.status == 64 && bom.stderr == "lifeline: --batch line 1: the file starts with a byte-order mark (EF BB BF); save it as UTF-8 without one\n", "\(bom)")
        let pretty = try cli.writeFile("pretty.jsonl", "{\n  \"args\": {}\n}\n")
        let spread = try await cli.run(["enqueue", "noop", "--batch", pretty])
        #expect(spread.status == 64 && spread.stderr.hasPrefix("lifeline: --batch line 1, column 2: invalid JSON: "), "\(spread)")
        #expect(spread.stderr.hasSuffix("found the end of the text (each job is one JSON object on a line of its own)\n"), "\(spread)")
        #expect(!FileManager.default.fileExists(atPath: cli.home.path))
    }

    @Test("a batch's own options are blamed on themselves, not on its first line; its line names its jobs")
    func batchOptions() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let path = try cli.writeFile("jobs.jsonl", #"{"args": {"ms": 1}}"# + "\n" + #"{"args": {"ms": 2}, "priority": 3}"# + "\n")
        let cases: [([String], String)] = [
            (["nope"], "unknown job kind 'nope' (known: exec, flaky, noop, sleep); did you mean 'noop'?"),
            (["sleep", "--priority", "11"], "priority 11 is out of range: use 0 to 9 (0 runs first)"),
            (["sleep", "--max-attempts", "0"], "max attempts 0 is out of range: use 1 to 1000000"),
            (["sleep", "--timeout", "8d"], "timeout 8d is out of range: use 1ms to 7d"),
            (["sleep", "--backoff", "2d"], "backoff 2d is out of range: use 0s to 1d"),
        ]
        for (arguments, said) in cases {
            let result = try await cli.run(["enqueue"] + arguments + ["--batch", path])
            #expect(result.status == 64 && result.stderr == "lifeline: \(said)\n", "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("lifeline.db").path), "nothing was created")
        // Said before the lines are read: the input (a pipe, perhaps) is never waited for.
        let unread = try await cli.run(["enqueue", "sleep", "--priority", "11", "--batch", cli.home.appendingPathComponent("none.jsonl").path])
        #expect(unread.status == 64 && unread.stderr == "lifeline: priority 11 is out of range: use 0 to 9 (0 runs first)\n", "\(unread.stderr)")
        let done = try await cli.run(["enqueue", "sleep", "--batch", path])
        #expect(done.status == 0 && done.stdout == "enqueued 2 jobs: 1 2\n", "\(done.stdout)")
        let more = try await cli.run(["enqueue", "sleep", "--batch", try cli.writeFile("three.jsonl", String(repeating: #"{"args": {"ms": 1}}"# + "\n", count: 3))])
        #expect(more.status == 0 && more.stdout == "enqueued 3 jobs: 3-5\n", "\(more.stdout)")
    }
}

extension EnqueueCLITests {
    @Test("a large batch is parsed in parallel chunks and still names its first bad line")
    func largeBadBatch() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        var lines = Array(repeating: #"{"args": {"ms": 1}}"#, count: 5_000)
        lines[3_499] = #"{"args": {"ms": 1}, "priority": "high"}"#
        lines[4_199] = "{broken"
        let bad = try await cli.run(["enqueue", "sleep", "--batch", try cli.writeFile("bad.jsonl", lines.joined(separator: "\n"))])
        #expect(bad.status == 64 && bad.stderr == "lifeline: --batch line 3500: 'priority' must be an integer\n")
        lines[3_499] = #"{"args": {"ms": 1}, "timeout": "-5s"}"#
        let negative = try await cli.run(["enqueue", "sleep", "--batch", try cli.writeFile("negative.jsonl", lines.joined(separator: "\n"))])
        #expect(negative.status == 64 && negative.stderr.hasPrefix("lifeline: --batch line 3500: 'timeout': negative duration '-5s'"), "\(negative.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("lifeline.db").path), "a bad batch creates nothing")
        lines[3_499] = lines[0]
        lines[4_199] = lines[0]
        let good = try await cli.run(["enqueue", "sleep", "--batch", try cli.writeFile("good.jsonl", lines.joined(separator: "\n"))])
        #expect(good.status == 0)
        #expect(try await cli.jobCount() == 5_000)
    }
}
