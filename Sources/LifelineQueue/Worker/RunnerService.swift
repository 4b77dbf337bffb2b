import Foundation
import Logging

/// A pool's runner process: runs the handlers of the attempts its pool's writer sends, stops
/// them when told, and reports their checkpoints and ends. The writer decides everything else
/// (leases, timeouts, what an end means), but for one thing: an attempt the writer has not held
/// (see ``RunnerMessage/hold(_:until:)``) is stopped when its hold runs out, and reported lost,
/// so a writer that stops answering leaves nothing running once another worker may take its job.
public enum RunnerService {
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
                ended.resume(returning: loop.run { messages in
                    for message in messages {
                        handle(message, loop: loop, runner: runner, attempts: attempts, holdsChanged: holdsChanged, logger: logger)
                    }
                    if messages.contains(where: \.isHold) { loop.send(.alive) }
                })
            }
        }
        holds.cancel()
        holdsChanged.ring()
        logger.debug("pool channel closed", metadata: ["why": "\(why)"])
    }

    private static func handle(
        _ message: RunnerMessage, loop: RunnerLoop, runner: InProcessRunner, attempts: RunningJobs, holdsChanged: Doorbell, logger: Logger
    ) {
        switch message {
        case .run(let job, let holdUntil):
            let key = AttemptKey(id: job.id, attempt: job.attempt)
            // Held no longer (it waited in the pool while the writer was stopped): another
            // worker may have it already.
            guard holdUntil > Date() else {
                loop.send(.ended(key, .lost(unheld)))
                return
            }
            if attempts.add([job], leaseStart: .now, lease: remaining(until: holdUntil), timesOut: false) { holdsChanged.ring() }
            runner.start(
                job, heldUntil: holdUntil, logger: logger, progress: { loop.send(.progress(key, $0)) }, onStop: { attempts.setStop(key, $0) },
                ended: { end in
                    let ended = attempts.ended(key)
                    if let ended { attempts.remove([ended.slot]) }
                    loop.send(.ended(key, ended?.stopReason == .leaseLost ? .lost(unheld) : end))
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

    private static func remaining(until: Date) -> Duration {
        .milliseconds(until.ms - Date().ms)
    }

    /// Stops each attempt whose hold runs out, sleeping until the next one does.
    private static func stopUnheld(_ attempts: RunningJobs, holdsChanged: Doorbell, logger: Logger) async {
        while !Task.isCancelled {
            let (_, unheld, next) = attempts.deadlines(leaseMargin: .zero, latest: .now + .seconds(1))
            for key in unheld {
                logger.error("lease not renewed in time: the pool's writer stopped answering; stopping the job", metadata: ["job": "\(key.id)"])
                attempts.stop(key, reason: .leaseLost)
            }
            await holdsChanged.wait(timeout: max(next - .now, .milliseconds(1)))
        }
    }
}

private extension RunnerMessage {
    var isHold: Bool {
        if case .hold = self { true } else { false }
    }
}
