import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

struct JobsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List jobs, newest first.",
        discussion: """
            Examples:
              lifeline jobs list --failed --since 1h
              lifeline jobs list --state discarded --state retryable --queue nightly
              lifeline jobs list --kind exec --json

            The states asked for (--state, --failed, --running) add up: --failed --running lists \
            the discarded jobs and the running ones. The other filters narrow what they list.

            WHEN is when a waiting job is due ("in 5s", or how long it has been due), when a \
            running one started, and when a finished one ended. A running job whose worker \
            stopped renewing its lease says "lease expired": the next claim by any worker puts \
            it back in its queue.
            """
    )

    @Option(help: "Only jobs in this state (repeatable).")
    var state: [JobState] = []

    @Flag(help: "Only discarded jobs (failed for good).")
    var failed = false

    @Flag(help: "Only running jobs.")
    var running = false

    @Flag(help: "Only jobs attempted more than once (attempt > 1): retried after a failure, or by jobs retry. LAST ERROR then shows why, for completed jobs too (blank elsewhere).")
    var retried = false

    @Option(help: "Only jobs of this queue.")
    var queue: String?

    @Option(help: "Only jobs of this kind.")
    var kind: String?

    @Option(help: "Only jobs of this recovery server.")
    var server: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Only jobs created, run or finished within this long (a job that failed in the last hour matches 1h).", valueName: "D"))
    var since: String?

    @Option(parsing: .unconditional, help: "At most this many jobs.")
    var limit = 50

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be 1 or more, not \(limit)") }
    }

    func run() async throws {
        // A name no queue or server could have is a mistake, not a filter that matches nothing.
        if let queue { try JobLimits.checkQueueName(queue) }
        if let server { try ServerNames.check(server) }
        var states = Set(state)
        if failed { states.insert(.discarded) }
        if running { states.insert(.running) }
        let back = try since.map { try InputParsing.duration($0, flag: "--since") }
        let opened = try await store.openReader()
        let activeSince = back.map { InputParsing.ago($0, in: opened.jobs) }
        let filter = JobFilter(
            states: states, queue: queue, kind: kind, server: server, activeSince: activeSince, retriedOnly: retried,
            // One more than shown, to say when the list is cut.
            limit: min(limit, .max - 1) + 1
        )
        var jobs = try await opened.jobs.jobList(filter)
        if jobs.isEmpty { try await FilterHint.sayUnknown(queue: queue, server: server, kind: kind.map { ($0, store.registry().allKinds) }, in: opened) }
        if jobs.count > limit {
            jobs.removeLast()
            let shown = limit == 1 ? "job that matches" : "\(limit) jobs that match"
            Output.standardError.writeLine("lifeline: showing the newest \(shown); more do (--limit N shows more)")
        }
        let output = Output.standardOutput
        // The store's time: due times and lease ends are by its clock.
        let now = opened.jobs.now
        // Of jobs that run now, which worker runs each is the question; an earlier attempt's
        // error is history there, which `jobs show` keeps.
        let onlyRunning = states == [.running]
        try output.writeList(jobs, json: json, empty: "no jobs match") { jobs in
            let rows = jobs.map { job in
                [
                    "\(job.id)", job.kind, job.queue, job.state.rawValue, JobText.attempts(job),
                    JobText.when(job, now: now), job.server ?? "-",
                    // A completed job's last error is history, shown only where why it was
                    // retried is the question (--retried); `jobs show` keeps it.
                    onlyRunning ? job.leaseOwner ?? "-"
                        : job.state == .completed && !retried ? "" : TerminalText.oneLine(job.errors.last?.error ?? ""),
                ]
            }
            return Table(
                headers: ["ID", "KIND", "QUEUE", "STATE", "ATTEMPT", "WHEN", "SERVER", onlyRunning ? "WORKER" : "LAST ERROR"], rows: rows,
                styledColumn: 3, narrowable: [1, 2, 6], style: Style(output).state
            )
        }
    }
}

extension JobState: ExpressibleByArgument {}

