import Foundation
import Logging
import Synchronization

/// A worker's runtime: claims jobs into free slots, runs them concurrently (in this process,
/// or in a pool's runner processes), keeps their leases alive, records how each attempt
/// ended, and shuts down gracefully.
public final class Worker: Sendable {
    let store: any JobStore
    let configuration: WorkerConfiguration
    let logger: Logger
    /// The store's failures, said once per outage.
    let trouble: StoreTrouble
    let running = RunningJobs()
    let doorbell = Doorbell()
    /// Rung when the store may have changed: a user may have cancelled a running job.
    let changeBell = Doorbell()
    /// Rung when a job claimed has an earlier deadline than the deadline loop sleeps until.
    let deadlineBell = Doorbell()
    /// Rung when a claim came back so late that its jobs' leases need renewing before the next
    /// full round of renewals (see ``heartbeatLoop()``).
    let renewalBell = Doorbell()
    /// When the renewal under way started, if one is: said when a lease runs out unrenewed.
    let renewalUnderWay = Mutex<ContinuousClock.Instant?>(nil)
    /// Why the attempts stopped for their leases lost them, as each one's error says it.
    let leaseLosses = Mutex<[AttemptKey: String]>([:])
    let finisher: Finisher
    let runner: any AttemptRunner
    let stopping = StopFlag()
    /// Set when asked to shut down a second time: the grace period is over.
    let hurrying = StopFlag()
    /// Set when the running attempts are stopped at the end of the grace period.
    let releasing = StopFlag()
    /// Set when the worker, stopping, gave up on attempts that did not end when told to: their
    /// jobs are left to their leases, as it said then.
    let abandoned = StopFlag()
    /// The pass over retention made at start, which a drain sees through before it exits and
    /// a shutdown cuts short.
    let firstPrune = Mutex<Task<Void, Never>?>(nil)
    /// The slots held for claims made and not yet committed.
    private let claimingSlots = Mutex(0)
    /// A job claimed again while its last attempt is still being stopped here waits for that
    /// attempt to end. So while a handler runs, the running set holds an entry for its job (its
    /// own or its successor's), and a worker whose running set is empty has no handler left.
    let handlers = JobHandlers()

    /// A worker that runs its attempts' handlers in this process.
    public convenience init(store: any JobStore, registry: JobRegistry, configuration: WorkerConfiguration, logger: Logger) {
        self.init(
            store: store, runner: InProcessRunner(registry: registry, cancellationGrace: configuration.cancellationGrace),
            configuration: configuration, logger: logger
        )
    }

