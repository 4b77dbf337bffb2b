import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// The stumbles of an operator's first hour, each met as the operator meets it.
@Suite("The operator's first hour")
struct FirstHourCLITests {
    /// Every command path, for walking all the help there is.
    static let commands: [[String]] = [
        [], ["enqueue"], ["worker"], ["jobs"], ["jobs", "list"], ["jobs", "show"], ["jobs", "retry"], ["jobs", "cancel"],
        ["jobs", "prune"], ["events"], ["stats"], ["queues"], ["queues", "list"], ["queues", "limit"], ["queues", "pause"],
        ["queues", "resume"], ["queues", "retain"], ["server"], ["server", "create"], ["server", "failover"],
        ["server", "test-failover"], ["server", "cancel-failover"], ["server", "failback"], ["server", "confirm-failback"],
        ["server", "cancel-failback"], ["server", "stop-test"], ["server", "retry"], ["server", "delete"], ["server", "list"],
        ["server", "show"], ["server", "history"], ["server", "points"], ["server", "wait"], ["serve"],
    ]

    /// The example command lines of a help text.
    static func examples(_ help: String) -> [String] {
        help.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("lifeline ") }
    }

    @Test("help fits 80 columns: examples whole on one line, on narrower terminals too; values listed once; --help before a command is its help")
    func help() async throws {
        let cli = try CLIRunner()
        for command in Self.commands {
            let help = try await cli.run(command + ["--help"], extraEnvironment: ["COLUMNS": "80"])
            #expect(help.status == 0)
            for line in help.stdout.split(separator: "\n") where line.count > 80 {
                Issue.record("\(command): a line longer than 80 columns: \(line)")
            }
            for example in Self.examples(help.stdout) {
                #expect(example.count <= 76, "\(command): an example longer than a terminal line: \(example.count) \(example)")
                #expect(example.filter { $0 == "'" }.count.isMultiple(of: 2), "\(command): an example cut mid-quote: \(example)")
            }
            // Laid out as for 80: the terminal wraps it, and a pasted example is whole.
            let narrow = try await cli.run(command + ["--help"], extraEnvironment: ["COLUMNS": "60"])
            #expect(narrow.stdout == help.stdout, "\(command) at 60 columns")
        }
        let jobs = try await cli.run(["jobs", "--help"]).stdout
        #expect(try await cli.run(["--help", "jobs"]).stdout == jobs)
        #expect(try await cli.run(["-h", "jobs", "list"]).stdout == (try await cli.run(["jobs", "list", "--help"]).stdout))
        let withOptions = try await cli.run(["--help", "jobs", "list", "--json"])
        let listHelp = try await cli.run(["jobs", "list", "--help"]).stdout
        #expect(withOptions.status == 0 && withOptions.stdout == listHelp, "\(withOptions.stderr)")
        let events = try await cli.run(["events", "--help"]).stdout
        #expect(events.components(separatedBy: "state_changed").count == 2, "the --type values are listed once")
        // Each action's help names the states it is taken in, from the lifecycle's own table.
        for (action, states) in [("retry", "finalization_failed"), ("failback", "failover"), ("delete", "standby")] {
            let help = try await cli.run(["server", action, "--help"], extraEnvironment: ["COLUMNS": "200"]).stdout
            #expect(help.contains("Allowed in: \(states). Refused (exit 3) in any other state"), "\(action): \(help)")
        }
    }

    @Test("typos get the closest command; --version; bad values list the valid ones", arguments: [
        (["enqeue", "noop"], "lifeline: unknown command 'enqeue'; did you mean 'enqueue'?"),
        (["jobs", "lst"], "lifeline: unknown command 'lst'; did you mean 'list'?"),
        (["help", "jobs", "lst"], "lifeline: unknown command 'lst'; did you mean 'list'?"),
        (["help", "bogus"], "lifeline: unknown command 'bogus'; lifeline has: "),
        (["jobs", "list", "--state", "failed"], "lifeline: invalid value 'failed' for --state; expected one of: scheduled, available, running, retryable, completed, discarded, cancelled"),
        (["events", "--type", "complete"], "lifeline: invalid value 'complete' for --type; expected one of: enqueued, started, retrying, completed,"),
        (["jobs", "retry", "--state", "completed"], "lifeline: invalid value 'completed' for --state; expected one of: discarded, cancelled, retryable, scheduled (see --help)"),
        (["--verison"], "lifeline: unknown option '--verison'; did you mean '--version'?"),
        (["jobs", "list", "--stat", "running"], "lifeline: unknown option '--stat'; did you mean '--state'?"),
        // Without the argument a command needs, the unknown option is still what is reported.
        (["server", "create", "-x"], "lifeline: unknown option '-x' (see --help)"),
        (["enqueue", "--priorty", "3"], "lifeline: unknown option '--priorty'; did you mean '--priority'?"),
        (["server", "failover"], "lifeline: missing expected argument '<name>' (see --help)"),
        (["--db", "x.db", "--json", "jobs", "list"], "lifeline: '--json' goes after the command's name: lifeline --db x.db jobs list --json\n"),
        // Said with the command line as it goes, the option and its value moved after the command's name.
        (["--json", "jobs", "list"], "lifeline: '--json' goes after the command's name: lifeline jobs list --json"),
        (["jobs", "--json", "list", "--state", "running"], "lifeline: '--json' goes after the command's name: lifeline jobs list --json --state running"),
        (["--limit", "5", "jobs", "list"], "lifeline: '--limit' goes after the command's name: lifeline jobs list --limit 5\n"),
        (["jobs", "--state", "running", "list"], "lifeline: '--state' goes after the command's name: lifeline jobs list --state running\n"),
        // Given to a group of commands, it goes to the first of them that has it.
        (["jobs", "--failed"], "lifeline: '--failed' is an option of jobs list: lifeline jobs list --failed\n"),
        (["jobs", "--state", "discarded"], "lifeline: '--state' is an option of jobs list and jobs retry: lifeline jobs list --state discarded\n"),
        // Named exactly, though another option's name starts with it (--args-file).
        (["--args", "{}", "enqueue", "noop"], "lifeline: '--args' goes after the command's name: lifeline enqueue --args '{}' noop\n"),
        (["--dry-run", "jobs", "prune", "--older-than", "1d"], "lifeline: '--dry-run' goes after the command's name: lifeline jobs prune --dry-run --older-than 1d"),
        // A newline in what the parser quotes stays inside the one line, escaped.
        (["enqueue", "noop", "--bo\ngus"], "lifeline: unknown option '--bo\\ngus' (see --help)"),
        (["jobs", "show", "1\n2"], "lifeline: invalid value '1\\n2' for <id>: not a whole number"),
        (["jobs", "list", "--state", "\n"], "lifeline: invalid value '\\n' for --state; expected one of: scheduled, available, running,"),
        (["server", "create", "--disks", "2"], "lifeline: missing expected argument '<name>' (see --help)"),
        ([], "lifeline: missing command; lifeline has: enqueue, worker, server, jobs, events, stats, queues, store, serve (see lifeline --help)"),
        (["jobs"], "lifeline: missing command; lifeline jobs has: list, show, retry, cancel, prune (see lifeline jobs --help)"),
        (["server"], "lifeline: missing command; lifeline server has: create, failover,"),
    ])
    func typos(arguments: [String], message: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.hasPrefix(message) && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("--version prints the version")
    func version() async throws {
        let result = try await CLIRunner().run(["--version"])
        #expect(result.status == 0 && result.stdout.first?.isNumber == true)
    }

    @Test("messages say what was wrong, where, and what is accepted", arguments: [
        (["enqueue", "exec", "--args", #"{"argv": "ls"}"#], "lifeline: invalid args for 'exec': field 'argv' must be an array, not a string"),
        (["enqueue", "noop", "--args", "{\"a\": 1,\n \"b\" 2}"], "lifeline: --args: invalid JSON at line 2, column 6: expected ':' after the field name, found '2'"),
        (["enqueue", "noop", "--args", String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)], "nested deeper than 512 levels"),
        // Deeper than a job's JSON can be printed with it.
        (["enqueue", "noop", "--args", "{\"a\": " + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}"], "lifeline: args nest 301 levels deep, more than 256"),
        (["enqueue", "noop", "--args", #"{"a": 1e400}"#], "the number 1e400 is too large"),
        (["enqueue", "sleep", "--args", #"{"ms": 5, "msx": 3}"#], "lifeline: invalid args for 'sleep': unknown field 'msx' (fields: ms)"),
        (["enqueue", "exec", "--args", #"{"argv": ["true"], "envv": {}}"#], "lifeline: invalid args for 'exec': unknown field 'envv' (fields: argv, cwd, env)"),
        (["enqueue", "noop", "--args", #"{"a": 1, "a": 2}"#], "lifeline: --args: invalid JSON at line 1, column 10: field 'a' appears twice in one object"),
        (["enqueue", "sleep", #"{"ms": 1}"#], #"lifeline: unexpected argument '{"ms": 1}': a job's arguments are given with --args (see --help)"#),
        (["enqueue", "noop", "--arg", "{}"], "lifeline: unknown option '--arg'; did you mean '--args'?"),
        (["enqueue", "noop", "--timeout", "-5s"], "lifeline: --timeout: negative duration '-5s': durations are 0 or more, e.g. 500ms, 30s, 5m, 2h, 1d"),
        (["enqueue", "noop", "--timeout", "10x"], "lifeline: --timeout: invalid duration '10x': unknown unit 'x'; use ms, s, m, h or d"),
        (["server", "create", "web-1", "--disk-size", "10"], "invalid size '10': a size needs a unit (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)"),
        (["server", "create", "web-1", "--disk-size", "-1MiB"], "lifeline: invalid size '-1MiB': use e.g. 64MiB, 1GiB"),
        (["server", "failover", "web-1", "--wait", "--timeout", "0s"], "lifeline: --timeout: a wait needs more than 0s"),
        (["events", "--all", "--after", "3"], "lifeline: --all starts from the first event: leave out --after and --since"),
        (["server", "wait", "web-1", "--state", "standby", "--timeout", "0ms"], "lifeline: --timeout: a wait needs more than 0s"),
        (["enqueue", "recovery.delete", "--args", "{}"], "job kind 'recovery.delete' is enqueued only by the actions of recovery servers"),
        (["enqueue", "noop", "--queue", "recovery.vm"], "lifeline: queue 'recovery.vm' is kept for the jobs of the actions of recovery servers (lifeline server ACTION NAME); choose another queue"),
        (["enqueue", "noop", "--args", #"{"a": "\u+041"}"#], "\\u must be followed by four hex digits"),
        (["worker", "--lease", "999999999999d"], "lifeline: --lease: duration '999999999999d' is longer than a year"),
        (["enqueue", "noop", "--delay", "9999999999999d"], "lifeline: --delay: duration '9999999999999d' is longer than a year"),
        (["worker", "--lease", "2h"], "lifeline: --lease must be 100ms to 1h, not 2h"),
        (["enqueue", "noop", "--at", "2030-01-01"], "lifeline: --at: invalid time '2030-01-01': give a date, a time and its offset, e.g. 2026-11-25T18:00:00Z or 2026-11-25T20:00:00+02:00"),
        (["queues", "limit", "q", "--create", "99999999999"], "lifeline: limit must be a whole number from 0 to 1000000, or 'none', not '99999999999'"),
    ])
    func messages(arguments: [String], message: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let result = try await cli.run(arguments)
        #expect(result.status == 64 && result.stderr.contains(message), "\(result.stderr)")
        #expect(try await cli.run(["enqueue", "noop", "--args", #"{"a": 1e300}"#]).status == 0, "a large number is a number")
    }

    @Test("empty input is called empty, and standard input is named as such")
    func emptyInput() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let blank = try cli.writeFile("blank", " \n")
        let args = try await cli.run(["enqueue", "sleep", "--args-file", "-"], input: blank)
        #expect(args.status == 64 && args.stderr == "lifeline: --args-file: standard input is empty: give a JSON object, e.g. {}\n", "\(args)")
        let file = try await cli.run(["enqueue", "sleep", "--args-file", "/dev/null"])
        #expect(file.status == 64 && file.stderr == "lifeline: --args-file: /dev/null is empty: give a JSON object, e.g. {}\n", "\(file)")
        let marked = try cli.writeFile("marked.json", "\u{FEFF}{\"ms\": 1}")
        let mark = try await cli.run(["enqueue", "sleep", "--args-file", marked])
        #expect(mark.status == 64 && mark.stderr == "lifeline: --args-file: \(marked) starts with a byte-order mark (EF BB BF); save it as UTF-8 without one\n", "\(mark)")
        let batch = try await cli.run(["enqueue", "sleep", "--batch", "-"], input: try cli.writeFile("none", ""))
        #expect(batch.status == 64 && batch.stderr == "lifeline: --batch: standard input has no jobs\n", "\(batch)")
    }

    @Test("a --db whose directory is missing is refused, not created")
    func missingDirectory() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let path = cli.home.appendingPathComponent("no/such/lifeline.db").path
        let result = try await cli.run(["enqueue", "noop", "--db", path])
        #expect(result.status == 4 && result.stderr.contains("no directory") && !FileManager.default.fileExists(atPath: cli.home.path))
    }

    @Test("a queue made in the default home (./queue, LIFELINE_HOME not set) is said once, on stderr; one named by LIFELINE_HOME is not")
    func defaultHomeMade() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try FileManager.default.createDirectory(at: cli.home, withIntermediateDirectories: true)
        var environment = cli.environment
        environment["LIFELINE_HOME"] = nil
        func enqueue() async throws -> BackgroundCommand {
            let command = try BackgroundCommand(cli.binary.path, ["enqueue", "noop"], environment: environment, directory: cli.home.path)
            #expect(try await command.waitForExit() == 0)
            return command
        }
        let first = try await enqueue()
        #expect(first.stderr == "lifeline: made a new queue in ./queue (LIFELINE_HOME is not set: commands run elsewhere use the queue there)\n")
        #expect(FileManager.default.fileExists(atPath: cli.home.appendingPathComponent("queue/lifeline.db").path))
        #expect(try await enqueue().stderr == "", "said once")
        let named = try await cli.run(["enqueue", "noop"])
        #expect(named.status == 0 && named.stderr == "", "\(named)")
    }

    @Test("a directory given as the database is called one")
    func directoryAsDatabase() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        try FileManager.default.createDirectory(at: cli.home, withIntermediateDirectories: true)
        let result = try await cli.run(["jobs", "list", "--db", cli.home.path])
        #expect(result.status == 64 && result.stderr.contains("is a directory; --db takes the database file's path"))
    }

    @Test("settings of an unknown queue are refused, naming the known ones, unless --create; a pause or resume that changes nothing says so")
    func unknownQueue() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop", "--queue", "nightly"])
        let typo = try await cli.run(["queues", "pause", "nighly"])
        #expect(typo.status == 4 && typo.stderr.contains("no queue 'nighly'; did you mean 'nightly'? known queues: nightly"), "\(typo.stderr)")
        // The stages' queues, which are accepted before their first job, are among the known.
        let far = try await cli.run(["queues", "pause", "recovery.nosuch"])
        #expect(far.status == 4 && far.stderr.contains("known queues: nightly, recovery.backup, recovery.cleanup, recovery.finalize,"), "\(far.stderr)")
        #expect(try await cli.json(["queues", "list", "--json"]).map { $0["name"] } == ["nightly"], "nothing was created")
        #expect(try await cli.run(["queues", "limit", "later", "2", "--create"]).status == 0)
        #expect(try await cli.run(["queues", "pause", "nightly"]).stdout == "queue nightly paused\n")
        // Saying it again changes nothing, and says so.
        #expect(try await cli.run(["queues", "pause", "nightly"]).stdout == "queue nightly was already paused\n")
        #expect(try await cli.run(["queues", "resume", "nightly"]).stdout == "queue nightly resumed\n")
        #expect(try await cli.run(["queues", "resume", "nightly"]).stdout == "queue nightly was not paused\n")
        #expect(try await cli.run(["queues", "resume", "later"]).stdout == "queue later was not paused\n")
    }

    @Test("a job whose worker died says its lease expired: in the list, in stats, in show and in JSON")
    func expiredLease() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["sleep", "--args", #"{"ms": 60000}"#])
        let worker = try cli.start(["worker", "--lease", "1s"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the job to run") { try await cli.job(id)["state"] == "running" }
        let owner = try #require(try await cli.job(id)["lease_owner"]?.stringValue)
        let listed = try await cli.run(["jobs", "list", "--running"]).lines
        #expect(listed.first?.hasSuffix("SERVER  WORKER") == true && listed.last?.hasSuffix(owner) == true, "which worker runs it: \(listed)")
        #expect(listed.joined().contains("ago, lease expired") == false)
        worker.signal(SIGKILL)
        _ = try await worker.waitForExit()
        try await waitUntil("the list to say the lease expired", timeout: .seconds(10)) {
            try await cli.run(["jobs", "list", "--running"]).stdout.contains("ago, lease expired")
        }
        let stats = try await cli.run(["stats"]).lines
        #expect(stats.contains { $0.hasPrefix(owner) && $0.hasSuffix("1: its worker stopped renewing") }, "\(stats)")
        #expect(try await cli.json(["stats", "--json"]).first?["expired_leases_by_worker"] == .object([owner: 1]), "as in the text")
        let shown = try await cli.run(["jobs", "show", "\(id)"]).stdout
        #expect(shown.contains("lease     \(owner) expired at ") && shown.contains("the next claim by any worker puts the job back in its queue"), "\(shown)")
        let job = try await cli.job(id)
        let expires = try #require(job["lease_expires_at"]?.stringValue.flatMap(LifelineJSON.parseTime))
        #expect(expires < Date() && job["attempted_at"]?.stringValue != nil && job["heartbeat_at"] != nil, "\(job)")
        // A cancel says that no worker hears it until the next claim, which cancels the job.
        let cancel = try await cli.run(["jobs", "cancel", "\(id)"])
        #expect(cancel.status == 0 && cancel.stdout == "job \(id) is running, but its worker stopped renewing its lease: it is cancelled at the next claim by any worker\n", "\(cancel)")
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.job(id)["state"] == "cancelled")
    }

    @Test("jobs retry runs a job waiting out an hour's backoff now, with a fresh budget, and a drain that waited for it ends")
    func retryWaitingJobNow() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // Fails its first run, succeeds once its marker exists.
        let marker = cli.home.appendingPathComponent("ran-once").path
        let id = try await cli.enqueue([
            "exec", "--args", #"{"argv": ["sh", "-c", "echo $LIFELINE_JOB_ATTEMPT >> \"$0.attempts\"; test -e \"$0\" || { touch \"$0\"; exit 1; }", "\#(marker)"]}"#,
            "--backoff", "1h",
        ])
        let worker = try cli.start(["worker", "--drain"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the first attempt to fail") { try await cli.job(id)["state"] == "retryable" }
        let retried = try await cli.run(["jobs", "retry", "\(id)"])
        #expect(retried.status == 0 && retried.stdout == "retried 1 job: \(id)\n", "\(retried)")
        #expect(try await worker.waitForExit() == 0, "the drain ends once the job has run")
        let job = try await cli.job(id)
        // Attempts are numbered on: a program fencing its writes with LIFELINE_JOB_ATTEMPT sees a larger one.
        #expect(job["state"] == "completed" && job["attempt"] == 2 && job["max_attempts"] == 21 && job["errors"]?.arrayValue?.count == 1, "\(job)")
        #expect(try String(contentsOfFile: marker + ".attempts", encoding: .utf8) == "1\n2\n")
    }

    @Test("a job's timeline shows every retry by hand and every cancel, in order, between the attempts they separate")
    func retriedTimeline() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["exec", "--args", #"{"argv": ["false"]}"#, "--max-attempts", "1"])
        let timeline = { () async throws -> [String] in
            let lines = try await cli.run(["jobs", "show", "\(id)"]).lines
            let start = try #require(lines.firstIndex(of: "timeline"))
            return lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { String($0.split(separator: " ")[0]) }
        }
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.run(["jobs", "retry", "\(id)"]).status == 0)
        #expect(try await timeline() == ["enqueued", "attempt", "retried"])
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        let lines = try await cli.run(["jobs", "show", "\(id)"]).stdout
        #expect(lines.contains("by hand: as many attempts again, numbered on"), "\(lines)")
        #expect(try await timeline() == ["enqueued", "attempt", "retried", "attempt"], "\(lines)")
        // Every retry and cancel is there, in order, not only the last retry.
        for command in ["retry", "cancel", "retry", "cancel"] { #expect(try await cli.run(["jobs", command, "\(id)"]).status == 0) }
        #expect(try await timeline() == ["enqueued", "attempt", "retried", "attempt", "retried", "cancelled", "retried", "cancelled"])
        let retried = try await cli.run(["jobs", "show", "\(id)"]).stdout
        #expect(retried.contains("  before it ran again\n"), "\(retried)")
        let waiting = try await cli.enqueue(["noop"])
        #expect(try await cli.run(["jobs", "cancel", "\(waiting)"]).status == 0)
        let shown = try await cli.run(["jobs", "show", "\(waiting)"]).stdout
        #expect(shown.contains("\n  cancelled  ") && shown.contains("  before it ran\n"), "a job that never ran: \(shown)")
    }

    @Test("finished jobs past their queue's retention are pruned by workers; jobs prune has --dry-run")
    func retention() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let kept = try await cli.enqueue(["noop"])
        // Every queue: the stages' too, with or without jobs yet.
        #expect(try await cli.run(["queues", "retain", "--all", "--completed", "7d"]).stdout == "7 queues keep completed 7d\n")
        let stage = try await cli.json(["queues", "list", "--json"]).first { $0["name"] == "recovery.finalize" }
        #expect(stage?["retain_completed_seconds"] == 604_800, "\(stage ?? .null)")
        let id = try await cli.enqueue(["noop", "--queue", "quick"])
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.run(["queues", "retain", "quick", "--completed", "1ms", "--failed", "0"]).stdout == "queue quick keeps completed 1ms, failed forever\n")
        let queues = try await cli.json(["queues", "list", "--json"])
        #expect(queues.first { $0["name"] == "quick" }?["retain_failed_seconds"] == .null)
        #expect(queues.first { $0["name"] == "default" }?["retain_completed_seconds"] == 604_800, "7 days by default")
        let dryRun = try await cli.run(["jobs", "prune", "--older-than", "0s", "--dry-run"])
        #expect(dryRun.status == 0 && dryRun.stdout.hasPrefix("would prune 2 jobs"))
        let counted = try await cli.json(["jobs", "prune", "--older-than", "0s", "--dry-run", "--json"])
        #expect(counted.count == 1 && counted[0]["dry_run"] == true && counted[0]["jobs"] == 2 && counted[0]["events"]?.intValue ?? 0 > 0)
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        try await waitUntil("the worker to prune the job", timeout: .seconds(30)) {
            try await cli.run(["jobs", "show", "\(id)"]).status == 4
        }
        #expect(try await cli.job(kept)["state"] == "completed", "the default queue keeps its jobs 7 days")
        #expect(try await cli.json(["events", "--json"]).allSatisfy { $0["job"]?.intValue != id }, "its events went with it")
        let pruned = try await cli.json(["events", "--type", "pruned", "--json"])
        #expect(pruned.count == 1 && pruned.first?["data"] == ["jobs": 1, "events": 3, "queues": ["quick"]], "the deletion itself is in the log")
    }

    @Test("events --follow starts with the last 10 events")
    func followStartsWithTen() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let batch = try cli.writeFile("jobs.jsonl", String(repeating: "{}\n", count: 15))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        let follower = try cli.start(["events", "--follow", "--json"])
        defer { follower.signal(SIGKILL) }
        var seqs: [Int64] = []
        for _ in 0..<10 { seqs.append(try JSONValue(parsing: try await follower.nextLine())["seq"]?.intValue ?? 0) }
        #expect(seqs == Array(6...15))
        let all = try cli.start(["events", "--follow", "--all", "--json"])
        defer { all.signal(SIGKILL) }
        #expect(try JSONValue(parsing: try await all.nextLine())["seq"] == 1)
    }

    @Test("events --follow into head -1 ends once head has its line, with nothing new to print (SIGPIPE, as tail -f)")
    func followIntoHead() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        _ = try await cli.enqueue(["noop"])
        let script = #"{ "$0" events --follow; echo "follower exited $?" >&2; } | head -1"#
        let pipeline = try BackgroundCommand("/bin/sh", ["-c", script, cli.binary.path], environment: cli.environment)
        defer { pipeline.signal(SIGKILL) }
        #expect(try await pipeline.waitForExit(timeout: .seconds(15)) == 0)
        #expect(pipeline.stdout.contains("enqueued") && pipeline.stdout.split(separator: "\n").count == 1, "\(pipeline.stdout)")
        #expect(pipeline.stderr == "follower exited 141\n", "\(pipeline.stderr)")
    }

    @Test("a failover to a recovery point the machine lacks is refused at once; server points lists them")
    func recoveryPoints() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB", "--wait"]).status == 0)
        let points = try await cli.json(["server", "points", "web-1", "--json"]).compactMap { $0["id"]?.stringValue }
        #expect(points == ["rp-001", "rp-002", "rp-003"])
        let refused = try await cli.run(["server", "failover", "web-1", "--recovery-point", "rp-999"])
        #expect(refused.status == 4 && refused.stderr.contains("no recovery point 'rp-999'; it has: rp-001, rp-002, rp-003"))
        #expect(try await cli.server("web-1")?["state"] == "standby", "nothing was requested")
        // From a shell whose LIFELINE_HOME is not the workers', naming the database: the
        // machine's points are out of sight, which is said, not taken for none.
        let elsewhere = ["LIFELINE_HOME": cli.home.path + "-elsewhere"]
        let database = ["--db", cli.home.appendingPathComponent("lifeline.db").path]
        let unseen = try await cli.run(["server", "points", "web-1"] + database, extraEnvironment: elsewhere)
        #expect(unseen.status == 4 && unseen.stderr.contains("machine web-1 is not in the simulated infrastructure at \(cli.home.path)-elsewhere/infra"), "\(unseen)")
        let unchecked = try await cli.run(["server", "failover", "web-1", "--recovery-point", "rp-999"] + database, extraEnvironment: elsewhere)
        #expect(unchecked.status == 4 && unchecked.stderr.contains("cannot check recovery point 'rp-999'") && unchecked.stderr.contains("give it the workers' LIFELINE_HOME"), "\(unchecked)")
        #expect(try await cli.server("web-1")?["state"] == "standby", "nothing was requested")
        #expect(try await cli.run(["server", "failover", "web-1", "--recovery-point", "rp-002", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["recovery_point"] == "rp-002")
    }

    @Test("a server's recovery point is the one its start asked for, none while the latest is still to be resolved, and none in standby")
    func recoveryPointShown() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "test-failover", "web-1", "--recovery-point", "rp-001", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["recovery_point"] == "rp-001")
        #expect(try await cli.run(["server", "stop-test", "web-1", "--wait"]).status == 0)
        #expect(try await cli.server("web-1")?["recovery_point"] == .null, "no recovery VM runs in standby")
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit() == 0)
        let asked = try await cli.run(["server", "failover", "web-1", "--json"])
        #expect(try JSONValue(parsing: asked.stdout)["server"]?["recovery_point"] == .null, "the latest, not rp-001: \(asked)")
        #expect(try await cli.run(["server", "show", "web-1"]).stdout.contains("rp-001") == false)
        let next = try cli.start(["worker"])
        defer { next.signal(SIGKILL) }
        let waited = try await cli.run(["server", "wait", "web-1", "--state", "failover", "--timeout", "60s", "--json"])
        #expect(waited.status == 0, "\(waited)")
        let server = try JSONValue(parsing: waited.stdout)
        #expect(server["state"] == "failover" && server["recovery_point"] == "rp-003", "the server as it reached the state: \(waited)")
    }

    @Test("server wait exits 0 for a state the server went through between two of its reads, and says so; not for one before it began")
    func waitForPassedState() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let worker = try cli.start(["worker"])
        defer { worker.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB", "--wait"]).status == 0)
        #expect(try await cli.run(["server", "failover", "web-1", "--wait"]).status == 0)
        let wait = try cli.start(["server", "wait", "web-1", "--state", "cancelling_failover", "--timeout", "60s"])
        // Once it has read the server in failover, stopped, it reads nothing more until the cancel is done.
        try await waitUntil("the wait to read the server", timeout: .seconds(30)) { wait.stderr.contains("rests in failover") }
        wait.signal(SIGSTOP)
        #expect(try await cli.run(["server", "cancel-failover", "web-1", "--wait"]).status == 0)
        wait.signal(SIGCONT)
        #expect(try await wait.waitForExit() == 0, "\(wait.stderr)")
        #expect(wait.stdout.hasPrefix("web-1 was cancelling_failover at ") && wait.stdout.hasSuffix(", and is standby now\n"), "\(wait.stdout)")
        let late = try await cli.run(["server", "wait", "web-1", "--state", "cancelling_failover", "--timeout", "1s"])
        #expect(late.status == 1 && late.stderr.contains("timed out: web-1 is still in standby"), "\(late)")
    }

    @Test("server show leads with its name, then state, progress and error, says when a stage waits for a worker, and why the actions it does not allow are refused")
    func serverShow() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "64KiB"]).status == 0)
        let lines = try await cli.run(["server", "show", "web-1"]).lines
        #expect(lines.prefix(2) == ["server    web-1", "state     creating: job 1 create, waiting for a worker"], "\(lines)")
        #expect(lines.contains("allowed   nothing until the operation ends") && lines.contains("why not   job 1 (create) is under way: every action waits for its end"), "\(lines)")
        // Only what blocks actions besides the state: the state's own refusals are in the JSON.
        #expect(!lines.contains { $0.contains("only in") || $0.contains("not allowed while") }, "\(lines)")
        // Each action's reason names the states that take it: the operation's end may reach one or not.
        let creating = try #require(try await cli.server("web-1"))
        #expect(creating["why_not"]?["failover"] == "only in standby, and the server is at work on job 1 (create)", "\(creating)")
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let standby = try await cli.run(["server", "show", "web-1"]).lines
        let allowed = try #require(standby.firstIndex(of: "allowed   failover, test-failover, delete"), "\(standby)")
        #expect(standby[allowed + 1].hasPrefix("vm "), "nothing but the state refuses the others: \(standby)")
        let json = try #require(try await cli.server("web-1"))
        #expect(json["why_not"]?["failback"] == "only in failover" && json["why_not"]?["failover"] == nil, "\(json)")
    }

    /// The words of an example line as a shell would split it (quotes, no expansion), without
    /// its comment and the leading `lifeline`.
    static func words(_ line: String) -> [String] {
        var words: [String] = []
        var word: String?
        var quote: Character?
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { word!.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                word = word ?? ""
            } else if character == "#" && word == nil {
                break
            } else if character == " " {
                if let done = word { words.append(done) }
                word = nil
            } else {
                word = (word ?? "") + String(character)
            }
        }
        if let done = word { words.append(done) }
        return Array(words.dropFirst())
    }

    /// The commands in the order their examples make a story: a server's actions in an order
    /// its states allow, a queue paused before it is resumed.
    static let story: [[String]] = [
        [], ["enqueue"], ["jobs"], ["jobs", "list"], ["jobs", "show"], ["jobs", "retry"], ["jobs", "cancel"], ["jobs", "prune"],
        ["events"], ["stats"], ["server", "create"], ["server"], ["server", "failover"], ["server", "failback"],
        ["server", "cancel-failback"], ["server", "cancel-failover"], ["server", "test-failover"], ["server", "stop-test"],
        ["server", "confirm-failback"], ["server", "retry"], ["server", "delete"], ["server", "list"], ["server", "show"],
        ["server", "history"], ["server", "points"], ["server", "wait"], ["queues"], ["queues", "list"], ["queues", "limit"],
        ["queues", "pause"], ["queues", "resume"], ["queues", "retain"], ["worker"], ["serve"],
    ]

    @Test("every --help example runs as written against the queue the demo leaves behind")
    func helpExamples() async throws {
        #expect(Set(Self.story.map { $0.joined(separator: " ") }) == Set(Self.commands.map { $0.joined(separator: " ") }))
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        // What Scripts/demo.sh leaves behind: web-1 at rest in standby, a nightly job that
        // failed for good, and a worker pool still running.
        let pool = try cli.start(["worker", "--concurrency", "8"])
        defer { pool.signal(SIGKILL) }
        #expect(try await cli.run(["server", "create", "web-1", "--disk-size", "256KiB", "--wait"]).status == 0)
        let nightly = try await cli.enqueue(["exec", "--queue", "nightly", "--max-attempts", "1", "--args", #"{"argv": ["false"]}"#])
        try await waitUntil("the nightly job to fail") { try await cli.job(nightly)["state"] == "discarded" }
        let directory = URL(fileURLWithPath: (try cli.writeFile("jobs.jsonl", "{}\n{}\n") as NSString).deletingLastPathComponent)

        for command in Self.story {
            for example in Self.examples(try await cli.run(command + ["--help"]).stdout) {
                let words = Self.words(example)
                let endless = words.contains("--follow") || words.contains("--watch") || words.first == "serve"
                    || (words.first == "worker" && !words.contains("--drain"))
                let run = try cli.start(words, directory: directory)
                if endless {
                    try? await waitUntil("\(example) to keep running", timeout: .seconds(2)) { !run.isRunning }
                    #expect(run.isRunning || run.terminationStatus == 0, "\(example): \(run.stderr)")
                    run.signal(SIGTERM)
                    _ = try await run.waitForExit(timeout: .seconds(40))
                    continue
                }
                let status = try await run.waitForExit(timeout: .seconds(120))
                // A server action the story's states do not allow, or a cancel of a job that has
                // completed, is refused as documented.
                let refusable = words.first == "server" && ServerActionNames.all.contains(words[1]) || words.prefix(2) == ["jobs", "cancel"]
                let allowed: Set<Int32> = refusable ? [0, 3] : [0]
                #expect(allowed.contains(status), "\(example) exited \(status): \(run.stderr)")
                let reads: Set<String> = ["list", "show", "history", "points", "stats", "events"]
                if status == 0, reads.contains(words[words.first == "stats" || words.first == "events" ? 0 : 1]) {
                    #expect(!run.stdout.isEmpty, "\(example) printed nothing")
                }
            }
        }
    }
}

enum ServerActionNames {
    static let all: Set<String> = [
        "failover", "test-failover", "cancel-failover", "failback", "confirm-failback", "cancel-failback", "stop-test", "retry", "delete",
    ]
}
