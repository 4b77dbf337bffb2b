import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

struct JobsRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Put discarded or cancelled jobs back, or run retryable or scheduled ones now, with a fresh attempt budget.",
        discussion: """
            A job waiting for its backoff (retryable) or its time (scheduled) is made due now. \
            Its attempts are numbered on (LIFELINE_JOB_ATTEMPT only grows), and its \
            max_attempts grows by the attempts it has made, so that it may make as many again; \
            its backoff counts on from its attempts too. \
            Running, available and completed jobs are refused (exit 3), and so are recovery \
            stage jobs, which their servers retry.

            Examples:
              lifeline jobs retry --state discarded --kind exec --since 6h --dry-run
              lifeline jobs retry --state discarded --queue nightly
              lifeline jobs retry --state retryable --queue nightly
            """
    )

    @Argument(help: "Job ids.")
    var ids: [Int64] = []

    /// The states a job is retried from.
    enum RetriedState: String, CaseIterable, ExpressibleByArgument {
        case discarded, cancelled, retryable, scheduled
    }

    @Option(help: "Retry every job in this state that matches the filters (repeatable: the states add up).")
    var state: [RetriedState] = []

    @Option(help: "With --state: only this kind.")
    var kind: String?

    @Option(help: "With --state: only this queue.")
    var queue: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("With --state: only jobs created, run or finished within this long.", valueName: "D"))
    var since: String?

    @Flag(name: .customLong("dry-run"), help: "Say which jobs would be retried; change nothing.")
    var dryRun = false

    @Flag(help: "Print the jobs retried (with --dry-run, those that would be) as JSON lines.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        try JobIDs.check(ids)
        if state.isEmpty && (kind != nil || queue != nil || since != nil) {
            let states = RetriedState.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--kind, --queue and --since go with --state (\(states)), which picks the jobs they filter")
        }
        guard ids.isEmpty != state.isEmpty else { throw ValidationError("give job ids or --state, not both or neither") }
    }

    func run() async throws {
        if let queue { try JobLimits.checkQueueName(queue) }
        // Checked before the store opens, as every command's input is.
        let back = try since.map { try InputParsing.duration($0, flag: "--since") }
        // A dry run only reads: it works where the queue may not be written.
        let opened = dryRun ? try await store.openReader() : try await store.openStore(creating: false)
        let output = Output.standardOutput
        // Recovery stages are retried through their servers, never on their own.
        var candidates: [Job]
        if !state.isEmpty {
            let since = back.map { InputParsing.ago($0, in: opened.jobs) }
            let states = Set(state.map { JobState(rawValue: $0.rawValue)! })
            let matching = try await opened.jobs.jobList(JobFilter(states: states, queue: queue, kind: kind, activeSince: since))
            if matching.isEmpty { try await FilterHint.sayUnknown(queue: queue, server: nil, kind: kind.map { ($0, store.registry().allKinds) }, in: opened) }
            let stages = matching.filter(StageJobs.retriedByItsServer)
            candidates = matching.filter { !StageJobs.retriedByItsServer($0) }
            if !stages.isEmpty {
                let what = stages.count == 1 ? "1 recovery stage job" : "\(stages.count) recovery stage jobs"
                Output.standardError.writeLine("lifeline: skipped \(what): their servers retry them (lifeline server retry NAME, or the action again)")
            }
        } else {
            var found: [Job] = []
            var missing: [Int64] = []
            for id in JobIDs.distinct(ids) {
                guard let job = try await opened.jobs.jobGet(id) else {
                    missing.append(id)
                    continue
                }
                if let refusal = try await StageJobs.retryRefusal(job, in: opened.servers) { throw CLIFailure(.conflict, refusal) }
                found.append(job)
            }
            if !missing.isEmpty { throw CLIFailure.noJob(missing) }
            // One job that cannot be retried, and none is: invalid input changes nothing.
            let refused = found.filter { !$0.state.isRetriable }.map { (id: $0.id, state: $0.state) }
            if !refused.isEmpty { throw CLIFailure(.conflict, JobState.notRetried(refused)) }
            candidates = found
        }
        // By id, in the text and in --json alike.
        candidates.sort { $0.id < $1.id }
        if dryRun {
            if json {
                for job in candidates { try output.writeJSON(job) }
            } else {
                output.writeLine("would retry \(JobText.counted(candidates.map(\.id)))")
            }
            return
        }
        let targets = candidates.map(\.id)
        let retried = try await opened.jobs.jobRetry(targets).sorted { $0.id < $1.id }
        if !retried.isEmpty { Output.made("retried \(JobText.ids(retried.map(\.id)))") }
        if json {
            for job in retried { try output.writeJSON(job) }
        } else {
            output.writeLine("retried \(JobText.counted(retried.map(\.id)))")
        }
        // Changed by another process since it was read.
        let skipped = Set(targets).subtracting(retried.map(\.id))
        if !ids.isEmpty && !skipped.isEmpty {
            var now: [(id: Int64, state: JobState)] = []
            for id in skipped { if let job = try await opened.jobs.jobGet(id) { now.append((job.id, job.state)) } }
            throw CLIFailure(.conflict, JobState.notRetried(now))
        }
    }

}

