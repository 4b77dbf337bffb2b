import ArgumentParser
import Foundation
import LifelinePostgres
import LifelineQueue

/// What `lifeline enqueue` was asked to do, as plain values, and the doing of it. The parser
/// fills it from ``EnqueueCommand``'s options; ``EnqueueFastPath`` fills it directly, which
/// spares a start the parser's option wrappers.
struct EnqueueOptions: Equatable {
    var kind: String
    var args: String?
    var argsFile: String?
    var queue: String?
    var priority: Int?
    var delay: String?
    var at: String?
    var maxAttempts: Int?
    var timeout: String?
    var backoff: String?
    var idempotencyKey: String?
    var batch: String?
    var json = false
    var store = SelectedStore()

    func validate() throws {
        if args != nil && argsFile != nil { throw ValidationError("use either --args or --args-file") }
        if delay != nil && at != nil { throw ValidationError("use either --delay or --at") }
        if batch != nil && (args != nil || argsFile != nil || idempotencyKey != nil) {
            throw ValidationError("--batch takes args and keys from its lines; drop --args, --args-file and --idempotency-key")
        }
    }

    /// Runs on its caller's thread until it must wait (`nonisolated(nonsending)`), so from the
    /// main thread a one-job enqueue on SQLite starts no thread of Swift concurrency's: their
    /// three threads were a sixth of its time.
    nonisolated(nonsending) func run() async throws {
        if try runOnSQLite() { return }
        if let batch {
            try await enqueueBatch(path: batch)
        } else {
            let opened = try await store.openStore()
            let job = try store.registry().prepare(try request())
            try report(try await Self.insert([job], into: opened.jobs, notMade: "the job was not enqueued")[0])
        }
    }

    /// Inserts in one transaction, saying what a failure before its commit leaves: `notMade`.
    /// After the commit was sent, whether it was made is not known, as the error says.
    private static func insert(_ jobs: [NewJob], into store: any JobStore, notMade: String) async throws -> [InsertedJob] {
        do {
            return try await store.jobInsert(jobs)
        } catch let lost as PostgresStoreError where lost.isOutage {
            if case .commitUnknown = lost { throw lost }
            throw CLIFailure(.runtime, "\(lost); \(notMade)")
        } catch let statement as PostgresStatementError {
            throw CLIFailure(.runtime, "PostgreSQL: \(statement); \(notMade)")
        }
    }

    /// Enqueues one job into a queue on SQLite without waiting on Swift concurrency, and says
    /// whether it did; a batch, or a queue on PostgreSQL, goes on in ``run()``. A database
    /// that is ready takes the job through SQLite's C API alone (``DirectInsert``); one to
    /// create or migrate, or that cannot be written, through the store opened in full.
    private func runOnSQLite() throws -> Bool {
        guard batch == nil, try store.postgresLocation() == nil else { return false }
        let job = try store.registry().prepare(try request())
        if let inserted = try store.insertDirectly(job) {
            try report(inserted)
            return true
        }
        let jobs = try store.openSQLite()
        let inserted = try jobs.jobInsertNow([job])[0]
        jobs.closeForExit()
        try report(inserted)
        return true
    }

    private func report(_ inserted: InsertedJob) throws {
        let output = Output.standardOutput
        if !inserted.existing { Output.made("enqueued job \(inserted.job.id)") }
        let unapplied = inserted.existing ? unapplied(to: inserted.job) : []
        if !unapplied.isEmpty {
            Output.standardError.writeLine(
                "lifeline: job \(inserted.job.id) keeps the settings it was enqueued with; not applied: \(unapplied.joined(separator: ", ")) (a key compares only kind and args)"
            )
        }
        if json {
            try output.writeJSON(EnqueuedJob(inserted))
        } else {
            // The job as it is, so that a key's earlier job on another queue shows as such.
            let job = "job \(inserted.job.id) (\(inserted.job.kind) on \(inserted.job.queue), \(inserted.job.state.rawValue))"
            // A key's job that failed or was cancelled stays so: said with what runs it again.
            let again = [.discarded, .cancelled].contains(inserted.job.state) ? "; lifeline jobs retry \(inserted.job.id) runs it again" : ""
            output.writeLine(inserted.existing ? "\(job) already exists under key '\(idempotencyKey ?? "")'\(again)" : "enqueued \(job)")
        }
    }

