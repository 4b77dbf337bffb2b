import Foundation
import Logging

/// An attempt's life in a worker: started once claimed (after its job's last attempt here has
/// ended), stopped at its deadline or when its lease runs out unrenewed, and recorded as it ended.
extension Worker {
    func start(_ job: Job) {
        switch handlers.begin(job) {
        case .now:
            launch(job)
        case .held(let replaced):
            JobContext.logger(logger, for: job).warning("an earlier attempt of this job is still being stopped here; this one starts once it has ended")
            // It never started, and the claim of the attempt after it shows its lease is gone.
            if let replaced { JobContext.logger(logger, for: replaced).warning("lease lost before this attempt could start; not recorded here") }
        }
    }

    private func launch(_ job: Job) {
        let key = AttemptKey(id: job.id, attempt: job.attempt)
        // One held while an earlier attempt was stopped may have been stopped itself (timed
        // out, cancelled, its lease lost) or its job claimed again meanwhile, and a fresh one
        // may have timed out already: it never runs, and ends as its stop says.
        let leaseEnd: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        switch running.start(key, leaseMargin: configuration.leaseMargin) {
        case .start(let end, let timeout):
            leaseEnd = end
            deadline = timeout ?? .now + job.timeout
        case .stopped(.leaseLost?):
            // Its claim was answered too late to run it (a store stalled mid-claim), or it was
            // held that long behind its last attempt: it never ran, so it goes back without
            // spending an attempt, fenced like every finish.
            JobContext.logger(logger, for: job).warning("its lease ran out here before it could start; it never ran")
            ended(job, .notStarted)
            return
        case .stopped:
            ended(job, .stoppedBeforeStart)
            return
        }
        // Building a logger with the job's metadata costs more than running a no-op job:
        // only when something is logged.
        if logger.logLevel <= .debug { JobContext.logger(logger, for: job).debug("job started") }
        runner.start(
            job, heldUntil: heldUntil(leaseEnd), deadline: Self.date(of: deadline), logger: logger, progress: { [running] in running.setProgress(key, $0) }, onStop: { [running] in running.setStop(key, $0) },
            ended: { [self] in ended(job, $0) }
        )
        // A renewal between the look above and the runner taking the attempt did not reach it.
        if let renewed = running.leaseEnd(key), renewed != leaseEnd { runner.hold([key], until: heldUntil(renewed)) }
    }

    /// When a runner outside this process, or a program's reaper, stops an attempt whose lease
    /// ends at `leaseEnd`, unless held longer: half the margin before it that this worker's
    /// deadlines keep. They are a last resort, for a worker that stops answering: a renewal
    /// late on a busy machine reaches them through more hands than the worker's own deadlines
    /// (a pool's socket, its runner's thread), and half the margin still stops a program well
    /// before another worker may take its job.
    func heldUntil(_ leaseEnd: ContinuousClock.Instant) -> Date {
        Self.date(of: leaseEnd - configuration.leaseMargin.divided(by: 2))
    }

    /// The wall-clock time of `instant`, read against the wall clock now: what a runner
    /// outside this process, or a program's reaper, can keep.
    static func date(of instant: ContinuousClock.Instant) -> Date {
        Date(ms: Date().ms + (instant - .now).milliseconds)
    }

