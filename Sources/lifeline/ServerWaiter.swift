import Foundation
import LifelineQueue
import LifelineRecovery

/// Waits for a server to reach a state, showing its progress on stderr (``ProgressBar``).
struct ServerWaiter {
    let servers: any ServerStore
    /// The jobs' store, read for why a stage's job is not taken.
    let jobs: any JobStore
    let timeout: Duration?
    /// Said when the wait is interrupted (Ctrl-C, SIGTERM, SIGHUP): what goes on, and how to
    /// wait for it again, as of the server last read (its job now, say).
    let interrupted: @Sendable (ServerInfo?) -> String
    private let queue: OpenQueue
    /// How long a job may wait unclaimed before the wait says so.
    private static let unclaimedNotice: Duration = .seconds(5)
    private let bar = ProgressBar(output: .standardError)

    init(_ queue: OpenQueue, timeout: Duration?, interrupted: @escaping @Sendable (ServerInfo?) -> String) {
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

    func wait(_ name: String, until done: (ServerInfo?) async -> Bool) async throws -> ServerInfo? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        defer { bar.finish() }
        // Only the wait ends: what it waits for goes on, and the line says so (exit 130, as a
        // shell reports Ctrl-C).
        WaitInterrupt.say(interrupted(nil)) { [bar] in bar.close() }
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
            if read?.lifecycle.currentJob != server?.lifecycle.currentJob {
                WaitInterrupt.say(interrupted(read)) { [bar] in bar.close() }
            }
            server = read
            if await done(server) { return server }
            if let server { bar.draw(server, held: await held(server)) }
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
                        Output.standardError.writeLine("lifeline: \(name): its job\(job)\(queue) waits for a worker; does one run that serves its queue? (lifeline worker serves every queue)")
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

    /// Why the server's stage job waits, when its queue holds it back: read only while it waits.
    private func held(_ server: ServerInfo) async -> String? {
        guard server.currentJobState == .available, let queues = try? await jobs.queueList() else { return nil }
        return QueueHold.brief(for: server, queues: queues)
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
