import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs P worker processes and restarts any that die, with backoff. Shutdown requests are
/// forwarded to every child; the supervisor returns once they have all exited.
public final class WorkerSupervisor: Sendable {
    private let childArguments: [String]
    private let processes: Int
    private let drain: Bool
    private let logger: Logger
    private let children = Mutex([Int: RunningChild]())
    private let stopping = StopFlag()
    private static let restartBackoff = Backoff(base: .milliseconds(250), cap: .seconds(30))

    /// - Parameter childArguments: the full command line of one worker process.
    public init(childArguments: [String], processes: Int, drain: Bool, logger: Logger) {
        self.childArguments = childArguments
        self.processes = processes
        self.drain = drain
        self.logger = logger
    }

    /// Returns the exit status: 0 when every child ended cleanly.
    public func run() async -> Int32 {
        await withTaskGroup(of: Bool.self) { group in
            for slot in 0..<processes {
                group.addTask { await self.supervise(slot: slot) }
            }
            var clean = true
            for await ok in group { clean = clean && ok }
            return clean ? 0 : 1
        }
    }

    /// Forwards SIGTERM to every child and stops restarting them.
    public func shutdown() {
        stopping.set()
        for child in children.withLock({ Array($0.values) }) { child.terminate() }
    }

    /// Keeps one child running in `slot`; returns whether it ended cleanly.
    private func supervise(slot: Int) async -> Bool {
        var restarts = 0
        while true {
            let started = ContinuousClock.now
            let child: RunningChild
            do {
                // If the supervisor dies, its children get SIGTERM and release their jobs.
                child = try await ChildProcess(
                    argv: childArguments, environment: ProcessInfo.processInfo.environment, directory: nil, capturesOutput: false,
                    stopSignal: SIGTERM
                ).start()
            } catch {
                logger.error("cannot start worker process", metadata: ["error": "\(error)"])
                return false
            }
            children.withLock { $0[slot] = child }
            // A shutdown that raced the start still reaches this child.
            if stopping.isSet { child.terminate() }
            logger.info("worker process started", metadata: ["slot": "\(slot)"])
            let termination: ChildProcess.Termination
            do {
                termination = try await child.exit().termination
            } catch {
                children.withLock { $0[slot] = nil }
                logger.error("cannot start worker process", metadata: ["error": "\(error)"])
                return false
            }
            children.withLock { $0[slot] = nil }
            if stopping.isSet { return termination == .exited(0) }
            if drain && termination == .exited(0) { return true }
            // A child that ran a while before dying starts over with a short delay.
            if ContinuousClock.now - started > .seconds(60) { restarts = 0 }
            restarts += 1
            let delay = Self.restartBackoff.delay(afterAttempt: restarts)
            logger.error("worker process died; restarting", metadata: [
                "slot": "\(slot)", "how": "\(termination)", "in": "\(delay)",
            ])
            try? await Task.sleep(for: delay)
            if stopping.isSet { return true }
        }
    }
}
