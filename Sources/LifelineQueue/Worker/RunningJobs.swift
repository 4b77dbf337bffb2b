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
        /// The time after which another worker may take the job back: stop before that.
        var leaseDeadline: ContinuousClock.Instant
        /// When the attempt times out.
        var deadline: ContinuousClock.Instant
        var stopReason: StopReason?
        var stop: (@Sendable () -> Void)?
    }

    private let entries = Mutex([Int64: Entry]())

    var count: Int { entries.withLock { $0.count } }

    /// Returns whether the job's deadline is now the earliest of the jobs not yet told to
    /// stop, so whoever watches deadlines must look again.
    func add(_ job: Job, lease: Duration) -> Bool {
        let now = ContinuousClock.now
        let deadline = now + job.timeout
        return entries.withLock { entries in
            let earliest = entries.values.allSatisfy { $0.stopReason != nil || $0.deadline > deadline }
            entries[job.id] = Entry(
                attempt: job.attempt, progress: nil, leaseDeadline: now + lease, deadline: deadline, stopReason: nil, stop: nil
            )
            return earliest
        }
    }

    func remove(_ key: AttemptKey) {
        entries.withLock { entries in
            if entries[key.id]?.attempt == key.attempt { entries[key.id] = nil }
        }
    }

    /// The earliest deadline of a job not yet told to stop.
    func nextDeadline() -> ContinuousClock.Instant? {
        entries.withLock { entries in entries.values.lazy.filter { $0.stopReason == nil }.map(\.deadline).min() }
    }

    /// Jobs past their deadline that were not yet told to stop.
    func overdue() -> [AttemptKey] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.filter { $0.value.stopReason == nil && $0.value.deadline <= now }.map { AttemptKey(id: $0.key, attempt: $0.value.attempt) }
        }
    }

    /// Registers how to stop the attempt; if a stop was asked for before, stops it now.
    func setStop(_ key: AttemptKey, _ stop: @escaping @Sendable () -> Void) {
        let stopNow = entries.withLock { entries -> Bool in
            guard entries[key.id]?.attempt == key.attempt else { return false }
            entries[key.id]?.stop = stop
            return entries[key.id]?.stopReason != nil
        }
        if stopNow { stop() }
    }

    func setProgress(_ key: AttemptKey, _ progress: JSONValue) {
        entries.withLock { entries in
            if entries[key.id]?.attempt == key.attempt { entries[key.id]?.progress = progress }
        }
    }

    /// Asks the attempt to stop; the first reason given is the one recorded.
    func stop(_ key: AttemptKey, reason: StopReason) {
        let stop = entries.withLock { entries -> (@Sendable () -> Void)? in
            guard entries[key.id]?.attempt == key.attempt else { return nil }
            if entries[key.id]?.stopReason == nil { entries[key.id]?.stopReason = reason }
            return entries[key.id]?.stop
        }
        stop?()
    }

    func stopAll(reason: StopReason) {
        let keys = entries.withLock { $0.map { AttemptKey(id: $0.key, attempt: $0.value.attempt) } }
        for key in keys { stop(key, reason: reason) }
    }

    func stopReason(_ key: AttemptKey) -> StopReason? {
        entries.withLock { entries in entries[key.id]?.attempt == key.attempt ? entries[key.id]?.stopReason : nil }
    }

    /// What to renew: every job still running, with its latest progress.
    func renewals() -> [LeaseRenewal.Entry] {
        entries.withLock { entries in
            entries.map { LeaseRenewal.Entry(id: $0.key, attempt: $0.value.attempt, progress: $0.value.progress) }
        }
    }

    func renewed(_ keys: [AttemptKey], at start: ContinuousClock.Instant, lease: Duration) {
        entries.withLock { entries in
            for key in keys where entries[key.id]?.attempt == key.attempt { entries[key.id]?.leaseDeadline = start + lease }
        }
    }

    /// Jobs whose lease may have run out because renewals failed.
    func expired(margin: Duration) -> [AttemptKey] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.filter { $0.value.leaseDeadline - margin <= now }.map { AttemptKey(id: $0.key, attempt: $0.value.attempt) }
        }
    }
}
