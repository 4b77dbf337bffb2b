import ArgumentParser

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Add a job, or a batch of jobs, to the queue.",
        discussion: """
            Durations take ms, s, m, h, d (e.g. 250ms, 30s, 1h30m, 7d). With --idempotency-key, enqueueing \
            the same kind and args again returns the existing job; other kind or args exit 3.

            The kinds anyone may enqueue, and their --args:
              noop   any object; does nothing
              sleep  {"ms": N}: waits N milliseconds
              flaky  {"fail_times": N}: fails its first N attempts, then succeeds
              exec   {"argv": ["cp", "a", "b"], "env": {"TZ": "UTC"}, "cwd": "/srv"}:
                     runs argv's program (found in PATH), never through a shell; env
                     (on top of the worker's, with LIFELINE_JOB_ID and
                     LIFELINE_JOB_ATTEMPT) and cwd are optional. Its result is
                     {"exit_status", "stdout", "stderr"}, the last 4 KiB of each; a
                     nonzero exit fails the attempt, with the end of its error output.

            --batch reads one JSON object per line, all inserted in one transaction or none. Every \
            field is optional (null is the same as leaving it out); KIND is the default kind; \
            "delay" sets when a line's job runs (there is no "at"). Three lines of a batch:
              {"kind": "sleep", "args": {"ms": 10}, "queue": "q", "priority": 1}
              {"idempotency_key": "k", "max_attempts": 5, "timeout": "30s"}
              {"backoff": "1s", "delay": "5m"}

            Examples:
              lifeline enqueue noop
              lifeline enqueue sleep --args '{"ms": 2000}' --queue slow --json
              lifeline enqueue exec --args '{"argv": ["echo", "hi"]}' --idempotency-key hi
              lifeline enqueue noop --batch jobs.jsonl
              generate-jobs | lifeline enqueue noop --batch -
            """
    )

    @Argument(help: "The job kind: noop, sleep, flaky, exec, …")
    var kind: String

    @Option(help: ArgumentHelp("The job's arguments, a JSON object of at most 1 MiB: a field its kind does not know is refused (noop takes any).", valueName: "JSON"))
    var args: String?

    @Option(name: .customLong("args-file"), help: ArgumentHelp("Read the arguments from a JSON file (-: standard input).", valueName: "FILE"))
    var argsFile: String?

    @Option(help: "The queue (default: default; each recovery stage has a queue of its own).")
    var queue: String?

    @Option(parsing: .unconditional, help: "0 to 9; lower runs first (default: the kind's, 5 for noop, sleep, flaky, exec).")
    var priority: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Run no sooner than this from now, at most a year.", valueName: "D"))
    var delay: String?

    @Option(help: ArgumentHelp("Run no sooner than this ISO 8601 time, with its offset (2030-01-01T09:00:00Z, …+02:00); one past is due now, behind the jobs due before it.", valueName: "TIME"))
    var at: String?

    @Option(name: .customLong("max-attempts"), parsing: .unconditional, help: "Attempts before the job is discarded, 1 to 1000000 (default: the kind's, 20).")
    var maxAttempts: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("The deadline of each attempt, 1ms to 7d (default: the kind's, 30m).", valueName: "D"))
    var timeout: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The first retry's delay, at most 1d; it doubles with each failure up to the kind's cap (an hour for most kinds, 10s for flaky, never below this delay), less up to a fifth at random (default: the kind's, 1s; 100ms for flaky).", valueName: "D"))
    var backoff: String?

    @Option(name: .customLong("idempotency-key"), help: ArgumentHelp("Enqueue at most once under this key.", valueName: "K"))
    var idempotencyKey: String?

    @Option(help: ArgumentHelp("Enqueue every line of a JSONL file in one transaction (-: standard input).", valueName: "FILE.jsonl"))
    var batch: String?

    @Flag(help: "Print the job as JSON.")
    var json = false

    @OptionGroup var store: StoreOptions

    /// The options as plain values, which ``EnqueueFastPath`` fills without the parser.
    var options: EnqueueOptions {
        EnqueueOptions(
            kind: kind, args: args, argsFile: argsFile, queue: queue, priority: priority, delay: delay, at: at,
            maxAttempts: maxAttempts, timeout: timeout, backoff: backoff, idempotencyKey: idempotencyKey, batch: batch,
            json: json, store: SelectedStore(db: store.db)
        )
    }

    func validate() throws {
        try options.validate()
    }

    func run() async throws {
        try await options.run()
    }
}
