import ArgumentParser
import Foundation
import LifelineQueue
import LifelineRecovery

struct ServerListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List recovery servers with their state and current operation.",
        discussion: "Example:\n  lifeline server list --json"
    )

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let servers = try await store.openReader().servers.serverList()
        let output = Output.standardOutput
        try output.writeList(servers, json: json, empty: "no servers") { servers in
            let rows = servers.map { server in
                [
                    server.name, server.state.rawValue, server.state.vmState, server.state.workload,
                    server.lifecycle.currentJob.map { "\($0) \(server.lifecycle.currentStage?.rawValue ?? "")" } ?? "-",
                    ServerText.progress(server), TerminalText.oneLine(server.lastError ?? ""),
                ]
            }
            return Table(headers: ["NAME", "STATE", "VM", "WORKLOAD", "JOB", "PROGRESS", "LAST ERROR"], rows: rows,
                         styledColumn: 1, style: Style(output).state)
        }
    }
}

struct ServerShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a server: state and progress, last error, what it allows, its VM and last test.",
        discussion: "Example:\n  lifeline server show web-1"
    )

    @Argument(help: "The server.")
    var name: String

    @Flag(help: "The server as one JSON object.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try ServerNames.check(name)
        let opened = try await store.openReader()
        guard let server = try await opened.servers.serverGet(name) else { throw await FilterHint.noServer(name, in: opened) }
        let output = Output.standardOutput
        if json { return try output.writeJSON(server) }
        // What matters first: where it is, how far, what went wrong; then what can be done.
        // A stage job nobody takes may be held back by its queue, not waiting for a worker.
        let held = await QueueHold.reason(for: server, in: opened.jobs)
        let stalled = StalledStage.reason(for: server)
        var lines = [
            "server    \(server.name)",
            "state     \(server.state.rawValue)" + Self.activity(server, held: held, stalled: stalled != nil),
        ]
        if let stalled { lines.append("stalled   \(stalled)") }
        if let bar = ServerText.progressBar(server) { lines.append("progress  \(bar)") }
        if let error = server.lifecycle.lastError { lines.append("error     \(TerminalText.oneLine(error))") }
        if server.state == .finalizationFailed, let copied = await Self.copiedBeforeFailure(server, in: opened) {
            lines.append("copied    \(copied)")
        }
        if server.state == .readyForFailback, let backup = await Self.lastStageJob(of: server, in: opened)?.result?["backup"]?.stringValue {
            lines.append("backup    \(backup) (recover the local server from it)")
        }
        if server.currentJobState == .retryable, let error = server.currentJobError {
            lines.append("retrying  after: \(TerminalText.oneLine(error))")
        }
        let allowed = server.allowedActions
        lines.append("allowed   " + (allowed.isEmpty ? "nothing until the operation ends" : allowed.map(\.rawValue).joined(separator: ", ")))
        lines += Self.whyNot(server).enumerated().map { index, line in (index == 0 ? "why not   " : "          ") + line }
        lines += [
            "vm        \(server.state.vmState)",
            "workload  \(server.state.workload)",
        ]
        if let point = server.recoveryPoint { lines.append("recovery  \(point)") }
        lines.append("machine   \(server.machine), \(server.disks) × \(SizeText.readable(server.diskSize))")
        if let test = server.lastTest { lines.append("last test \(LifelineJSON.formatTime(test.at)) \(test.result)") }
        lines.forEach(output.writeLine)
    }
}

extension ServerShowCommand {
    /// How far a failed finalization copied, by its job's last progress: what `retry` resumes
    /// from. Nil when that job no longer says (pruned), which the rest of the page does without.
    static func copiedBeforeFailure(_ server: ServerInfo, in opened: OpenQueue) async -> String? {
        guard let job = await lastStageJob(of: server, in: opened),
              let done = job.progress?["done"]?.intValue, let total = job.progress?["total"]?.intValue, total > 0
        else { return nil }
        return "\(SizeText.readable(done)) of \(SizeText.readable(total)) before it failed; retry resumes from its last checkpoint"
    }

