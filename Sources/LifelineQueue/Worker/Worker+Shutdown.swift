import Foundation
import Logging

/// How a worker stops: at a signal, gracefully, then at once when asked again, or at once when
/// its database turns out damaged.
extension Worker {
    /// Stop claiming; running jobs get the grace period to finish. Asked again, the grace
    /// period ends at once.
    public func shutdown() {
        // A drain that has ended waits for nothing but this.
        firstPrune.withLock { $0 }?.cancel()
        if stopping.set() {
            let waiting = running.runningIDs
            var metadata: Logger.Metadata = ["running": "\(running.count)", "grace": "\(DurationText.format(configuration.grace))"]
            if !waiting.isEmpty { metadata["jobs"] = "\(LoggedIDs.text(waiting))" }
            logger.info(waiting.isEmpty ? "shutting down" : "shutting down: running jobs may finish within the grace period; \(Self.askedAgain)", metadata: metadata)
        } else if releasing.isSet {
            // The attempts are stopped already; what is left is waiting for the store.
            logger.notice("asked again: stopping now, without waiting for the store")
            hurry()
        } else {
            logger.notice("asked again: stopping now; running jobs are released without spending an attempt", metadata: [
                "running": "\(running.count)",
            ])
            hurry()
        }
        doorbell.ring()
    }

    private static let graceNoteInterval: Duration = .seconds(10)
    private static let askedAgain = "asked again, the worker releases them at once"

    /// The database is damaged: nothing more can be recorded, so the worker stops as at a
    /// second signal, and its running jobs are left to their leases.
    func stopForDamage() {
        stopping.set()
        hurry()
    }

    /// Ends the grace period at once: running jobs are stopped and given back.
    private func hurry() {
        hurrying.set()
        running.stopAll(reason: .shutdown)
        doorbell.ring()
    }

    /// After a shutdown request: running jobs may finish within the grace period; the rest
    /// are stopped and given back without spending an attempt. Returns once every attempt's
    /// end is recorded (or, its process lost, left to its lease).
    func finishOrRelease() async {
        let deadline = ContinuousClock.now + configuration.grace
        // The grace is for handlers still running: ends that wait only for the store to record
        // them (a full disk) are waited for below, and said to be.
        // A long grace says every 10 s what it waits for, and how to end it.
        var nextNote = ContinuousClock.now + Self.graceNoteInterval
        while running.counts.handlers > 0, ContinuousClock.now < deadline, !hurrying.isSet {
            await doorbell.wait(timeout: min(deadline, nextNote) - .now)
            // Every finish rings the doorbell: the running jobs are looked up only when a note is due.
            guard ContinuousClock.now >= nextNote, !hurrying.isSet, ContinuousClock.now < deadline else { continue }
            nextNote = .now + Self.graceNoteInterval
            let waiting = running.runningIDs
            if !waiting.isEmpty {
                let left = Duration.seconds(((deadline - .now) / .seconds(1)).rounded())
                logger.info("waiting for running jobs to finish; \(Self.askedAgain)", metadata: [
                    "running": "\(waiting.count)", "jobs": "\(LoggedIDs.text(waiting))", "grace_left": "\(DurationText.format(left))",
                ])
            }
        }
        guard running.count > 0 else { return }
        // Asked again, the worker said so then, with the count it stopped.
        if case let handlers = running.counts.handlers, handlers > 0, !hurrying.isSet {
            logger.info("grace period over; releasing running jobs", metadata: ["running": "\(handlers)"])
        }
        releasing.set()
        running.stopAll(reason: .shutdown)
        // Every end is recorded, however long the store takes. A handler that ignores its stop
        // is waited for only its cancellation grace: it ends with this process, and its job
        // goes back when its lease runs out, as when a worker dies.
        let stopDeadline = ContinuousClock.now + configuration.cancellationGrace
        var toldWaiting = false
        while case let (all, handlers) = running.counts, all > 0 {
            if all == handlers, ContinuousClock.now >= stopDeadline {
                logger.error(
                    "jobs not ended once told to stop (their handlers ignore it, or their worker processes do not answer); they go back when their leases run out",
                    metadata: ["running": "\(all)"]
                )
                abandoned.set()
                runner.abandonUnended()
                return
            }
            // Asked again, the store gets no longer than the handlers to record the ends: one
            // that does not answer (a full disk) leaves the jobs to their leases, as a kill does.
            if hurrying.isSet, ContinuousClock.now >= stopDeadline {
                logger.error("the store does not record the ends; those jobs run again once their leases run out", metadata: [
                    "unrecorded": "\(all - handlers)", "running": "\(handlers)",
                ])
                return
            }
            // Once only, so an operator waiting on a store that is down knows how to stop it.
            if !toldWaiting, !hurrying.isSet, ContinuousClock.now >= stopDeadline, all > handlers {
                toldWaiting = true
                logger.notice("waiting for the store to record the ends; asked again, the worker stops without them", metadata: [
                    "unrecorded": "\(all - handlers)",
                ])
            }
            let untilDeadline = stopDeadline - .now
            await doorbell.wait(timeout: untilDeadline > .zero ? min(configuration.idleRecheck, untilDeadline) : configuration.idleRecheck)
        }
    }
}
