import Foundation
import Logging

/// A pool's runner process: runs the handlers of the attempts its pool's writer sends, stops
/// them when told, and reports their checkpoints and ends. The writer decides everything else
/// (leases, timeouts, what an end means), but for two things, for a writer that stops answering:
/// an attempt the writer has not held (see ``RunnerMessage/hold(_:until:)``) is stopped when its
/// hold runs out, and reported unheld, so nothing runs once another worker may take its job; and
/// one the writer has not stopped a margin past its deadline is stopped, and reported timed out.
public enum RunnerService {
    /// How long past its deadline an attempt runs here before this process stops it: its
    /// writer stops it at the deadline, and that stop should come first.
    static let deadlineMargin: Duration = .seconds(1)

    static let unheld = "stopped in its worker process: its lease was not renewed in time (the pool's writer stopped answering)"

    /// Serves the socket `fd` until the writer closes it (it is done, or gone).
    public static func serve(fd: Int32, runner: InProcessRunner, logger: Logger) async {
        let loop: RunnerLoop
        do {
            loop = try RunnerLoop(fd: fd)
        } catch {
            logger.error("cannot serve the pool", metadata: ["error": "\(error)"])
            return
        }
        // The attempts' stops (a stop may arrive before its attempt's handler has started) and holds.
        let attempts = RunningJobs()
        let holdsChanged = Doorbell()
        let runner = runner.running(on: loop)
        let holds = Task(executorPreference: loop) { await stopUnheld(attempts, holdsChanged: holdsChanged, logger: logger) }
        let why = await withCheckedContinuation { (ended: CheckedContinuation<String, Never>) in
            Thread.detachNewThread {
                var held = false
                let why = loop.run { message in
                    if case .hold = message { held = true }
                    handle(message, loop: loop, runner: runner, attempts: attempts, holdsChanged: holdsChanged, logger: logger)
                } afterRead: {
                    if held { loop.send(.alive) }
                    held = false
                }
                ended.resume(returning: why)
            }
        }
        holds.cancel()
        holdsChanged.ring()
        logger.debug("pool channel closed", metadata: ["why": "\(why)"])
    }

    private static func handle(
        _ message: consuming RunnerMessage, loop: RunnerLoop, runner: InProcessRunner, attempts: RunningJobs, holdsChanged: Doorbell, logger: Logger
    ) {
        switch consume message {
        case .run(let job, let holdUntil, let deadline):
            let key = AttemptKey(id: job.id, attempt: job.attempt)
            // Held no longer (it waited in the pool while the writer was stopped): it never
            // runs, and goes back if no other worker has it already.
            guard holdUntil > Date() else {
                loop.send(.ended(key, .notStarted))
                return
            }
            // The job itself, not an array made for it (an allocation, and a copy of the job).
            // Its timeout counts from its writer's claim, however long it took to reach this process.
            let timeoutStart = ContinuousClock.now + remaining(until: deadline) - job.timeout
            let earlier = withUnsafePointer(to: job) { job in
                attempts.add(
                    UnsafeBufferPointer(start: job, count: 1), leaseStart: .now, timeoutStart: timeoutStart, lease: remaining(until: holdUntil),
                    deadlineMargin: deadlineMargin
                )
            }
            if earlier { holdsChanged.ring() }
            runner.start(
                job, heldUntil: holdUntil, deadline: deadline, logger: logger, progress: { loop.send(.progress(key, $0)) }, onStop: { attempts.setStop(key, $0) },
                ended: { end in
                    loop.send(.ended(key, report(end, stoppedFor: attempts.remove(ended: key))))
                }
            )
        case .hold(let key, let until):
            attempts.renewed([key], at: .now, lease: remaining(until: until))
            runner.hold([key], until: until)
        case .stop(let key):
            attempts.stop(key, reason: .cancelled)
        case .progress, .ended, .alive:
            logger.error("the pool sent a message only its worker processes send; ignored")
        }
    }

    /// An attempt's end as reported: unheld when its hold ran out here, a timeout when it was
    /// stopped here past its deadline (its writer did not stop it), else as it ended. A handler
    /// that returned did its work whatever stopped it: that is reported.
    private static func report(_ end: HandlerEnd, stoppedFor reason: StopReason?) -> HandlerEnd {
        switch (reason, end) {
        case (_, .returned): end
        case (.leaseLost?, _): .unheld(unheld)
        case (.timeout?, .stopped(let output)): .pastDeadline(output: output)
        case (.timeout?, .pastDeadline): end
        case (.timeout?, _): .pastDeadline(output: "")
        default: end
        }
    }

    private static func remaining(until: Date) -> Duration {
        .milliseconds(until.ms - Date().ms)
    }

    /// Stops each attempt whose hold runs out, or that its writer has not stopped a margin past
    /// its deadline, sleeping until the next one does.
    private static func stopUnheld(_ attempts: RunningJobs, holdsChanged: Doorbell, logger: Logger) async {
        while !Task.isCancelled {
            let (timedOut, unheld, next) = attempts.deadlines(leaseMargin: .zero, latest: .now + .seconds(1))
            for key in timedOut {
                logger.error("job past its timeout: the pool's writer did not stop it; stopping the job", metadata: ["job": "\(key.id)", "attempt": "\(key.attempt)"])
                attempts.stop(key, reason: .timeout)
            }
            // One that ended already has nothing to stop: its end is the writer's to record.
            for (key, ended) in unheld {
                if !ended {
                    logger.error("lease not renewed in time: the pool's writer stopped answering; stopping the job", metadata: ["job": "\(key.id)", "attempt": "\(key.attempt)"])
                }
                attempts.stop(key, reason: .leaseLost)
            }
            await holdsChanged.wait(timeout: max(next - .now, .milliseconds(1)))
        }
    }
}
