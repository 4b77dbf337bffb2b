import Foundation
import LifelineQueue
import LifelineRecovery
import LifelineTestKit
import Testing

@Suite("Races, hostile input and security")
struct HostileInputCLITests {
    @Test("8 processes send conflicting actions to each of 4 servers: exactly one per server is accepted")
    func conflictingActions() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try await Self.expectOneActionAccepted(cli)
    }

    @Test("8 processes send one action under one idempotency key: all are answered with its one job")
    func sameKeyActions() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try await Self.expectOneJobForKey(cli)
    }

    @Test("4 servers of one machine sent a failover at once: exactly one takes over its workload")
    func oneFailoverPerMachine() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try await Self.expectOneFailoverPerMachine(cli)
    }

    /// Four servers of one machine in standby, each sent a failover at once, by a process each
    /// (on PostgreSQL, their transactions run side by side).
    static func expectOneFailoverPerMachine(_ cli: CLIRunner) async throws {
        let servers = (1...4).map { "m-\($0)" }
        for server in servers {
            #expect(try await cli.run(["server", "create", server, "--machine", "shared", "--disk-size", "64KiB"]).status == 0)
        }
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let processes = try servers.map { try cli.start(["server", "failover", $0]) }
        var statuses: [Int32] = []
        for process in processes { statuses.append(try await process.waitForExit()) }
        #expect(statuses.filter { $0 == 0 }.count == 1 && statuses.filter { $0 == 3 }.count == 3, "\(statuses)")
        for (process, status) in zip(processes, statuses) where status == 3 {
            #expect(
                process.stderr.contains("of machine shared holds its workload")
                    && process.stderr.hasSuffix("; this one is in standby; allowed: test-failover, delete\n"), "\(process.stderr)"
            )
        }
        let listed = try await cli.json(["server", "list", "--json"])
        let holding = listed.filter { $0["state"] != "standby" }
        #expect(holding.count == 1, "\(holding)")
        // The others say what their failover waits for.
        let holder = try #require(holding.first?["name"]?.stringValue)
        let waiting = try #require(listed.first { $0["state"] == "standby" }?["name"]?.stringValue)
        let shown = try await cli.run(["server", "show", waiting]).stdout
        #expect(shown.contains("why not   failover: server \(holder) holds machine shared's workload (in "), "\(shown)")
        // Nor do they offer the failover they would refuse, here or in their JSON.
        #expect(shown.contains("allowed   test-failover, delete\n"), "\(shown)")
        for other in listed where other["state"] == "standby" {
            #expect(other["allowed_actions"] == ["test-failover", "delete"], "\(other)")
            #expect(other["why_not"]?["failover"]?.stringValue?.hasPrefix("server \(holder) holds machine shared's workload") == true, "\(other)")
        }
    }

    /// Servers in standby, each sent 8 conflicting actions at once, all servers together (on
    /// PostgreSQL, requests on one server run side by side unless its row is locked).
    static func expectOneActionAccepted(_ cli: CLIRunner) async throws {
        let servers = (1...4).map { "r-\($0)" }
        for server in servers { #expect(try await cli.run(["server", "create", server, "--disk-size", "64KiB"]).status == 0) }
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let actions = ["failover", "test-failover", "delete", "failover", "test-failover", "delete", "failover", "test-failover"]
        let processes = try servers.flatMap { server in try actions.map { try cli.start(["server", $0, server]) } }
        var statuses: [Int32] = []
        for process in processes { statuses.append(try await process.waitForExit()) }
        for (index, server) in servers.enumerated() {
            let own = statuses[index * actions.count..<(index + 1) * actions.count]
            #expect(own.filter { $0 == 0 }.count == 1 && own.filter { $0 == 3 }.count == 7, "\(server): \(own)")
            #expect(try await cli.history(server).count == 3, "\(server)")
        }
        // Each server's create job and the one accepted action's.
        #expect(try await cli.json(["jobs", "list", "--json"]).count == 2 * servers.count)
    }

    /// A create, then a failover, each sent by 8 processes at once under one key.
    static func expectOneJobForKey(_ cli: CLIRunner) async throws {
        try await expectOneJob(cli, ["server", "create", "k-1", "--disk-size", "64KiB", "--idempotency-key", "make"])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        try await expectOneJob(cli, ["server", "failover", "k-1", "--idempotency-key", "once"])
        #expect(try await cli.history("k-1").count == 3)
        #expect(try await cli.json(["jobs", "list", "--json"]).count == 2)
    }

    private static func expectOneJob(_ cli: CLIRunner, _ request: [String]) async throws {
        let processes = try (0..<8).map { _ in try cli.start(request + ["--json"]) }
        var jobs: Set<Int64> = []
        for process in processes {
            #expect(try await process.waitForExit() == 0, "\(request[1]): \(process.stderr)")
            jobs.insert(try #require(try JSONValue(parsing: process.stdout)["job"]?.intValue))
        }
        #expect(jobs.count == 1, "\(request[1]): \(jobs)")
    }

    @Test("a server request's idempotency key is checked as an enqueue's: empty or with control characters, it is refused and changes nothing")
    func serverKeysChecked() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "k-1", "--disk-size", "64KiB"]).status == 0)
        for key in ["", "a\u{1}b", String(repeating: "k", count: 256)] {
            for request in [["server", "create", "k-2", "--disk-size", "64KiB"], ["server", "failover", "k-1"], ["server", "delete", "k-1"]] {
                let refused = try await cli.run(request + ["--idempotency-key", key])
                #expect(refused.status == 64 && refused.stderr == "lifeline: idempotency key must be 1 to 255 bytes without control characters\n", "\(request): \(refused.stderr)")
            }
        }
        #expect(try await cli.server("k-2") == nil)
        #expect(try await cli.history("k-1").count == 1)
        #expect(try await cli.json(["jobs", "list", "--json"]).count == 1)
    }

    @Test("a server request under a LIFELINE_INFRA no worker could start with is refused and changes nothing; --recovery-point shows only where it is taken")
    func serverRequestChecks() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "k-1", "--disk-size", "64KiB"]).status == 0)
        for request in [["server", "create", "k-2", "--disk-size", "64KiB"], ["server", "failover", "k-1"]] {
            let refused = try await cli.run(request, extraEnvironment: ["LIFELINE_INFRA": "bogus"])
            #expect(refused.status == 64 && refused.stderr == "lifeline: LIFELINE_INFRA must be 'simulated' or 'command', not 'bogus'\n", "\(request): \(refused.stderr)")
        }
        #expect(try await cli.server("k-2") == nil)
        #expect(try await cli.json(["jobs", "list", "--json"]).count == 1)
        for action in ServerAction.allCases {
            let help = try await cli.run(["server", action.rawValue, "--help"]).stdout
            #expect(help.contains("--recovery-point") == [.failover, .testFailover].contains(action), "\(action)")
        }
    }

    @Test("8 processes enqueue with one idempotency key: one job")
    func sameKey() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let processes = try (0..<8).map { _ in try cli.start(["enqueue", "noop", "--idempotency-key", "once"]) }
        for process in processes { #expect(try await process.waitForExit() == 0) }
        #expect(try await cli.jobCount() == 1)
    }

    /// A seeded stream of strings people and programs should never send.
    struct HostileStrings {
        var random: SplitMix64

        static let fragments = [
            "../", "..", "/", "\\", "'; DROP TABLE jobs; --", "\" OR 1=1 --", "%s%n", "$(touch /tmp/x)", "`id`", "|", ";",
            "\u{0}", "\u{7}", "\u{1B}[31m", "\n", "\r", "\t", "ünï", "🚀", "\u{202E}", "٣", "-1", "0", "99999999999999999999",
            "1e309", "NaN", "null", "{", "}", "[", "]", "\"", ":", ",", "5", "ms", "s", "h", "-", "--", "=", " ",
        ]

        mutating func string() -> String {
            let count = Int.random(in: 0...8, using: &random)
            return (0..<count).map { _ in Self.fragments.randomElement(using: &random)! }.joined()
        }
    }

    static let templates: [@Sendable (String) -> [String]] = [
        { ["enqueue", "noop", "--args", $0] },
        { ["enqueue", "sleep", "--args", #"{"ms": "# + $0 + "}"] },
        { ["enqueue", "noop", "--queue", $0] },
        { ["enqueue", "noop", "--priority", $0] },
        { ["enqueue", "noop", "--timeout", $0] },
        { ["enqueue", "noop", "--delay", $0] },
        { ["enqueue", "noop", "--at", $0] },
        { ["enqueue", "noop", "--max-attempts", $0] },
        { ["enqueue", $0] },
        { ["jobs", "show", $0] },
        { ["jobs", "list", "--state", $0] },
        { ["jobs", "list", "--since", $0] },
        { ["events", "--after", $0] },
        { ["server", "create", $0] },
        { ["server", "create", "ok-name", "--disk-size", $0] },
        { ["server", "create", "ok-name", "--machine", $0] },
        { ["server", "failover", $0] },
        { ["server", "wait", "x", "--state", $0] },
        { ["queues", "limit", $0, "3"] },
        { ["queues", "limit", "q", $0] },
        { ["worker", "--concurrency", $0, "--drain"] },
        { ["worker", "--lease", $0, "--drain"] },
    ]

    @Test("hostile input never crashes: exit 0, 3, 4 or 64 with one line, and stored values read back exactly")
    func fuzz() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        var strings = HostileStrings(random: SplitMix64(seed: 20261125))
        for round in 0..<120 {
            let value = strings.string()
            let arguments = Self.templates[round % Self.templates.count](value)
            let result = try await cli.run(arguments)
            #expect([0, 3, 4, 64].contains(result.status), "lifeline \(arguments) exited \(result.status): \(result.stderr)")
            if result.status != 0 {
                #expect(result.stderr.split(separator: "\n", omittingEmptySubsequences: false).count == 2, "\(arguments): \(result.stderr)")
                #expect(!result.stderr.contains("\u{0}"))
            }
        }
        // Whatever a string holds, it is stored and read back exactly.
        for round in 0..<40 {
            let value = strings.string().replacingOccurrences(of: "\u{0}", with: "")
            let key = "key-\(round)-" + value.filter { !$0.unicodeScalars.contains { $0.properties.generalCategory == .control } }
            let args: JSONValue = ["text": .string(value), "n": .int(Int64(round))]
            let id = try await cli.enqueue(["noop", "--args", args.canonicalText, "--idempotency-key", key])
            let job = try await cli.job(id)
            #expect(job["args"] == args && job["idempotency_key"]?.stringValue == key)
        }
        let megabyte: JSONValue = ["blob": .string(String(repeating: "ü'\";--", count: 1 << 17))]
        let file = try cli.writeFile("big.json", megabyte.canonicalText)
        let big = try await cli.run(["enqueue", "noop", "--args-file", file, "--json"])
        if megabyte.canonicalText.utf8.count > JobLimits.argsBytes {
            #expect(big.status == 64)
        } else {
            let id = try #require(try JSONValue(parsing: big.stdout)["id"]?.intValue)
            #expect(try await cli.job(id)["args"] == megabyte)
        }
    }

    @Test("an input that never ends (/dev/zero) is refused once past what its flag takes, not read until memory runs out; a batch of more than a million lines is refused before it is parsed")
    func endlessInput() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let endless = try await cli.run(["enqueue", "noop", "--args-file", "/dev/zero"])
        #expect(endless.status == 64 && endless.stderr == "lifeline: --args-file: '/dev/zero' goes on past 16 MiB, more than --args-file takes\n", "\(endless)")
        // A batch's lines are counted before they are parsed: a million is the most.
        let over = try cli.writeFile("over.jsonl", String(repeating: "{}\n", count: 1_000_000) + "{}")
        let refused = try await cli.run(["enqueue", "noop", "--batch", over])
        #expect(refused.status == 64 && refused.stderr == "lifeline: --batch: the file has more than 1000000 lines; split it into batches of at most that many\n", "\(refused)")
        // Lines that never end are counted as they are read, long before the size limit.
        let piped = try await BackgroundCommand.run("/bin/sh", ["-c", #"yes '{}' | "$0" enqueue noop --batch -"#, cli.binary.path], environment: cli.environment)
        #expect(piped.terminationStatus == 64 && piped.stderr == "lifeline: --batch: standard input has more than 1000000 lines; split it into batches of at most that many\n", "\(piped.stderr)")
        #expect(try await cli.jobCount() == 1)
    }

    @Test("exec never runs a shell: metacharacters reach the program as plain arguments")
    func noShell() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("pwned-\(UUID().uuidString)").path
        let argv: JSONValue = ["argv": ["echo", .string("$(touch \(marker))"), ";", "touch", .string(marker), "|", .string("`touch \(marker)`")]]
        let id = try await cli.enqueue(["exec", "--args", argv.canonicalText])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let stdout = try await cli.job(id)["result"]?["stdout"]?.stringValue
        #expect(stdout == "$(touch \(marker)) ; touch \(marker) | `touch \(marker)`\n")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("a job's args, key, result and events reach a terminal with C1 controls and bidi overrides escaped, as JSON writes them")
    func controlsEscapedInShow() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // U+009B is a terminal's one-byte escape-sequence introducer: "\u{9b}2J" clears the screen.
        let shown = try await cli.enqueue(["noop", "--args", #"{"note":"\u009b2J é"}"#, "--idempotency-key", "key\u{202e}"])
        let printed = try await cli.enqueue(["exec", "--args", JSONValue.object(["argv": ["printf", "\u{9b}2J"]]).canonicalText])
        let failed = try await cli.enqueue(["exec", "--max-attempts", "1", "--args", JSONValue.object(["argv": ["sh", "-c", "printf '\u{9b}2J' >&2; exit 1"]]).canonicalText])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        var output = ""
        for command in [["jobs", "show", "\(shown)"], ["jobs", "show", "\(printed)"], ["jobs", "show", "\(failed)"], ["events"]] {
            output += try await cli.run(command).stdout
        }
        #expect(!output.unicodeScalars.contains { $0.value == 0x9B || $0.value == 0x202E }, "\(output)")
        #expect(output.contains(#"args      {"note":"\u009b2J é"}"#) && output.contains(#"key       key\u202e"#), "\(output)")
        #expect(output.contains(#""stdout":"\u009b2J""#) && output.contains(#"exited with status 1: \u009b2J"#), "\(output)")
    }

    @Test("the database, infra files and directories are owner-only")
    func ownerOnly() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "p-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.run(["server", "failover", "p-1"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let enumerator = try #require(FileManager.default.enumerator(atPath: cli.home.path))
        var checked = 0
        for case let path as String in enumerator {
            let mode = try FileManager.default.attributesOfItem(atPath: cli.home.appendingPathComponent(path).path)[.posixPermissions] as! Int
            #expect(mode & 0o077 == 0, "\(path) is \(String(mode, radix: 8))")
            checked += 1
        }
        #expect(checked > 10)
    }

    @Test("server names can never leave infra/", arguments: [
        "../evil", "..", ".", "a/b", "/etc", "-rf", "name\n", "x\u{1B}[2J", String(repeating: "n", count: 64), "", "ünï",
    ])
    func serverNames(_ name: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(["server", "create", name])
        #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1)
        #expect(throws: JobInputError.self) { try ServerNames.check(name) }
        #expect(throws: JobInputError.self) { try ServerNames.check("a\u{0}b") }
    }
}