struct JobsCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel jobs: waiting ones at once, running ones within a second.",
        discussion: """
            A recovery stage's job cancelled is its stage failed for good: the server moves \
            as on that failure (a create's removes the server; a finalization's waits in \
            finalization_failed). A cleanup stage's job (cancel-failover, release, stop-test, \
            delete) is refused: it runs until it succeeds.

            Examples:
              lifeline jobs cancel 1 2
              lifeline jobs cancel 7 --json   # {"job": 7, "result": "cancelled"}
            """
    )

    @Argument(help: "Job ids.")
    var ids: [Int64]

    @Flag(help: #"Print {"job": N, "result": "cancelled" | "requested" | "already cancelled"} for each job, one per line (as the API answers)."#)
    var json = false

    @OptionGroup var store: StoreOptions

    /// What `--json` prints for one job: what `POST /api/jobs/ID/cancel` answers.
    private struct Report: Encodable {
        var job: Int64
        var result: String
    }

    func validate() throws {
        try JobIDs.check(ids)
    }

    func run() async throws {
        let queue = try await store.openStore(creating: false)
        let ids = JobIDs.distinct(ids)
        // An id that names no job, or a job that completed or was discarded, cancels nothing:
        // invalid input changes nothing. One cancelled already is where it was asked to be.
        var missing: [Int64] = []
        var refused: [(id: Int64, state: JobState)] = []
        var unrenewed: Set<Int64> = []
        var servers: [(id: Int64, server: String)] = []
        for id in ids {
            guard let job = try await queue.jobs.jobGet(id) else {
                missing.append(id)
                continue
            }
            if JobText.leaseExpired(job, now: queue.jobs.now) { unrenewed.insert(id) }
            if Stage(kind: job.kind) != nil, let server = job.server { servers.append((id, server)) }
            if job.state == .completed || job.state == .discarded { refused.append((id, job.state)) }
            if let cleanup = StageJobs.cancelRefusal(job) { throw CLIFailure(.conflict, cleanup) }
        }
        if !missing.isEmpty { throw CLIFailure.noJob(missing) }
        if !refused.isEmpty { throw CLIFailure(.conflict, CancelResult.refusal(refused)) }
        let results = try await queue.jobs.jobCancel(ids)
        let cancelled = ids.filter { if case .cancelled = results[$0] { true } else { false } }
        let asked = ids.filter { if case .requested = results[$0] { true } else { false } }
        var changes: [String] = []
        if !cancelled.isEmpty { changes.append("cancelled \(JobText.ids(cancelled))") }
        if !asked.isEmpty { changes.append("asked \(JobText.ids(asked)) to stop") }
        if !changes.isEmpty { Output.made(changes.joined(separator: ", ")) }
        let output = Output.standardOutput
        for id in ids {
            let result = results[id] ?? .notFound
            let text: String
            switch result {
            case .cancelled: text = "job \(id) cancelled" + (try await Self.serverMoved(servers.first { $0.id == id }?.server, in: queue))
            // No worker renews its lease to hear the request: it waits for the next claim.
            case .requested where unrenewed.contains(id):
                text = "job \(id) is running, but its worker stopped renewing its lease: it is cancelled at the next claim by any worker"
            case .requested:
                text = "job \(id) is running: asked to stop"
                    + (servers.first { $0.id == id }.map { "; server \($0.server) moves as on its stage's failure once it stops" } ?? "")
            case .alreadyFinal(.cancelled): text = "job \(id) is already cancelled"
            case .alreadyFinal(let state):
                refused.append((id, state))
                continue
            // Pruned since it was looked up.
            case .notFound:
                missing.append(id)
                continue
            }
            if json { try output.writeJSON(Report(job: id, result: result.reported ?? "")) } else { output.writeLine(text) }
        }
        // Finished or pruned since they were looked up: the others were cancelled.
        if !missing.isEmpty { throw CLIFailure.noJob(missing) }
        if !refused.isEmpty { throw CLIFailure(.conflict, CancelResult.refusal(refused)) }
    }

    /// Where a cancelled stage job's server went: its stage failed for good, in the cancel's
    /// own transaction.
    private static func serverMoved(_ name: String?, in queue: OpenQueue) async throws -> String {
        guard let name else { return "" }
        guard let server = try await queue.servers.serverGet(name) else { return "; server \(name) removed" }
        return "; server \(name) is \(server.state.rawValue)"
    }
}

struct JobsPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished jobs and events older than an age, now.",
        discussion: """
            A job that is kept (waiting, running, or finished since the age) keeps all its
            events, however old. Workers also prune on their own, by each queue's retention
            (see queues retain).

            Examples:
              lifeline jobs prune --older-than 7d --dry-run
              lifeline jobs prune --older-than 7d
              lifeline jobs prune --older-than 30d --json
            """
    )

    @Option(name: .customLong("older-than"), parsing: .unconditional, help: ArgumentHelp("The age, e.g. 7d, 12h: jobs that finished longer ago go (0 deletes every finished job; a queue's retention of 0, by contrast, keeps them).", valueName: "D"))
    var olderThan: String

    @Flag(name: .customLong("dry-run"), help: "Count what would be deleted; delete nothing.")
    var dryRun = false

    @Flag(help: #"Print {"dry_run": BOOL, "jobs": N, "events": N}."#)
    var json = false

    @OptionGroup var store: StoreOptions

    private struct Report: Encodable {
        var dryRun: Bool
        var jobs: Int
        var events: Int

        enum CodingKeys: String, CodingKey {
            case jobs, events
            case dryRun = "dry_run"
        }
    }

    func run() async throws {
        let back = try InputParsing.duration(olderThan, flag: "--older-than")
        let opened = dryRun ? try await store.openReader() : try await store.openStore(creating: false)
        let cutoff = InputParsing.ago(back, in: opened.jobs)
        let result = try await opened.jobs.jobPrune(before: cutoff, dryRun: dryRun)
        let counts = "\(JobText.count(result.jobs)) and \(result.events == 1 ? "1 event" : "\(result.events) events")"
        if !dryRun { Output.made("pruned \(counts)") }
        if json {
            try Output.standardOutput.writeJSON(Report(dryRun: dryRun, jobs: result.jobs, events: result.events))
        } else {
            Output.standardOutput.writeLine("\(dryRun ? "would prune" : "pruned") \(counts)")
        }
    }
}
