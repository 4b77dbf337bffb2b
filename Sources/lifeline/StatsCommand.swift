import ArgumentParser
import Foundation
import LifelineQueue

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts by queue and state, running jobs per worker, throughput, lag, retry and failure rates.",
        discussion: """
            A queue's RATE (5M) is how fast its jobs completed over the last five minutes, as \
            a window's RATE: per second at one a second or more, else per minute. \
            Each window counts the attempts that ended in it: RETRIES failed and were given \
            another attempt, DISCARDED failed and were not; RETRY RATE and FAILURE RATE are \
            shares of all of them (completed, retries and discarded).

            Examples:
              lifeline stats
              lifeline stats --watch        # redraw every 2 seconds; Ctrl-C to stop
              lifeline stats --json
            """
    )

    @Flag(help: "Redraw every 2 seconds.")
    var watch = false

    @Flag(help: "One JSON object: counts, oldest_waiting_seconds, windows (completed, failed_attempts, retries, discarded, retry_rate, failure_rate), windows_by_queue (the same windows per queue), running_by_worker, expired_leases_by_worker, and held (the queues paused or limited, each as {paused, limit}).")
    var json = false

    @OptionGroup var store: StoreOptions

    func validate() throws {
        if watch && json { throw ValidationError("--watch draws for people; use --json without it") }
    }

    func run() async throws {
        let opened = try await store.openReader()
        let output = Output.standardOutput
        repeat {
            let stats = try await opened.jobs.statsGet()
            // A queue held back on purpose is said beside its oldest waiting job.
            let queues = try await opened.jobs.queueList()
            if json { return try output.writeJSON(StatsReport(stats: stats, queues: queues)) }
            if watch && output.isTerminal { output.write("\u{1B}[H\u{1B}[2J") }
            StatsText.lines(stats, queues: queues).forEach(output.writeLine)
            if watch { try await Task.sleep(for: .seconds(2)) }
        } while watch
    }
}

enum StatsText {
    static func lines(_ stats: QueueStats, queues: [QueueInfo]) -> [String] {
        let settings = Dictionary(queues.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let states = JobState.displayOrder
        var lines: [String] = []
        // A queue held back on purpose shows before it has jobs: a pause made ahead of them.
        // So does one whose jobs were pruned since they finished in the windows.
        let shown = Set(stats.counts.keys).union(queues.filter(\.isHeld).map(\.name)).union(stats.windowsByQueue.keys)
        if shown.isEmpty {
            lines.append("no jobs")
        } else {
            let rows = shown.sorted().map { queue in
                [queue] + states.map { "\(stats.counts[queue]?[$0] ?? 0)" }
                    + [StatsCommand.rate(perMinute: stats.windowsByQueue[queue]?.first { $0.minutes == 5 }?.perMinute ?? 0)]
                    + [stats.oldestWaiting[queue].map { DurationText.format(.seconds($0.milliseconds / 1000)) } ?? "-"]
                    + [settings[queue].map(Self.held) ?? "-"]
            }
            // RATE: how fast jobs completed over the last five minutes.
            lines += Table(headers: ["QUEUE"] + states.map { $0.rawValue.uppercased() } + ["RATE (5M)", "OLDEST WAITING", "HELD"], rows: rows)
                .render(width: nil)
        }
        lines.append("")
        let windows = stats.windows.map { window in
            ["last \(window.minutes)m", "\(window.completed)", StatsCommand.rate(perMinute: window.perMinute),
             "\(window.retries)", "\(window.discarded)", StatsCommand.percent(window.retryRate), StatsCommand.percent(window.failureRate)]
        }
        lines += Table(headers: ["WINDOW", "COMPLETED", "RATE", "RETRIES", "DISCARDED", "RETRY RATE", "FAILURE RATE"], rows: windows)
            .render(width: nil)
        lines.append("")
        if stats.runningByWorker.isEmpty {
            lines.append("no jobs running")
        } else {
            let workers = stats.runningByWorker.keys.sorted()
            lines += Table(
                headers: ["WORKER", "RUNNING", "LEASE EXPIRED"],
                rows: workers.map { [$0, "\(stats.runningByWorker[$0]!)", stats.expiredLeasesByWorker[$0].map { "\($0): its worker stopped renewing" } ?? "0"] }
            ).render(width: nil)
        }
        return lines
    }
}

extension StatsText {
    /// What holds a queue's jobs back on purpose: a pause, or a limit on those running at once.
    static func held(_ queue: QueueInfo) -> String {
        if queue.paused { return "paused" }
        if queue.limit == 0 { return "held (limit 0)" }
        return queue.limit.map { "at most \($0) running" } ?? "-"
    }
}

extension StatsCommand {
    /// A share of attempts, 0 to 1, as the table writes it.
    static func percent(_ share: Double) -> String {
        String(format: "%.1f%%", share * 100)
    }

    /// Per second when there is at least one a second, else per minute: "2/min", not "0.0/s".
    static func rate(perMinute: Double) -> String {
        perMinute >= 60 ? String(format: "%.1f/s", perMinute / 60) : String(format: "%.1f/min", perMinute)
    }
}