    /// The stage job whose end brought the server to rest where it is, while its job is kept.
    static func lastStageJob(of server: ServerInfo, in opened: OpenQueue) async -> Job? {
        guard let id = try? await opened.servers.serverHistory(server.name).last?.job else { return nil }
        return try? await opened.jobs.jobGet(id)
    }

    /// What the current operation's job is doing: a stage job nobody holds is waiting for a
    /// worker, not working, unless its queue holds it back (`held` says why).
    static func activity(_ server: ServerInfo, held: String? = nil, stalled: Bool = false) -> String {
        guard let job = server.lifecycle.currentJob else { return server.state.isResting ? "" : " (starting)" }
        let stage = server.lifecycle.currentStage.map { " \($0.rawValue)" } ?? ""
        let doing = switch server.currentJobState {
        case .running?: stalled ? "stalled: its lease expired" : "working"
        case .available?: held.map { "waiting: \($0)" } ?? "waiting for a worker"
        case .retryable?: "waiting to retry"
        // A stage job snoozes only while the stage it stops (its after_job) still runs.
        case .scheduled?: "waiting for the stage it stops to end"
        case let other?: other.rawValue
        case nil: "gone"
        }
        return ": job \(job)\(stage), \(doing)"
    }

    /// Why actions are refused for something other than the state, which `allowed` says
    /// already: the operation under way, a test still running, another server holding the
    /// machine's workload. A line per reason, each naming its actions; `why_not` in the JSON
    /// has every action's.
    static func whyNot(_ server: ServerInfo) -> [String] {
        if let operation = server.operation {
            return ["\(operation) is under way: " + (server.allowedActions.isEmpty ? "every action" : "any other action") + " waits for its end"]
        }
        var reasons: [(actions: [String], reason: String)] = []
        if server.state == .testingFailover { reasons.append((["failover", "delete"], "only once the test is stopped (stop-test)")) }
        for (action, reason) in server.refusals where server.state.allowedActions.contains(action) {
            if let index = reasons.firstIndex(where: { $0.reason == reason }) {
                reasons[index].actions.append(action.rawValue)
            } else {
                reasons.append(([action.rawValue], reason))
            }
        }
        return reasons.map { "\($0.actions.joined(separator: ", ")): \($0.reason)" }
    }
}

struct ServerHistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Every transition of a server: from, to, cause, job, time.",
        discussion: "Example:\n  lifeline server history web-1 --json"
    )

    @Argument(help: "The server (also one that was removed).")
    var name: String

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try ServerNames.check(name)
        let opened = try await store.openReader()
        let history = try await opened.servers.serverHistory(name)
        guard !history.isEmpty else { throw await FilterHint.noServer(name, in: opened, "no server '\(name)' now or in the past") }
        try Output.standardOutput.writeList(history, json: json, empty: "") { history in
            let rows = history.map {
                // A stage that leads to another of the same state moves the server on, as events says.
                [LifelineJSON.formatTime($0.at), $0.from?.rawValue ?? "-", $0.to?.rawValue ?? "(removed)",
                 $0.from != nil && $0.from == $0.to ? "\($0.cause), next stage" : $0.cause, $0.job.map(String.init) ?? "-"]
            }
            return Table(headers: ["AT", "FROM", "TO", "CAUSE", "JOB"], rows: rows)
        }
    }
}

