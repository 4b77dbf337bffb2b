import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

@Suite("Operating Lifeline: tables, JSON, bulk retry, following events")
struct OperatorCLITests {
    /// A queue with completed, discarded (in two queues) and cancelled jobs.
    static func failedQueue(_ cli: CLIRunner) async throws -> (a: [Int64], b: [Int64]) {
        let long = String(repeating: "a very long error message ", count: 10)
        let argv = #"{"argv": ["sh", "-c", "echo '\#(long)' >&2; exit 1"]}"#
        let a = try await cli.enqueue(["exec", "--args", argv, "--max-attempts", "1", "--queue", "a"], count: 3)
        let b = try await cli.enqueue(["exec", "--args", argv, "--max-attempts", "1", "--queue", "b"], count: 2)
        _ = try await cli.enqueue(["noop", "--queue", "a"])
        let cancelled = try await cli.enqueue(["noop", "--queue", "a", "--delay", "1h"])
        #expect(try await cli.run(["jobs", "cancel", "\(cancelled)"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        return (a, b)
    }

    @Test("jobs list: stable columns, cut to the width, a message when empty")
    func jobsTable() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["queues", "limit", "a", "5", "--create"]).status == 0)
        #expect(try await cli.run(["jobs", "list"]).stdout == "no jobs match\n")
        _ = try await Self.failedQueue(cli)
        let wide = try await cli.run(["jobs", "list"]).lines
        #expect(wide[0].split(separator: " ", omittingEmptySubsequences: true)
            == ["ID", "KIND", "QUEUE", "STATE", "ATTEMPT", "WHEN", "SERVER", "LAST", "ERROR"])
        #expect(wide.count == 8)
        let narrow = try await cli.run(["jobs", "list", "--failed"], extraEnvironment: ["COLUMNS": "70"]).lines
        #expect(narrow.count == 6 && narrow.allSatisfy { $0.count <= 70 })
        #expect(narrow.dropFirst().allSatisfy { $0.hasSuffix("…") && $0.contains("discarded") })
        // A name is cut at its start, where names alike differ at their end.
        for region in ["a", "b"] { _ = try await cli.enqueue(["noop", "--queue", "nightly.customers.region-\(region)"]) }
        let names = try await cli.run(["jobs", "list", "--state", "available", "--limit", "2"], extraEnvironment: ["COLUMNS": "50"]).lines
        #expect(names.count == 3 && names.allSatisfy { $0.count <= 50 }, "\(names)")
        #expect(names[1].contains("….region-b") && names[2].contains("….region-a"), "\(names)")
        #expect(try await cli.run(["jobs", "list", "--state", "completed", "--queue", "b"]).stdout == "no jobs match\n")
        let cut = try await cli.run(["jobs", "list", "--failed", "--limit", "4", "--json"])
        #expect(cut.lines.count == 4 && cut.stderr == "lifeline: showing the newest 4 jobs that match; more do (--limit N shows more)\n")
        let whole = try await cli.run(["jobs", "list", "--failed", "--limit", "5"])
        #expect(whole.lines.count == 6 && whole.stderr.isEmpty)
    }

    @Test("jobs list --retried lists jobs attempted more than once, and shows why a job that then completed was retried; a plain list leaves that history out")
    func retriedShowsWhy() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["flaky", "--args", #"{"fail_times": 1}"#])
        let once = try await cli.enqueue(["flaky", "--args", #"{"fail_times": 1}"#, "--max-attempts", "1"])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.job(id)["state"] == "completed")
        #expect(try await cli.job(once)["state"] == "discarded")
        let retried = try await cli.run(["jobs", "list", "--retried"]).lines
        #expect(retried.count == 2 && retried[1].hasPrefix("\(id) ") && retried[1].hasSuffix("flaky failure 1 of 1"), "\(retried)")
        let plain = try await cli.run(["jobs", "list"]).lines
        #expect(plain.count == 3 && !plain[2].contains("flaky failure"), "\(plain)")
    }

    @Test("JSON shapes of jobs, events, servers, queues and stats")
    func jsonShapes() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await Self.failedQueue(cli)
        let job = try #require(try await cli.json(["jobs", "list", "--failed", "--limit", "1", "--json"]).first)
        #expect(job["backoff_seconds"] == 1 && job["backoff_cap_seconds"] == 3600, "the standard backoff: \(job)")
        #expect(Set(Self.keys(job)) == ["id", "queue", "kind", "state", "attempt", "max_attempts", "timeout_seconds", "backoff_seconds", "backoff_cap_seconds", "priority", "args",
                                         "idempotency_key", "server", "run_at", "created_at", "finished_at", "errors",
                                         "progress", "result", "attempted_at", "lease_owner", "lease_expires_at", "heartbeat_at"])
        #expect(Set(Self.keys(job["errors"]?.arrayValue?.first ?? .null)) == ["attempt", "at", "error", "worker"])
        let event = try #require(try await cli.json(["events", "--json"]).first)
        #expect(Set(Self.keys(event)) == ["seq", "at", "type", "job", "server", "data"])
        #expect(try await cli.run(["server", "create", "s-1", "--disk-size", "64KiB"]).status == 0)
        let server = try #require(try await cli.server("s-1"))
        for key in ["name", "machine", "state", "vm_state", "workload", "recovery_point", "allowed_actions", "current_job",
                    "progress", "last_error"] {
            #expect(server[key] != nil, "server lacks \(key)")
        }
        #expect(try await cli.json(["server", "list", "--json"]).count == 1)
        let queue = try #require(try await cli.json(["queues", "list", "--json"]).first { $0["name"] == "a" })
        #expect(queue["counts"]?["discarded"] == 3 && queue["counts"]?["cancelled"] == 1 && queue["counts"]?["completed"] == 1)
        // With the server's create, three jobs complete in all.
        _ = try await cli.enqueue(["flaky", "--args", #"{"fail_times": 2}"#, "--backoff", "0s", "--queue", "c"])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let stats = try #require(try await cli.json(["stats", "--json"]).first)
        #expect(stats["counts"]?["b"]?["discarded"] == 2)
        #expect(stats["running_by_worker"] == [:] && stats["expired_leases_by_worker"] == [:])
        let window = try #require(stats["windows"]?.arrayValue?.first)
        #expect(window["completed"] == 3 && window["retries"] == 2 && window["discarded"] == 5 && window["failed_attempts"] == 7, "\(window)")
        #expect(window["failure_rate"] == .double(7.0 / 10), "the text's FAILURE RATE, as a share")
        #expect(window["retry_rate"] == .double(2.0 / 10), "the text's RETRY RATE, as a share")
        let text = try await cli.run(["stats"]).lines
        #expect(text.contains { $0.hasPrefix("WINDOW") && $0.hasSuffix("RETRIES  DISCARDED  RETRY RATE  FAILURE RATE") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("last 1m") && $0.hasSuffix(" 2        5          20.0%       70.0%") }, "\(text)")
        let history = try #require(try await cli.json(["server", "history", "s-1", "--json"]).first)
        #expect(Set(Self.keys(history)) == ["at", "from", "to", "cause", "job"])
    }

    @Test("no colour codes in pipes, and every command's help has an example", arguments: [
        ["enqueue"], ["worker"], ["server"], ["server", "create"], ["server", "failover"], ["server", "list"],
        ["server", "show"], ["server", "history"], ["server", "wait"], ["jobs"], ["jobs", "list"], ["jobs", "show"],
        ["jobs", "retry"], ["jobs", "cancel"], ["jobs", "prune"], ["events"], ["stats"], ["queues"], ["queues", "list"],
        ["queues", "limit"], ["queues", "pause"], ["queues", "resume"], ["queues", "retain"], ["store", "copy"], ["serve"],
        ["server", "points"], ["server", "test-failover"], ["server", "failback"], ["server", "retry"], ["server", "delete"],
    ])
    func help(_ command: [String]) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(command + ["--help"])
        #expect(result.status == 0 && result.stdout.contains("Example"))
        #expect(!result.stdout.contains("\u{1B}"))
        // Prose the help wraps itself: a line broken by hand as well leaves a word or two alone.
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        for (line, next) in zip(lines, lines.dropFirst()) where !line.hasPrefix(" ") && !next.hasPrefix(" ") && !line.isEmpty {
            #expect(line.count >= 40 || line.hasSuffix(":") || line.hasSuffix(".") || !(next.first?.isLowercase ?? false), "\(command): '\(line)'")
        }
        // An example the help wrapped goes on at the margin, and cannot be pasted as it is.
        for (line, next) in zip(lines, lines.dropFirst()) where line.hasPrefix("  lifeline ") {
            #expect(next.isEmpty || next.hasPrefix(" "), "\(command): an example wrapped after '\(line)'")
        }
    }

    @Test("the queue settings commands print the queue as queues list --json does, with --json")
    func queueSettingsJSON() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--queue", "a"])
        let paused = try await cli.json(["queues", "pause", "a", "--json"])
        let listed = try await cli.json(["queues", "list", "--json"]).filter { $0["name"] == "a" }
        #expect(paused == listed && paused.first?["paused"] == true, "\(paused)")
        #expect(try await cli.json(["queues", "resume", "a", "--json"]).first?["paused"] == false)
        #expect(try await cli.json(["queues", "limit", "a", "3", "--json"]).first?["limit"] == 3)
        let kept = try await cli.json(["queues", "retain", "a", "--completed", "1h", "--json"])
        #expect(kept.count == 1 && kept.first?["retain_completed_seconds"] == 3600, "\(kept)")
        #expect(try await cli.json(["queues", "retain", "--all", "--failed", "2h", "--json"]).count == 7, "a and the six stages' queues")
    }

    @Test("stats says which queues are held back on purpose: paused, or limited")
    func statsHeld() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        for queue in ["a", "b", "c"] { _ = try await cli.enqueue(["noop", "--queue", queue]) }
        #expect(try await cli.run(["queues", "pause", "a"]).status == 0)
        #expect(try await cli.run(["queues", "limit", "b", "2"]).status == 0)
        // A queue paused before it has any job shows too.
        #expect(try await cli.run(["queues", "pause", "d", "--create"]).status == 0)
        let lines = try await cli.run(["stats"]).lines
        #expect(lines.first?.hasSuffix("OLDEST WAITING  HELD") == true, "\(lines)")
        let held = Dictionary(uniqueKeysWithValues: lines.dropFirst().prefix(4).map { line in
            (String(line.prefix { $0 != " " }), line.split(separator: "  ").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "")
        })
        #expect(held == ["a": "paused", "b": "at most 2 running", "c": "-", "d": "paused"], "\(lines)")
        // The JSON says as much, by queue, for those held.
        let stats = try #require(try await cli.json(["stats", "--json"]).first)
        #expect(stats["held"] == ["a": ["paused": true, "limit": .null], "b": ["paused": false, "limit": 2], "d": ["paused": true, "limit": .null]], "\(stats)")
        #expect(stats["counts"]?["c"] != nil)
        // A limit of 0 holds every job back, which `queues list` says too; a limit is digits.
        #expect(try await cli.run(["queues", "limit", "c", "0"]).status == 0)
        let queues = try await cli.run(["queues", "list"]).lines
        #expect(queues.contains { $0.hasPrefix("c ") && $0.contains("held (limit 0)") }, "\(queues)")
        let plus = try await cli.run(["queues", "limit", "c", "+3"])
        #expect(plus.status == 64 && plus.stderr == "lifeline: limit must be a whole number from 0 to 1000000, or 'none', not '+3'\n", "\(plus)")
    }

    @Test("stats gives each queue's rate of the last five minutes, and keeps a queue whose finished jobs were pruned since")
    func statsRatePerQueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--queue", "burst"], count: 3)
        _ = try await cli.enqueue(["noop", "--queue", "calm"])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.run(["jobs", "prune", "--older-than", "0s"]).status == 0)
        let lines = try await cli.run(["stats"]).lines
        let header = try #require(lines.first)
        let rate = try #require(header.range(of: "RATE (5M)")).lowerBound.utf16Offset(in: header)
        let rates = Dictionary(uniqueKeysWithValues: lines.dropFirst().prefix { !$0.hasPrefix("WINDOW") }.map { line in
            (String(line.prefix { $0 != " " }), String(line.dropFirst(rate).prefix { $0 != " " }))
        })
        #expect(rates == ["burst": "0.6/min", "calm": "0.2/min"], "\(lines)")
        let stats = try #require(try await cli.json(["stats", "--json"]).first)
        let fiveMinutes = { (windows: JSONValue?) in windows?.arrayValue?.first { $0["minutes"] == 5 }?["completed"] }
        #expect(fiveMinutes(stats["windows_by_queue"]?["burst"]) == 3 && fiveMinutes(stats["windows"]) == 4, "\(stats)")
    }

    @Test("events --limit pages through the log: at most N, and where the next page starts")
    func eventsPage() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"], count: 3)
        let first = try await cli.run(["events", "--limit", "2", "--json"])
        #expect(first.status == 0 && first.lines.count == 2 && first.stderr == "lifeline: more events follow: the next page is --after 2\n")
        let last = try await cli.run(["events", "--after", "2", "--limit", "2", "--json"])
        #expect(last.lines.count == 1 && last.stderr.isEmpty, "the last page says nothing more")
        // Past the end, a person is told so; a program reads no line.
        let past = try await cli.run(["events", "--after", "3"])
        #expect(past.status == 0 && past.stdout == "no events match\n" && past.stderr.isEmpty, "\(past)")
        #expect(try await cli.run(["events", "--after", "3", "--json"]).stdout.isEmpty)
        // A number past the log's end is said so, with where the log ends.
        let beyond = try await cli.run(["events", "--after", "99", "--json"])
        #expect(beyond.status == 0 && beyond.stdout.isEmpty && beyond.stderr == "lifeline: --after 99 is past the log's last event (3)\n", "\(beyond)")
        #expect(try await cli.run(["events", "--limit", "1", "--follow"]).status == 64)
    }

    @Test("bulk retry touches exactly the matching jobs; --dry-run touches none")
    func bulkRetry() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let (a, b) = try await Self.failedQueue(cli)
        let dry = try await cli.run(["jobs", "retry", "--state", "discarded", "--queue", "a", "--dry-run"])
        // Ids in a row are said as a range, and the JSON lines come in the same order.
        #expect(a == [a[0], a[0] + 1, a[0] + 2])
        #expect(dry.stdout == "would retry 3 jobs: \(a[0])-\(a[2])\n", "\(dry.stdout)")
        let listed: [Int64] = try await cli.json(["jobs", "retry", "--state", "discarded", "--dry-run", "--json"]).compactMap { $0["id"]?.intValue }
        #expect(listed == a + b)
        #expect(try await cli.json(["jobs", "list", "--failed", "--json"]).count == 5)
        // States add up, as in jobs list: the discarded and the one cancelled, whatever the order.
        let cancelled = b[1] + 2
        for states in [["discarded", "cancelled"], ["cancelled", "discarded"]] {
            let both = try await cli.run(["jobs", "retry"] + states.flatMap { ["--state", $0] } + ["--dry-run"])
            #expect(both.stdout == "would retry 6 jobs: \(a[0])-\(b[1]) \(cancelled)\n", "\(states): \(both)")
        }
        let unfiltered = try await cli.run(["jobs", "retry", "--kind", "exec"])
        #expect(unfiltered.status == 64 && unfiltered.stderr.hasPrefix("lifeline: --kind, --queue and --since go with --state (discarded, "), "\(unfiltered)")
        let retried = try await cli.run(["jobs", "retry", "--state", "discarded", "--queue", "a"])
        #expect(retried.status == 0 && retried.stdout == "retried 3 jobs: \(a[0])-\(a[2])\n", "\(retried.stdout)")
        #expect(try await cli.run(["jobs", "retry", "--state", "discarded", "--dry-run"]).stdout == "would retry 2 jobs: \(b[0]) \(b[1])\n")
        for id in a {
            let job = try await cli.job(id)
            #expect(job["state"] == "available" && job["attempt"] == 1 && job["max_attempts"] == 2 && job["errors"]?.arrayValue?.count == 1)
        }
        for id in b { #expect(try await cli.job(id)["state"] == "discarded") }
        #expect(try await cli.json(["jobs", "list", "--state", "cancelled", "--json"]).count == 1)
        let missing = try await cli.run(["jobs", "retry", "\(b[0])", "999"])
        #expect(missing.status == 4 && missing.stderr == "lifeline: no job 999 (pruned with its events, or never enqueued)\n", "a job that is missing is reported, as jobs show says it")
        #expect(try await cli.job(b[0])["state"] == "discarded", "and nothing is retried")
        // A queue that does not exist is named, as a list names it: a typo, not a quiet queue.
        let typo = try await cli.run(["jobs", "retry", "--state", "discarded", "--queue", "bb", "--dry-run"])
        #expect(typo.status == 0 && typo.stdout == "would retry 0 jobs\n", "\(typo)")
        #expect(typo.stderr == "lifeline: no queue 'bb' has had a job or a setting; did you mean 'b'?\n", "\(typo.stderr)")
        let kind = try await cli.run(["jobs", "retry", "--state", "discarded", "--kind", "exce", "--dry-run"])
        #expect(kind.status == 0 && kind.stderr == "lifeline: no job kind 'exce'; did you mean 'exec'?\n", "\(kind.stderr)")
    }

    @Test("events --follow shows an event enqueued by another process within a second")
    func follow() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let first = try await cli.enqueue(["noop"])
        let follower = try cli.start(["events", "--follow", "--json"])
        defer { follower.signal(SIGTERM) }
        // The follower is up once it has printed what was there before it.
        #expect(try JSONValue(parsing: try await follower.nextLine(timeout: .seconds(30)))["job"]?.intValue == first)
        let id = try await cli.enqueue(["sleep", "--args", #"{"ms": 1}"#])
        let enqueued = ContinuousClock.now
        let (line, arrived) = try await follower.nextTimedLine(timeout: .seconds(30))
        let event = try JSONValue(parsing: line)
        #expect(arrived - enqueued < .seconds(1))
        #expect(event["job"]?.intValue == id && event["type"] == "enqueued")
    }

    static func keys(_ value: JSONValue) -> [String] {
        if case .object(let fields) = value { return Array(fields.keys) }
        return []
    }
}