    private func ended(_ job: Job, _ end: HandlerEnd) {
        let key = AttemptKey(id: job.id, attempt: job.attempt)
        // Nil once the job has been claimed again (here, its entry is the new attempt's): the
        // attempt's lease is gone, and nothing is recorded.
        let entry = running.ended(key)
        if let successor = handlers.ended(key) { launch(successor) }
        // Only a stopped attempt may have a cause kept: no lock on a plain end's path.
        let lost = entry?.stopReason == nil ? nil : leaseLosses.withLock { $0.removeValue(forKey: key) }
        let leaseLoss = entry?.stopReason == .leaseLost ? lost : nil
        guard let entry, let outcome = end.outcome(stoppedFor: entry.stopReason, timeout: job.timeout, leaseLoss: leaseLoss) else {
            let logger = JobContext.logger(logger, for: job)
            if case .lost(let why) = end {
                // Given up on already, and said so, the job is not said again for each.
                if !abandoned.isSet { logger.warning("\(why); the job goes back to its queue when its lease runs out") }
            } else {
                logger.warning("lease lost: the job was claimed again before this attempt ended; not recorded here")
            }
            if let entry { running.remove([entry.slot]) }
            doorbell.ring()
            return
        }
        if case .unheld(let why) = end {
            JobContext.logger(logger, for: job).warning("\(why); recorded as a failed attempt unless another worker has taken the job back")
        }
        // The finisher frees the slot once the finish is recorded.
        let finish = JobFinish(id: job.id, attempt: job.attempt, owner: configuration.owner, outcome: outcome, progress: entry.progress)
        finisher.finish(finish, slot: entry.slot) {
            [self] applied in log(outcome, applied: applied, job: job)
        }
        // A stopping worker's grace waits for its handlers: this one has ended, whether or not
        // the store records it soon (a finisher that writes by itself rings only once it has).
        if stopping.isSet { doorbell.ring() }
    }

    private func log(_ outcome: JobOutcome, applied: Bool, job: Job) {
        if applied, case .completed = outcome, logger.logLevel > .debug { return }
        let logger = JobContext.logger(logger, for: job)
        guard applied else {
            logger.warning("lease lost before the finish was recorded: the job was taken back for another attempt, not recorded here")
            return
        }
        switch outcome {
        case .completed: logger.debug("job completed")
        // Its last attempt: the store discards it.
        case .failed(let error) where job.attempt >= job.maxAttempts:
            logger.error("job discarded: its last attempt failed", metadata: ["error": "\(error)", "attempts": "\(job.maxAttempts)"])
        case .failed(let error): logger.warning("attempt failed", metadata: ["error": "\(error)"])
        case .discarded(let error): logger.error("job discarded", metadata: ["error": "\(error)"])
        case .snoozed(let delay): logger.info("job snoozed", metadata: ["delay": "\(DurationText.format(delay))"])
        case .released: logger.info("job released for another worker")
        case .cancelled: logger.info("job cancelled")
        }
    }

    /// Stops each job that passes its attempt's deadline, or whose lease is about to run out
    /// unrenewed: one loop for all jobs, sleeping until the earliest such instant, rather than
    /// a timer per job. A renewal only moves a lease later, so it needs no wake-up.
    func deadlineLoop() async {
        var wakeAt = ContinuousClock.now
        while !Task.isCancelled {
            let woke = ContinuousClock.now
            let (timedOut, leaseEnding, next) = running.deadlines(
                leaseMargin: configuration.leaseMargin, latest: .now + configuration.idleRecheck
            )
            for key in timedOut { running.stop(key, reason: .timeout) }
            // Renewals did not get through in time: the job may soon run elsewhere.
            let unrecorded = leaseEnding.filter(\.ended).map(\.key)
            let stopped = leaseEnding.filter { !$0.ended }.map(\.key)
            if !unrecorded.isEmpty {
                let them = unrecorded.count == 1 ? "the job's end is not recorded yet: it is" : "\(unrecorded.count) ends are not recorded yet: they are"
                logger.error(
                    "lease not renewed in time, and \(them) recorded only for jobs no other worker has taken back", metadata: leaseEndingMetadata(unrecorded, wokeLate: woke - wakeAt)
                )
            }
            if !stopped.isEmpty {
                let them = stopped.count == 1 ? "the job" : "\(stopped.count) jobs"
                logger.error("lease not renewed in time; stopping \(them)", metadata: leaseEndingMetadata(stopped, wokeLate: woke - wakeAt))
            }
            // Those that ended have their outcome already: only the others take a cause.
            if !stopped.isEmpty { stopForLostLeases(stopped, why: leaseLossCause(wokeLate: woke - wakeAt)) }
            for key in unrecorded { running.stop(key, reason: .leaseLost) }
            wakeAt = max(next, .now + .milliseconds(1))
            await deadlineBell.wait(timeout: wakeAt - .now)
        }
    }
}