    public init(store: any JobStore, runner: any AttemptRunner, configuration: WorkerConfiguration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.owner)"
        self.logger = logger
        trouble = StoreTrouble(logger: logger, isDamage: configuration.isDamage)
        finisher = Finisher(
            store: store, trouble: trouble,
            recorded: { [running] slots in running.remove(slots) },
            wake: { [doorbell] in doorbell.ring() }
        )
        self.runner = runner
        trouble.onDamage { [weak self] in self?.stopForDamage() }
    }

    /// Something may have changed in the store (e.g. another process enqueued, or a user
    /// cancelled a job): look for work and for cancel requests.
    public func wake() {
        doorbell.ring()
        changeBell.ring()
    }

    /// Runs until shut down, or, with `drain`, until its queues have nothing left.
    public func run() async throws {
        logger.info("worker started", metadata: configuration.startDetails.merging([
            "queues": "\(configuration.queuesShown)", "concurrency": "\(configuration.concurrency)",
        ]) { detail, _ in detail })
        let heartbeat = Task { await heartbeatLoop() }
        let deadlines = Task { await deadlineLoop() }
        let cancels = Task { await cancelWatchLoop() }
        let prune = Task { await prunePass() }
        firstPrune.withLock { $0 = prune }
        let pruner = Task { await pruneLoop(after: prune) }
        defer {
            prune.cancel()
            pruner.cancel()
            heartbeat.cancel()
            deadlines.cancel()
            cancels.cancel()
            deadlineBell.ring()
            changeBell.ring()
            renewalBell.ring()
        }
        await claimLoop()
        // A drain that ended as its queues emptied (not stopped) still sees its first pass
        // over retention through, as every worker makes one: one that found nothing to do
        // would otherwise cut it short, and a nightly `--drain` would never prune.
        if !stopping.isSet { await prune.value }
        finisher.writeItself()
        await finishOrRelease()
        logger.info("worker stopped")
        if let damage = trouble.damage { throw damage }
    }

    /// Each pass records the finishes waiting and claims into the free slots, in one
    /// transaction; a finished job's slot counts as free, as its finish goes first. While
    /// there is a backlog, a pass claims at most half the slots, and one more claim waits at
    /// the store behind the one it runs, made only when its turn comes (``DeferredClaim``):
    /// the store goes from one transaction straight to the next while half the slots run, and
    /// the finishes that arrive meanwhile go together in the next (group commit).
    private func claimLoop() async {
        var failures = 0
        // Whether the drain is to say it waits for jobs due later when nothing is due: at its
        // start, and once jobs were claimed since it last said so.
        var ranSinceIdle = true
        var ranAny = false
        // Claims sent and not yet answered here, oldest first.
        var sent: [Claim] = []
        // A claim already sent is seen through even when stopping: its jobs are the worker's.
        while !stopping.isSet || !sent.isEmpty {
            // A draining worker looks at least once a second: the other workers' last
            // completions, which end the drain, may come with no change notice.
            var wait = configuration.drain ? min(configuration.idleRecheck, .seconds(1)) : configuration.idleRecheck
            if sent.isEmpty {
                guard hasClaimToMake() else {
                    await doorbell.wait(timeout: wait)
                    continue
                }
                sent.append(sendClaim())
            }
            let claim = sent.removeFirst()
            let answer: ClaimResult?
            do {
                answer = try await claim.result.value
                failures = 0
                trouble.succeeded(writing: answer.map { !$0.jobs.isEmpty || !$0.finished.isEmpty } ?? false)
            } catch {
                failures += 1
                trouble.failed("claim", began: claim.sentAt, error)
                if let made = claim.ticket.abandon() {
                    claimingSlots.withLock { $0 -= made.limit }
                    // The finishes are written on their own, so one that fails cannot stop claiming.
                    finisher.putBack(made.finished)
                    finisher.writeWaitingNow()
                }
                // A sleep, not a doorbell wait: arriving finishes must not cut the backoff short.
                // A claim queued behind may have committed: its jobs hold slots, so it goes first.
                if sent.isEmpty { try? await Task.sleep(for: Backoff.storeRetry.delay(afterAttempt: failures)) }
                continue
            }
            // Nil when the store found neither finishes to record nor free slots.
            guard let claimed = answer, let made = claim.ticket.committed else { continue }
            let full = made.limit > 0 && claimed.jobs.count == made.limit
            if full, !stopping.isSet {
                while sent.count < 2 { sent.append(sendClaim()) }
            }
            finisher.answer(made.finished, applied: claimed.finished)
            if !claimed.jobs.isEmpty {
                runner.startingClaim { for job in claimed.jobs { start(job) } }
            }
            // The leases count from when the claim was made: after a slow claim, the next
            // round of renewals could come after some of them are due to be given up.
            if !claimed.jobs.isEmpty, ContinuousClock.now - made.at > configuration.renewalInterval { renewalBell.ring() }
            if full || !sent.isEmpty { continue }
            if claimed.jobs.isEmpty, running.count == 0, configuration.drain, await queuesAreEmpty() {
                logger.info("queues drained")
                return
            }
            ranSinceIdle = ranSinceIdle || !claimed.jobs.isEmpty
            ranAny = ranAny || !claimed.jobs.isEmpty
            // A drain that finds nothing due, at its start or once it ran what was, says so
            // once, with when the next job comes due.
            if configuration.drain, ranSinceIdle, claimed.jobs.isEmpty, running.count == 0, let next = claimed.nextWakeup {
                ranSinceIdle = false
                // The next time may be when another worker's lease runs out: its jobs are what the drain waits for.
                let elsewhere = (try? await store.jobCount(JobFilter(states: [.running]))) ?? 0
                let nothing = "nothing \(ranAny ? "more " : "")is due now: --drain waits for "
                logger.notice(Logger.Message(stringLiteral: elsewhere > 0
                    ? nothing + "\(elsewhere == 1 ? "1 job" : "\(elsewhere) jobs") running under other workers, and any due later (lifeline jobs list --running)"
                    : nothing + "jobs due later, the next at \(LifelineJSON.formatTime(next)) (lifeline jobs list --state scheduled --state retryable)"))
            }
            // Counted from the claim, by the store's clock: not this host's, which may be off.
            if let until = claimed.untilWakeup {
                wait = min(wait, max(until + .milliseconds(1) - (ContinuousClock.now - made.at), .milliseconds(1)))
            }
            await doorbell.wait(timeout: wait)
        }
    }

    /// A claim on its way to the store.
    private struct Claim {
        var ticket: ClaimTicket
        var result: Task<ClaimResult?, any Error>
        var sentAt: ContinuousClock.Instant
    }

    private func sendClaim() -> Claim {
        let ticket = ClaimTicket()
        let claim = DeferredClaim(
            request: { [self] in makeRequest(ticket) },
            committed: { [self] in claimCommitted(ticket, $0) }
        )
        return Claim(ticket: ticket, result: Task { [store] in try await store.jobClaim(claim) }, sentAt: .now)
    }

    /// Whether a claim would record finishes or fill slots now.
    private func hasClaimToMake() -> Bool {
        finisher.waitingCount > 0 || (!stopping.isSet && claimingSlots.withLock { freeSlots(claiming: $0, finishing: 0) } > 0)
    }

    private func freeSlots(claiming: Int, finishing: Int) -> Int {
        configuration.concurrency - running.count - claiming + finishing
    }

    /// A claim's request, made where the store writes just before it runs: the finishes
    /// waiting, and the free slots, at most half of them (at least one); nil when there is
    /// neither. Its slots are held for it until it commits, so a claim made meanwhile does not
    /// count them as free.
    private func makeRequest(_ ticket: ClaimTicket) -> ClaimRequest? {
        let finished = finisher.take()
        let limit = claimingSlots.withLock { claiming in
            let free = freeSlots(claiming: claiming, finishing: finished.count)
            let limit = stopping.isSet ? 0 : min(max(free, 0), (configuration.concurrency + 1) / 2)
            claiming += limit
            return limit
        }
        guard limit > 0 || !finished.isEmpty else { return nil }
        ticket.make(finished: finished, limit: limit)
        // Before the set is read: a lease that runs out after it is one the claim spares.
        let madeAt = ContinuousClock.now
        return ClaimRequest(
            owner: configuration.owner, queues: configuration.queues, weights: configuration.weights, limit: limit, lease: configuration.lease,
            finishes: finished.map(\.finish), running: running.handlersPastLease(), madeAt: madeAt
        )
    }

    /// Where the store writes, once a claim committed and before the next is made: its
    /// finishes' slots are free, and its jobs hold theirs.
    private func claimCommitted(_ ticket: ClaimTicket, _ result: ClaimResult) {
        guard let made = ticket.commit() else { return }
        finisher.release(made.finished)
        let earlierDeadline = claimingSlots.withLock { claiming in
            claiming -= made.limit
            return running.add(result.jobs, leaseStart: made.at, timeoutStart: result.readAt, lease: configuration.lease)
        }
        if earlierDeadline { deadlineBell.ring() }
    }

    /// Whether the queues have nothing waiting or running; a failed count says no.
    private func queuesAreEmpty() async -> Bool {
        let waitingOrRunning: Set<JobState> = [.available, .scheduled, .retryable, .running]
        let filters = configuration.queues.isEmpty
            ? [JobFilter(states: waitingOrRunning)]
            : configuration.queues.map { JobFilter(states: waitingOrRunning, queue: $0) }
        let began = ContinuousClock.now
        do {
            for filter in filters where try await store.jobCount(filter) > 0 { return false }
            return true
        } catch {
            trouble.failed("counting the jobs left (not draining yet)", writing: false, began: began, error)
            return false
        }
    }
}
