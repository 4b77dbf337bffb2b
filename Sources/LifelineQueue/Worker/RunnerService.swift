import Foundation
import Logging

/// A pool's runner process: runs the handlers of the attempts its pool's writer sends, stops
/// them when told, and reports their checkpoints and ends. The writer decides everything else
/// (leases, deadlines, what an end means).
public enum RunnerService {
    /// Serves the socket `fd` until the writer closes it (it is done, or gone).
    public static func serve(fd: Int32, runner: InProcessRunner, logger: Logger) async {
        let loop: RunnerLoop
        do {
            loop = try RunnerLoop(fd: fd)
        } catch {
            logger.error("cannot serve the pool", metadata: ["error": "\(error)"])
            return
        }
        // Only the stops are used: a stop may arrive before its attempt's handler has started.
        let stops = RunningJobs()
        let runner = runner.running(on: loop)
        let why = await withCheckedContinuation { (ended: CheckedContinuation<String, Never>) in
            Thread.detachNewThread {
                ended.resume(returning: loop.run { messages in
                    for message in messages { handle(message, loop: loop, runner: runner, stops: stops, logger: logger) }
                })
            }
        }
        logger.debug("pool channel closed", metadata: ["why": "\(why)"])
    }

    private static func handle(_ message: RunnerMessage, loop: RunnerLoop, runner: InProcessRunner, stops: RunningJobs, logger: Logger) {
        switch message {
        case .run(let job):
            let key = AttemptKey(id: job.id, attempt: job.attempt)
            stops.add([job], leaseStart: .now, lease: job.timeout)
            runner.start(
                job, logger: logger, progress: { loop.send(.progress(key, $0)) }, onStop: { stops.setStop(key, $0) },
                ended: { end in
                    if let ended = stops.ended(key) { stops.remove([ended.slot]) }
                    loop.send(.ended(key, end))
                }
            )
        case .stop(let key):
            stops.stop(key, reason: .cancelled)
        case .progress, .ended:
            logger.error("the pool sent a message only its worker processes send; ignored")
        }
    }
}
