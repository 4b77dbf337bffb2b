import ArgumentParser
import Foundation
import LifelineQueue

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Add a job, or a batch of jobs, to the queue.",
        discussion: """
            Durations take ms, s, m, h (e.g. 250ms, 30s, 1h30m). With --idempotency-key, enqueueing \
            the same kind and args again returns the existing job; other kind or args exit 3.

            --batch reads one JSON object per line, all inserted in one transaction or none. Every \
            field is optional; KIND is the default kind. Three lines of a batch:
              {"kind": "sleep", "args": {"ms": 10}, "queue": "q", "priority": 1}
              {"idempotency_key": "k", "max_attempts": 5, "timeout": "30s"}
              {"backoff": "1s", "delay": "5m"}

            Examples:
              lifeline enqueue noop
              lifeline enqueue sleep --args '{"ms": 2000}' --queue slow --json
              lifeline enqueue exec --args '{"argv": ["echo", "hi"]}' --idempotency-key hi
              lifeline enqueue noop --batch jobs.jsonl
            """
    )

    @Argument(help: "The job kind: noop, sleep, flaky, exec, …")
    var kind: String

    @Option(help: ArgumentHelp("The job's arguments as a JSON object.", valueName: "JSON"))
    var args: String?

    @Option(name: .customLong("args-file"), help: ArgumentHelp("Read the arguments from a JSON file.", valueName: "FILE"))
    var argsFile: String?

    @Option(help: "The queue (default: the kind's).")
    var queue: String?

    @Option(parsing: .unconditional, help: "0 to 9; lower runs first (default: the kind's).")
    var priority: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Run no sooner than this from now.", valueName: "D"))
    var delay: String?

    @Option(help: ArgumentHelp("Run no sooner than this ISO 8601 time.", valueName: "TIME"))
    var at: String?

    @Option(name: .customLong("max-attempts"), parsing: .unconditional, help: "Attempts before the job is discarded.")
    var maxAttempts: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("The deadline of each attempt.", valueName: "D"))
    var timeout: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The first retry's delay; it doubles with each failure, capped.", valueName: "D"))
    var backoff: String?

    @Option(name: .customLong("idempotency-key"), help: ArgumentHelp("Enqueue at most once under this key.", valueName: "K"))
    var idempotencyKey: String?

    @Option(help: ArgumentHelp("Enqueue every line of a JSONL file in one transaction.", valueName: "FILE.jsonl"))
    var batch: String?

    @Flag(help: "Print the job as JSON.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if args != nil && argsFile != nil { throw ValidationError("use either --args or --args-file") }
        if delay != nil && at != nil { throw ValidationError("use either --delay or --at") }
        if batch != nil && (args != nil || argsFile != nil || idempotencyKey != nil) {
            throw ValidationError("--batch takes args and keys from its lines; drop --args, --args-file and --idempotency-key")
        }
    }

    func run() async throws {
        if let batch {
            try await enqueueBatch(path: batch)
        } else {
            try await enqueueOne()
        }
    }

    private func enqueueOne() async throws {
        let opened = try await store.openStore()
        let job = try store.registry(queue: opened).prepare(try request())
        let inserted = try await opened.jobs.jobInsert([job])[0]
        let output = Output.standardOutput
        if json {
            try output.writeJSON(EnqueuedJob(inserted))
        } else if inserted.existing {
            output.writeLine("job \(inserted.job.id) already exists under key '\(idempotencyKey ?? "")' (\(inserted.job.state.rawValue))")
        } else {
            output.writeLine("enqueued job \(inserted.job.id) (\(inserted.job.kind) on \(inserted.job.queue), \(inserted.job.state.rawValue))")
        }
    }

    private func enqueueBatch(path: String) async throws {
        let data = try InputParsing.readFile(path, flag: "--batch")
        let opened = try await store.openStore()
        let jobs = try await BatchFile.parse(data, defaults: try request(), registry: store.registry(queue: opened))
        let inserted = try await opened.jobs.jobInsert(jobs)
        let existing = inserted.filter(\.existing).count
        let summary = BatchSummary(enqueued: inserted.count - existing, existing: existing)
        if json {
            try Output.standardOutput.writeJSON(summary)
        } else {
            Output.standardOutput.writeLine("enqueued \(summary.enqueued) jobs" + (existing > 0 ? " (\(existing) already existed)" : ""))
        }
    }

    /// The request the flags describe; for a batch, the defaults of every line.
    private func request() throws -> EnqueueRequest {
        var argsValue: JSONValue = .object([:])
        if let args {
            argsValue = try InputParsing.json(args, source: "--args")
        } else if let argsFile {
            let data = try InputParsing.readFile(argsFile, flag: "--args-file")
            argsValue = try InputParsing.json(try InputParsing.utf8(data, source: "--args-file"), source: "--args-file")
        }
        var runAt: Date?
        if let delay { runAt = Date().adding(try InputParsing.duration(delay, flag: "--delay")) }
        if let at { runAt = try InputParsing.time(at, flag: "--at") }
        return EnqueueRequest(
            kind: kind, args: argsValue, queue: queue, priority: priority, maxAttempts: maxAttempts,
            timeout: try timeout.map { try InputParsing.duration($0, flag: "--timeout") },
            backoff: try backoff.map { try InputParsing.duration($0, flag: "--backoff") },
            runAt: runAt, idempotencyKey: idempotencyKey
        )
    }
}

/// `enqueue --json`: the job object, plus whether it existed under its idempotency key.
struct EnqueuedJob: Encodable {
    var inserted: InsertedJob

    init(_ inserted: InsertedJob) { self.inserted = inserted }

    enum CodingKeys: String, CodingKey { case existing }

    func encode(to encoder: any Encoder) throws {
        try inserted.job.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(inserted.existing, forKey: .existing)
    }
}

struct BatchSummary: Encodable {
    var enqueued: Int
    var existing: Int
}
