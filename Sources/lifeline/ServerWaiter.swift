import Foundation
import Synchronization
import LifelineQueue
import LifelineRecovery

/// Waits for a server to reach a state, drawing its progress on a terminal's stderr.
struct ServerWaiter {
    let servers: any ServerStore
    /// The jobs' store, read for why a stage's job is not taken.
    let jobs: any JobStore
    let timeout: Duration?
    /// Said when the wait is interrupted (Ctrl-C, SIGTERM, SIGHUP): what goes on, and how to
    /// wait for it again.
    let interrupted: String
    private let queue: OpenQueue
    /// How long a job may wait unclaimed before the wait says so.
    private static let unclaimedNotice: Duration = .seconds(5)
    private let bar = ProgressBar(output: .standardError)

    init(_ queue: OpenQueue, timeout: Duration?, interrupted: String) {
        servers = queue.servers
        jobs = queue.jobs
        self.queue = queue
        self.timeout = timeout
        self.interrupted = interrupted
    }

    /// Returns the server once it rests, or nil once it is gone.
    func waitUntilResting(_ name: String) async throws -> ServerInfo? {
        try await wait(name) { $0?.state.isResting ?? true }
    }

    func wait(_ name: String, until done: (ServerInfo?) -> Bool) async throws -> ServerInfo? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        defer { bar.finish() }
        // Only the wait ends: what it waits for goes on, and the line says so (exit 130, as a
        // shell reports Ctrl-C).
        WaitInterrupt.say(interrupted) { [bar] in bar.finish() }
        // A database file deleted or replaced would leave the wait reading the old one for ever.
        let fileCheck = Task { [queue] in await queue.exitIfReplaced(by: "wait") }
        defer { fileCheck.cancel() }
        var unclaimedSince: ContinuousClock.Instant?
        var toldUnclaimed = false
        // What was said of a stalled stage, or of why a stage retries: each once, until it changes.
        var toldStalled = false
        var toldRetrying: String?
        var toldResting = false
        // The wait outlasts a database restart; a timeout names the state last read.
        var outage = StoreOutage(reading: name) { line in say(line) }
        var server: ServerInfo?
        while true {
            guard case .some(let read) = try await outage.read({ try await servers.serverGet(name) }) else {
                try checkDeadline(deadline, name: name, server: server)
                continue
            }
            server = read
            if done(server) { return server }
            if let server { bar.draw(server) }
            // A server that rests short of where the wait goes moves on only by an action: said once.
            if let server, server.state.isResting {
                if !toldResting {
                    let allowed = server.allowedActions.map(\.rawValue).joined(separator: ", ")
                    say("lifeline: \(name) rests in \(server.state.rawValue): only an action moves it on (allowed: \(allowed.isEmpty ? "none" : allowed))")
                }
                toldResting = true
            } else {
                toldResting = false
            }
            // A wait with no worker running would last for ever, silently: said once (on a
            // terminal, the bar says it all along).
            if let server, server.currentJobState == .available {
                unclaimedSince = unclaimedSince ?? .now
                if !toldUnclaimed, !bar.isDrawn, ContinuousClock.now - unclaimedSince! >= Self.unclaimedNotice {
                    let job = server.lifecycle.currentJob.map { " \($0)" } ?? ""
                    // A worker may run, but not on the stage's queue, or the queue holds it back.
                    let queue = server.lifecycle.currentStage.map { " on queue \($0.queue)" } ?? ""
                    let queues = (try? await jobs.queueList()) ?? []
                    let running = queues.reduce(0) { $0 + ($1.counts[.running] ?? 0) }
                    if let held = QueueHold.reason(for: server, queues: queues) {
                        Output.standardError.writeLine("lifeline: \(name): its job\(job) waits: \(held)")
                    } else if running > 0 {
                        // Workers at work may have every slot taken: not the same as none running.
                        Output.standardError.writeLine(
                            "lifeline: \(name): its job\(job)\(queue) waits for a free slot or a worker that serves the queue; "
                                + (running == 1 ? "1 job is running" : "\(running) jobs are running") + " (lifeline jobs list --running)"
                        )
                    } else {
                        Output.standardError.writeLine("lifeline: \(name): its job\(job)\(queue) waits for a worker; is one running for it? (lifeline worker)")
                    }
                    toldUnclaimed = true
                }
            } else {
                unclaimedSince = nil
            }
            // A worker that died mid-stage leaves the server looking busy: said once.
            if let server, let stalled = StalledStage.reason(for: server) {
                if !toldStalled { say("lifeline: \(name): \(stalled)") }
                toldStalled = true
            } else {
                toldStalled = false
            }
            // A stage that keeps failing (cleanups retry for ever) says why, once per reason.
            if let server, server.currentJobState == .retryable, let error = server.currentJobError, error != toldRetrying {
                let stage = server.lifecycle.currentStage.map { "\($0.rawValue) " } ?? ""
                say("lifeline: \(name): \(stage)failed; retrying after: \(TerminalText.oneLine(error))")
                toldRetrying = error
            }
            try checkDeadline(deadline, name: name, server: server)
            // Servers move in steps of seconds; a fifth of a second keeps the bar live.
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A line on stderr, below the bar, which the next read draws again.
    private func say(_ line: String) {
        bar.finish()
        Output.standardError.writeLine(line)
    }

    private func checkDeadline(_ deadline: ContinuousClock.Instant?, name: String, server: ServerInfo?) throws {
        guard let deadline, ContinuousClock.now >= deadline else { return }
        // The job is named so that the wait's end leads to what is still under way.
        let job = server?.lifecycle.currentJob.map { " (job \($0): lifeline jobs show \($0))" } ?? ""
        throw CLIFailure(.runtime, "timed out: \(name) " + (server.map { "is still in \($0.state.rawValue)" } ?? "is gone") + job)
    }
}

/// One line redrawn in place: the server's state, stage and a bar of its progress, with
/// throughput and time left. Nothing is drawn when the output is not a terminal. Drawn by the
/// wait, and cleared by an interrupt's handler on another thread.
final class ProgressBar: Sendable {
    private struct State {
        /// When the progress read changed, and to what: a stage's progress is written about once
        /// a second, so a rate taken between redraws would fall between writes and leap at each.
        var changes: [(ContinuousClock.Instant, Int64)] = []
        var isDrawn = false
    }

