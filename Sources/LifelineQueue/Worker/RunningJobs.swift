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

/// The jobs this process is running, with what the heartbeat needs to renew their leases.
final class RunningJobs: Sendable {
    struct Entry {
        var attempt: Int
        var progress: JSONValue?
        /// The time after which another worker may take the job back: stop before that.
        var leaseDeadline: ContinuousClock.Instant
        /// When the attempt times out.
        var deadline: ContinuousClock.Instant
        var stopReason: StopReason?
        var stop: (@Sendable () -> Void)?
    }

    private let entries = Mutex([Int64: Entry]())

    var count: Int { entries.withLock { $0.count } }

    /// Returns whether the job's deadline is now the earliest, so whoever watches deadlines
    /// must look again.
    @discardableResult
    func add(_ job: Job, lease: Duration) -> Bool {
        let now = ContinuousClock.now
        let deadline = now + job.timeout
        return entries.withLock { entries in
            let earliest = entries.values.allSatisfy { $0.deadline > deadline }
            entries[job.id] = Entry(
                attempt: job.attempt, progress: nil, leaseDeadline: now + lease, deadline: deadline, stopReason: nil, stop: nil
            )
            return earliest
        }
    }

    /// The earliest deadline of a job not yet told to stop.
    func nextDeadline() -> ContinuousClock.Instant? {
        entries.withLock { entries in entries.values.lazy.filter { $0.stopReason == nil }.map(\.deadline).min() }
    }

    /// Jobs past their deadline that were not yet told to stop.
    func overdue() -> [Int64] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.filter { $0.value.stopReason == nil && $0.value.deadline <= now }.map(\.key)
        }
    }

    func remove(_ id: Int64) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    /// Registers how to stop the job; if a stop was asked for before, stops it now.
    func setStop(_ id: Int64, _ stop: @escaping @Sendable () -> Void) {
        let stopNow = entries.withLock { entries -> Bool in
            entries[id]?.stop = stop
            return entries[id]?.stopReason != nil
        }
        if stopNow { stop() }
    }

    func setProgress(_ id: Int64, _ progress: JSONValue) {
        entries.withLock { $0[id]?.progress = progress }
    }

    /// Asks the job to stop; the first reason given is the one recorded.
    func stop(_ id: Int64, reason: StopReason) {
        let stop = entries.withLock { entries -> (@Sendable () -> Void)? in
            guard entries[id] != nil else { return nil }
            if entries[id]?.stopReason == nil { entries[id]?.stopReason = reason }
            return entries[id]?.stop
        }
        stop?()
    }

    func stopAll(reason: StopReason) {
        for id in entries.withLock({ Array($0.keys) }) { stop(id, reason: reason) }
    }

    func stopReason(_ id: Int64) -> StopReason? {
        entries.withLock { $0[id]?.stopReason }
    }

    /// What to renew: every job still running, with its latest progress.
    func renewals() -> [LeaseRenewal.Entry] {
        entries.withLock { entries in
            entries.map { LeaseRenewal.Entry(id: $0.key, attempt: $0.value.attempt, progress: $0.value.progress) }
        }
    }

    func renewed(_ ids: [Int64], at start: ContinuousClock.Instant, lease: Duration) {
        entries.withLock { entries in
            for id in ids { entries[id]?.leaseDeadline = start + lease }
        }
    }

    /// Jobs whose lease may have run out because renewals failed.
    func expired(margin: Duration) -> [Int64] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.filter { $0.value.leaseDeadline - margin <= now }.map(\.key)
        }
    }
}