struct ServerWaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Wait until a server reaches a state.",
        discussion: """
            Exits 0 once the server is in the state, or has gone through it since the wait \
            began (a state left within milliseconds), 4 once it is removed, and 1 when the \
            timeout runs out. A server that rests in another state is said once, with the actions that \
            would move it; the wait goes on, for another operator may act (--timeout bounds it).

            Examples:
              lifeline server wait web-1 --state standby --timeout 10m
              lifeline server wait web-1 --state standby --json
            """
    )

    @Argument(help: "The server.")
    var name: String

    @Option(help: "The state to wait for.")
    var state: ServerState

    @Option(parsing: .unconditional, help: ArgumentHelp("Give up after this long (exit 1); without it, wait as long as it takes.", valueName: "D"))
    var timeout: String?

    @Flag(help: "Print the server as one JSON object (as server show --json) once it is in the state, or as it is when the wait times out (exit 1).")
    var json = false

    @OptionGroup var store: StoreOptions

    func run() async throws {
        try ServerNames.check(name)
        let deadline = try timeout.map(InputParsing.waitTimeout).map { ContinuousClock.now + $0 }
        let interrupted = "\(name) was not yet \(state.rawValue) (lifeline server wait \(name) --state \(state.rawValue))"
        var outage = StoreOutage(reading: name)
        WaitInterrupt.say(interrupted)
        let queue = try await outage.open(until: deadline) {
            let queue = try await store.openReader()
            guard try await queue.servers.serverGet(name) != nil else { throw await FilterHint.noServer(name, in: queue) }
            return queue
        }
        // A state left again between two reads (a cancel's, a start's, in milliseconds) was
        // still reached: the server's transitions since the wait began say so.
        let latest = EventFilter(server: name, types: [.stateChanged], limit: 1, newestFirst: true)
        var seen = (try? await queue.jobs.eventList(latest).first?.seq) ?? 0
        var reached: JobEvent?
        let waiter = ServerWaiter(queue, timeout: deadline.map { max($0 - .now, .zero) }, interrupted: { _ in interrupted })
        let server: ServerInfo?
        do {
            server = try await waiter.wait(name) { server in
                guard let server, server.state != state else { return true }
                let since = (try? await queue.jobs.eventList(EventFilter(afterSeq: seen, server: name, types: [.stateChanged]))) ?? []
                seen = since.last?.seq ?? seen
                reached = since.first { $0.data["to"] == .string(state.rawValue) }
                return reached != nil
            }
        } catch {
            // As an action's --wait does: a program gets the server as it is now, with exit 1.
            if json, let now = try? await queue.servers.serverGet(name) { try Output.standardOutput.writeJSON(now) }
            throw error
        }
        guard var server else { throw CLIFailure(.notFound, "server '\(name)' was removed") }
        // The transitions were read after the server: read it again, to say where it is now.
        if reached != nil, let now = try? await queue.servers.serverGet(name) { server = now }
        if json { return try Output.standardOutput.writeJSON(server) }
        if let reached, server.state != state {
            return Output.standardOutput.writeLine("\(name) was \(state.rawValue) at \(LifelineJSON.formatTime(reached.at)), and is \(server.state.rawValue) now")
        }
        Output.standardOutput.writeLine("\(name) is \(server.state.rawValue)")
    }
}

extension ServerState: ExpressibleByArgument {}

enum ServerText {
    /// A bar of the current operation's progress, its rate and the time left.
    static func progressBar(_ server: ServerInfo) -> String? {
        guard let progress = server.stageProgress else { return nil }
        // 20 wide: with the sizes, rate and time left, the line fits 80 columns.
        return ProgressText.bar(done: progress.done, total: progress.total, width: 20)
            + " \(SizeText.readable(progress.done)) of \(SizeText.readable(progress.total))" + ProgressText.speed(progress)
    }

    /// How far the current operation is, and whether it waits to retry or stands still (its
    /// worker stopped renewing its lease), as `server show` says.
    static func progress(_ server: ServerInfo) -> String {
        let standing = server.currentJobState == .retryable ? "retrying" : server.stalledSince != nil ? "stalled" : nil
        guard let progress = server.stageProgress else { return standing ?? "-" }
        return "\(Int(ProgressText.fraction(done: progress.done, total: progress.total) * 100))%" + (standing.map { " \($0)" } ?? "")
    }
}
