import Foundation
import Synchronization

/// Why a running job's task was cancelled; decides how its attempt is recorded.
enum StopReason: Sendable {
    /// The attempt passed its deadline: a failed attempt.
    case timeout
    /// A user cancelled the job.
    case cancelled
    /// The worker is shutting down: the job goes back without spending an attempt.
    case shutdown
    /// The lease is no longer ours: another worker may run the job, so stop and record nothing.
    case leaseLost
}

/// One attempt of a job: what the running set is keyed by. Every change names the attempt, so
/// news about an old attempt (a late heartbeat status, a lost lease) never touches a newer one
/// of the same job.
struct AttemptKey: Hashable, Sendable {
    var id: Int64
    var attempt: Int
}

/// The jobs this process is running, with what the heartbeat needs to renew their leases.
final class RunningJobs: Sendable {
    struct Entry {
        var attempt: Int
        var progress: JSONValue?
        /// Whether `progress` changed since it was last handed out for writing.
        var progressChanged = false
        /// The time after which another worker may take the job back: stop before that.
        var leaseDeadline: ContinuousClock.Instant
        /// When the attempt times out.
        var deadline: ContinuousClock.Instant
        var stopReason: StopReason?
        var stop: (@Sendable () -> Void)?
    }

    private let entries = Mutex([Int64: Entry]())

    var count: Int { entries.withLock { $0.count } }

    /// Adds a claimed attempt whose lease the store counts from no earlier than `leaseStart`.
    func add(_ job: Job, leaseStart: ContinuousClock.Instant, lease: Duration) {
        let now = ContinuousClock.now
        entries.withLock {
            $0[job.id] = Entry(
                attempt: job.attempt, progress: nil, leaseDeadline: leaseStart + lease, deadline: now + job.timeout, stopReason: nil,
                stop: nil
            )
        }
    }

    /// Runs `body` on the attempt's entry, if the job's entry is still that attempt's.
    @discardableResult
    private func withEntry<Result>(_ key: AttemptKey, _ body: (inout Entry) -> Result) -> Result? {
        entries.withLock { entries in
            guard var entry = entries[key.id], entry.attempt == key.attempt else { return nil }
            defer { entries[key.id] = entry }
            return body(&entry)
        }
    }

    func remove(_ key: AttemptKey) {
        entries.withLock { entries in
            if entries[key.id]?.attempt == key.attempt { entries[key.id] = nil }
        }
    }

    /// The attempts not yet told to stop that are past their timeout, those whose lease runs
    /// out within `leaseMargin` (another worker may take them once it has), and the earliest
    /// instant at which one of the others will be either.
    func deadlines(leaseMargin: Duration) -> (timedOut: [AttemptKey], leaseEnding: [AttemptKey], next: ContinuousClock.Instant?) {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            var timedOut: [AttemptKey] = []
            var leaseEnding: [AttemptKey] = []
            var next: ContinuousClock.Instant?
            for (id, entry) in entries where entry.stopReason == nil {
                let leaseEnds = entry.leaseDeadline - leaseMargin
                if entry.deadline <= now {
                    timedOut.append(AttemptKey(id: id, attempt: entry.attempt))
                } else if leaseEnds <= now {
                    leaseEnding.append(AttemptKey(id: id, attempt: entry.attempt))
                } else {
                    next = min(next ?? entry.deadline, entry.deadline, leaseEnds)
                }
            }
            return (timedOut, leaseEnding, next)
        }
    }

    /// Registers how to stop the attempt; if a stop was asked for before, stops it now.
    func setStop(_ key: AttemptKey, _ stop: @escaping @Sendable () -> Void) {
        let stopNow = withEntry(key) { entry in
            entry.stop = stop
            return entry.stopReason != nil
        }
        if stopNow == true { stop() }
    }

    func setProgress(_ key: AttemptKey, _ progress: JSONValue) {
        withEntry(key) {
            $0.progress = progress
            $0.progressChanged = true
        }
    }

    /// Asks the attempt to stop; the first reason given is the one recorded.
    func stop(_ key: AttemptKey, reason: StopReason) {
        let stop = withEntry(key) { entry in
            if entry.stopReason == nil { entry.stopReason = reason }
            return entry.stop
        }
        stop??()
    }

    func stopAll(reason: StopReason) {
        let keys = entries.withLock { $0.map { AttemptKey(id: $0.key, attempt: $0.value.attempt) } }
        for key in keys { stop(key, reason: reason) }
    }

    func stopReason(_ key: AttemptKey) -> StopReason? {
        withEntry(key) { $0.stopReason } ?? nil
    }

    /// What to renew, with the latest progress: every job still running, or only those whose
    /// progress changed since the last call or whose lease runs out before `leaseEndingBefore`
    /// (a slow claim's, a failed renewal's). A job stopped because its lease may be gone is not
    /// renewed: another worker may take it once the lease runs out.
    func renewals(all: Bool, leaseEndingBefore: ContinuousClock.Instant) -> [LeaseRenewal.Entry] {
        entries.withLock { entries in
            var renewals: [LeaseRenewal.Entry] = []
            for (id, entry) in entries
            where (all || entry.progressChanged || entry.leaseDeadline < leaseEndingBefore) && entry.stopReason != .leaseLost {
                renewals.append(LeaseRenewal.Entry(id: id, attempt: entry.attempt, progress: entry.progress))
                entries[id]?.progressChanged = false
            }
            return renewals
        }
    }

    /// The attempt of every running job, by id.
    func attempts() -> [Int64: Int] {
        entries.withLock { $0.mapValues(\.attempt) }
    }

    func renewed(_ keys: [AttemptKey], at start: ContinuousClock.Instant, lease: Duration) {
        for key in keys { withEntry(key) { $0.leaseDeadline = start + lease } }
    }
}