    private let output: Output
    private let state = Mutex(State())

    init(output: Output) {
        self.output = output
    }

    var isDrawn: Bool { state.withLock { $0.isDrawn } }

    func draw(_ server: ServerInfo) {
        guard output.isTerminal else { return }
        let width = (output.width ?? 80) - 1
        state.withLock { state in
            output.write("\r\u{1B}[K" + Table.cut(Self.line(server, width: width, changes: &state.changes), to: width))
            state.isDrawn = true
        }
    }

    /// Clears the line; the next draw draws it again.
    func finish() {
        state.withLock { state in
            if state.isDrawn { output.write("\r\u{1B}[K") }
            state.isDrawn = false
        }
    }

    /// The line, its bar as wide as `width` leaves room for (so the time left is not cut off).
    private static func line(_ server: ServerInfo, width: Int, changes: inout [(ContinuousClock.Instant, Int64)]) -> String {
        var text = "\(server.name): \(server.state.rawValue)"
        if let stage = server.lifecycle.currentStage { text += " · \(stage.rawValue)" }
        switch server.currentJobState {
        case .retryable?: text += " (retrying)"
        case .available?: text += " (waiting for a worker)"
        default: break
        }
        guard let progress = server.stageProgress else {
            changes = []
            return text
        }
        let now = ContinuousClock.now
        // A new stage, or a retry, starts over.
        if let last = changes.last?.1, progress.done < last { changes = [] }
        if changes.last?.1 != progress.done { changes.append((now, progress.done)) }
        // The last 10 s of changes, and at least the last two.
        while changes.count > 2, now - changes[0].0 > .seconds(10) { changes.removeFirst() }
        var speed = ""
        if let first = changes.first, let last = changes.last, let rate = ProgressText.rate(from: first, to: last), rate > 0 {
            let sinceLast = Double((now - last.0).milliseconds) / 1000
            // Within what a size and a duration can say, whatever a stage program reported.
            let left = min(max(Double(progress.total) - Double(progress.done), 0) / rate - sinceLast, 1e9)
            speed = " \(SizeText.readable(Int64(min(rate, 1e18))))/s ETA \(DurationText.format(.seconds(Int64(max(left, 0).rounded(.up)))))"
        }
        // The bar takes 7 columns besides its width: brackets, a space, the percentage.
        let barWidth = min(max(width - text.count - speed.count - 8, 8), 24)
        return text + " " + ProgressText.bar(done: progress.done, total: progress.total, width: barWidth) + speed
    }
}

/// Texts for progress: bars and rates.
enum ProgressText {
    static func bar(done: Int64, total: Int64, width: Int) -> String {
        let fraction = fraction(done: done, total: total)
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "]"
            + String(format: " %3d%%", Int(fraction * 100))
    }

    /// How much of `total` is done, from 0 to 1 whatever a stage program reported.
    static func fraction(done: Int64, total: Int64) -> Double {
        min(max(Double(done) / Double(max(total, 1)), 0), 1)
    }

    static func rate(from start: (ContinuousClock.Instant, Int64), to end: (ContinuousClock.Instant, Int64)) -> Double? {
        let seconds = Double((end.0 - start.0).milliseconds) / 1000
        guard seconds > 0.5 else { return nil }
        return Double(end.1 - start.1) / seconds
    }
}

/// What a wait says when SIGINT, SIGTERM or SIGHUP ends it: one trap for the whole command,
/// set up at the first wait, saying what the latest wait was for. Only the wait ends, and what
/// it waited for goes on: exit 130, as a shell reports Ctrl-C, at once (`_exit`): a wait has
/// nothing to flush, and exit handlers run beside its other threads could wait on them for ever.
enum WaitInterrupt {
    private struct Said {
        var text: String
        var clearing: @Sendable () -> Void
    }

    private static let said = Mutex<Said?>(nil)
    private static let trap = Mutex<SignalTrap?>(nil)

    /// From now on, ends the command saying `interrupted`, after `clearing` the terminal's line.
    static func say(_ interrupted: String, clearing: @escaping @Sendable () -> Void = {}) {
        said.withLock { $0 = Said(text: interrupted, clearing: clearing) }
        trap.withLock { trap in
            guard trap == nil else { return }
            trap = SignalTrap {
                guard let said = Self.said.withLock({ $0 }) else { return }
                said.clearing()
                Output.standardError.writeLine("lifeline: interrupted; \(said.text)")
                _exit(130)
            }
        }
    }
}