    /// The options given that a key's earlier job does not have: it keeps its own.
    private func unapplied(to job: Job) -> [String] {
        var options: [String] = []
        if let queue, queue != job.queue { options.append("--queue \(queue)") }
        if let priority, priority != job.priority { options.append("--priority \(priority)") }
        if let maxAttempts, maxAttempts != job.maxAttempts { options.append("--max-attempts \(maxAttempts)") }
        if let timeout, (try? InputParsing.duration(timeout, flag: "--timeout")) != job.timeout { options.append("--timeout \(timeout)") }
        return options
    }

    private func enqueueBatch(path: String) async throws {
        let registry = store.registry()
        // What every line inherits is the command line's fault, not the first line's, and is
        // said before the lines are read.
        let defaults = try request()
        _ = try registry.checkKind(kind)
        if let queue { try registry.checkQueue(queue) }
        try JobLimits.checkSettings(priority: priority, maxAttempts: maxAttempts, timeout: defaults.timeout, backoff: defaults.backoff)
        let data = try InputParsing.readFile(path, flag: "--batch", limit: BatchFile.largest, mostLines: BatchFile.mostLines)
        // Read whole before the store is opened: a bad line creates nothing either.
        let batch = try await BatchFile.parse(data, source: path == "-" ? "standard input" : "the file", defaults: defaults, registry: registry)
        let opened = try await store.openStore()
        let inserted: [InsertedJob]
        do {
            inserted = try await Self.insert(batch.jobs, into: opened.jobs, notMade: "none of the batch was enqueued")
        } catch JobStoreError.idempotencyConflict(let key, let existing) {
            throw CLIFailure(.conflict, batch.conflict(key: key, existing: existing))
        }
        let existing = inserted.filter(\.existing).count
        let summary = BatchSummary(enqueued: inserted.count - existing, existing: existing, ids: inserted.map(\.job.id))
        let new = inserted.filter { !$0.existing }.map(\.job.id)
        // Named as the answer names them, so that the jobs are not enqueued again.
        if summary.enqueued > 0 { Output.made("enqueued \(JobText.counted(new))") }
        if json {
            try Output.standardOutput.writeJSON(summary)
        } else {
            let before = inserted.filter(\.existing).map(\.job.id)
            Output.standardOutput.writeLine("enqueued \(JobText.counted(new))" + (before.isEmpty ? "" : " (\(before.count) already existed: \(JobText.runs(before)))"))
        }
    }

    /// The request the flags describe; for a batch, the defaults of every line.
    private func request() throws -> EnqueueRequest {
        var argsValue: JSONValue = .object([:])
        if let args {
            argsValue = try InputParsing.json(args, source: "--args")
        } else if let argsFile {
            // Room for the arguments, however they are laid out.
            let data = try InputParsing.readFile(argsFile, flag: "--args-file", limit: 16 * JobLimits.argsBytes)
            guard data.contains(where: { !" \t\r\n".utf8.contains($0) }) else {
                throw CLIFailure(.invalidInput, "--args-file: \(argsFile == "-" ? "standard input" : argsFile) is empty: give a JSON object, e.g. {}")
            }
            if data.starts(with: [0xEF, 0xBB, 0xBF]) {
                throw CLIFailure(.invalidInput, "--args-file: \(argsFile == "-" ? "standard input" : argsFile) starts with a byte-order mark (EF BB BF); save it as UTF-8 without one")
            }
            argsValue = try InputParsing.json(try InputParsing.utf8(data, source: "--args-file"), source: "--args-file")
        }
        let delay = try delay.map { try InputParsing.duration($0, flag: "--delay") }
        let runAt = try at.map { try InputParsing.time($0, flag: "--at") }
        return EnqueueRequest(
            kind: kind, args: argsValue, queue: queue, priority: priority, maxAttempts: maxAttempts,
            timeout: try timeout.map { try InputParsing.duration($0, flag: "--timeout") },
            backoff: try backoff.map { try InputParsing.duration($0, flag: "--backoff") },
            runAt: runAt, delay: delay, idempotencyKey: idempotencyKey
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
    /// Each line's job, in the file's order: for a line whose key was taken, the job that has it.
    var ids: [Int64]
}
