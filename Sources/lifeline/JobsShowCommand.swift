import ArgumentParser
import Foundation
import LifelineQueue

struct JobsShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one job: args, attempts and their errors, progress, result and events.",
        discussion: """
            Examples:
              lifeline jobs show 1
              lifeline jobs show 1 --json
            """
    )

    @Argument(help: "The job id.")
    var id: Int64

    @Flag(help: "The job as one JSON object, with its events.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        try JobIDs.check([id])
    }

    func run() async throws {
        let opened = try await store.openReader()
        // As events --job says it: a pruned job and one never enqueued look the same.
        guard let job = try await opened.jobs.jobGet(id) else { throw CLIFailure.noJob([id]) }
        let events = try await opened.jobs.eventList(EventFilter(job: id))
        let output = Output.standardOutput
        // The store's time: lease ends and event times are by its clock.
        let now = opened.jobs.now
        if json {
            try output.writeJSON(ShownJob(job: job, events: events))
            return
        }
        var lines = [
            "job \(job.id)  \(job.kind) on \(job.queue)  \(job.state.rawValue)  attempt \(JobText.attempts(job))  priority \(job.priority)",
            "args      \(TerminalText.json(job.args))",
            "created   \(LifelineJSON.formatTime(job.createdAt))",
            "run at    \(LifelineJSON.formatTime(job.runAt))",
            "timeout   \(DurationText.format(job.timeout)) per attempt",
            "backoff   \(DurationText.format(job.backoff.base)) after the first failure, doubling up to \(DurationText.format(job.backoff.cap)), each less up to \(Int((job.backoff.jitter * 100).rounded()))% at random",
        ]
        if let key = job.idempotencyKey { lines.append("key       \(TerminalText.escaped(key))") }
        if let server = job.server { lines.append("server    \(server)") }
        if let owner = job.leaseOwner, let expires = job.leaseExpiresAt {
            lines.append(
                JobText.leaseExpired(job, now: now)
                    ? "lease     \(owner) expired at \(LifelineJSON.formatTime(expires)): that worker stopped renewing it; the next claim by any worker puts the job back in its queue"
                    : "lease     \(owner) until \(LifelineJSON.formatTime(expires))"
            )
        }
        if let finished = job.finishedAt { lines.append("finished  \(LifelineJSON.formatTime(finished))") }
        if let progress = job.progress { lines.append("progress  \(Self.progressText(progress))") }
        if let result = job.result { lines.append("result    \(TerminalText.json(result))") }
        lines.append("timeline")
        lines += JobTimeline(events: events).lines(now: now, leaseExpired: JobText.leaseExpired(job, now: now) ? job.leaseExpiresAt : nil)
        if !job.errors.isEmpty {
            lines.append("errors")
            for error in job.errors {
                lines.append("  #\(error.attempt) \(LifelineJSON.formatTime(error.at)) \(error.worker ?? "-"): \(TerminalText.oneLine(error.error))")
            }
        }
        lines.append("events")
        for event in events {
            let data = event.data == .object([:]) ? "" : " " + TerminalText.json(event.data)
            lines.append("  \(event.seq) \(LifelineJSON.formatTime(event.at)) \(event.type.rawValue)\(data)")
        }
        lines.forEach(output.writeLine)
    }
}

extension JobsShowCommand {
    /// A progress of `done` of `total` (a stage's, in bytes) as a share, with its detail; any
    /// other as the JSON its handler reported.
    static func progressText(_ progress: JSONValue) -> String {
        guard let done = progress["done"]?.intValue, let total = progress["total"]?.intValue, total > 0 else { return TerminalText.json(progress) }
        let share = Int(ProgressText.fraction(done: done, total: total) * 100)
        return "\(share)% (\(done) of \(total))" + (progress["detail"]?.stringValue.map { ": \(TerminalText.oneLine($0))" } ?? "")
    }
}
