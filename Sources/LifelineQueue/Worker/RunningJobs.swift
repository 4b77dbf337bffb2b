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

/// Whether an attempt claimed may start, and if not, why.
enum AttemptStart: Equatable {
    /// It may; its lease ends then.
    case start(leaseEnd: ContinuousClock.Instant, deadline: ContinuousClock.Instant?)
    /// It was stopped first, for this reason; nil when its job was claimed again meanwhile.
    case stopped(StopReason?)
}

/// One attempt of a job: what the running set is keyed by. Every change names the attempt, so
/// news about an old attempt (a late heartbeat status, a lost lease) never touches a newer one
/// of the same job.
public struct AttemptKey: Hashable, Sendable {
    public var id: Int64
    public var attempt: Int
}

/// The jobs this process is running, with what the heartbeat needs to renew their leases.
final class RunningJobs: Sendable {
    /// One claim's entry. An attempt number does not name a claim alone: a job snoozed or
    /// released is claimed again with the same one, perhaps before the write that gave it back
    /// has freed the old entry here.
    struct Slot: Hashable, Sendable {
        var id: Int64
        var claim: UInt64
    }

    /// An attempt's entry as its handler ended.
    struct Ended {
        var slot: Slot
        /// Why the worker stopped the attempt, if it did.
        var stopReason: StopReason?
        /// The last progress it reported, if any.
        var progress: JSONValue?
    }

    struct Entry {
        var attempt: Int
        /// Which claim added the entry (see ``Slot``).
        var claim: UInt64
        var progress: JSONValue?
        /// Whether `progress` changed since it was last handed out for writing.
        var progressChanged = false
        /// The time after which another worker may take the job back: stop before that.
        var leaseDeadline: ContinuousClock.Instant
        /// When the attempt times out; nil where its worker times it out (a pool's runner process).
        var deadline: ContinuousClock.Instant?
        var stopReason: StopReason?
        var stop: (@Sendable () -> Void)?
        /// The handler has ended: there is nothing left to stop.
        var handlerEnded = false

        /// Why the attempt must stop by `now`, if it must: it timed out, or its lease runs out
        /// within `leaseMargin` (another worker may take it once it has).
        func due(at now: ContinuousClock.Instant, leaseMargin: Duration) -> StopReason? {
            if !handlerEnded, let deadline, deadline <= now { return .timeout }
            if leaseDeadline - leaseMargin <= now { return .leaseLost }
            return nil
        }

        /// The first instant at which the attempt will be due to stop: a handler that ended
        /// has no timeout left.
        func nextDue(leaseMargin: Duration) -> ContinuousClock.Instant {
            min(handlerEnded ? leaseDeadline : deadline ?? leaseDeadline, leaseDeadline - leaseMargin)
        }
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        var claims: UInt64 = 0
        /// When the deadlines are next looked at, and with which lease margin (see
        /// ``deadlines(leaseMargin:latest:)``).
        var nextLook: ContinuousClock.Instant?
        var leaseMargin: Duration = .zero

        /// Where the attempt's entry is, if the job's entry is still that attempt's: one lookup,
        /// the entry read and changed in place, not copied and written back.
        mutating func index(of key: AttemptKey) -> Dictionary<Int64, Entry>.Index? {
            entries.index(forKey: key.id).flatMap { index in read(index) { $0.attempt } == key.attempt ? index : nil }
        }

        /// A field of the entry at `index`, read in place: `entries.values[index]` copies the
        /// whole entry, its progress and its stop retained and released, to read one field (by
        /// callgrind, 2,100 instructions a job in a 1 × 64 drain, 600 an attempt in a runner).
        mutating func read<Value>(_ index: Dictionary<Int64, Entry>.Index, _ field: (inout Entry) -> Value) -> Value {
            field(&entries.values[index])
        }
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.entries.count } }

    /// Adds claimed attempts whose leases the store counts from no earlier than `leaseStart`.
    /// Their timeouts count from `timeoutStart` (by default, the same), when the store read
    /// the time their started events show: a claim that waited for the database does not
    /// bring the deadline before it, nor does a commit held up by a slow disk push it past.
    /// Returns whether one of them needs
    /// its deadlines looked at before the look planned: a job's timeout or lease is rarely the
    /// earliest, and a look for every claim would cost the claims. An earlier attempt of one of
    /// the jobs whose handler still runs here lost its lease without being stopped (the look
    /// came too late): it is stopped now, as its entry goes.
    /// An attempt times out `deadlineMargin` past its timeout: a pool's runner process, whose
    /// writer times its attempts out, does so a margin later, in case the writer cannot.
    @discardableResult
    func add(
        _ jobs: some RandomAccessCollection<Job>, leaseStart: ContinuousClock.Instant, timeoutStart: ContinuousClock.Instant? = nil, lease: Duration, deadlineMargin: Duration = .zero
    ) -> Bool {
        let timeoutStart = timeoutStart ?? leaseStart
        var displaced: [@Sendable () -> Void] = []
        defer { for stop in displaced { stop() } }
        return state.withLock { state in
            var earlier = false
            // By index, each job's fields read in place: a claim's jobs pass here on the
            // store's thread, and a copy of each `Job` retains every one of its strings.
            for index in jobs.indices {
                state.claims += 1
                let entry = Entry(
                    attempt: jobs[index].attempt, claim: state.claims, progress: nil, leaseDeadline: leaseStart + lease,
                    deadline: timeoutStart + jobs[index].timeout + deadlineMargin
                )
                if let old = state.entries.updateValue(entry, forKey: jobs[index].id), old.stopReason == nil, let stop = old.stop {
                    displaced.append(stop)
                }
                earlier = earlier || state.nextLook.map { entry.nextDue(leaseMargin: state.leaseMargin) < $0 } ?? true
            }
            return earlier
        }
    }

    /// Runs `body` on the attempt's entry, if the job's entry is still that attempt's.
    @discardableResult
    private func withEntry<Result>(_ key: AttemptKey, _ body: (inout Entry) -> Result) -> Result? {
        state.withLock { state in
            guard let index = state.index(of: key) else { return nil }
            return body(&state.entries.values[index])
        }
    }

    /// The attempt's handler has ended and nothing is left to do with its entry here (in a
    /// pool's runner process, whose writer records the end): removes it, and returns why the
    /// attempt was stopped, if it was. What would have stopped it is let go out of the lock.
    func remove(ended key: AttemptKey) -> StopReason? {
        let removed = state.withLock { state in state.index(of: key).map { state.entries.remove(at: $0).value } }
        return removed?.stopReason
    }

    /// Frees the slots of attempts whose end is recorded (or never will be).
    func remove(_ slots: some Sequence<Slot>) {
        state.withLock { state in
            // One lookup per slot, and no copy of its entry: every finish passes here.
            for slot in slots {
                if let index = state.entries.index(forKey: slot.id), state.read(index, { $0.claim }) == slot.claim {
                    state.entries.remove(at: index)
                }
            }
        }
    }

    /// The jobs whose handler has not ended here (or is held behind one that has not), or whose
    /// end is yet to be recorded, and whose lease may have run out: stopped for it, or past its
    /// end here (a lease counts here from before the store counts it). Usually none, so a claim
    /// carries no set.
    func handlersPastLease() -> Set<Int64> {
        let now = ContinuousClock.now
        return state.withLock { state in
            var ids: Set<Int64> = []
            for (id, entry) in state.entries where entry.stopReason == .leaseLost || entry.leaseDeadline <= now {
                ids.insert(id)
            }
            return ids
        }
    }

    /// The jobs whose handler has not ended, by id.
    var runningIDs: [Int64] {
        state.withLock { state in state.entries.filter { !$0.value.handlerEnded }.map(\.key).sorted() }
    }

    /// The number of entries, and of those whose handler has not ended.
    var counts: (all: Int, handlers: Int) {
        state.withLock { state in (state.entries.count, state.entries.values.count { !$0.handlerEnded }) }
    }

    /// The attempts not yet told to stop that are past their timeout, those whose lease runs
    /// out within `leaseMargin` (another worker may take them once it has), and when to look
    /// next: the earliest instant at which one of the others will be either, `latest` at the
    /// latest. Jobs added before then say whether they need an earlier look. A lease ending
    /// says whether the attempt's handler had already ended, its end not yet recorded: there
    /// is nothing to stop then, but the job may run again.
    func deadlines(leaseMargin: Duration, latest: ContinuousClock.Instant) -> (
        timedOut: [AttemptKey], leaseEnding: [(key: AttemptKey, ended: Bool)], next: ContinuousClock.Instant
    ) {
        let now = ContinuousClock.now
        return state.withLock { state in
            var timedOut: [AttemptKey] = []
            var leaseEnding: [(key: AttemptKey, ended: Bool)] = []
            var next = latest
            for (id, entry) in state.entries where entry.stopReason == nil {
                let key = AttemptKey(id: id, attempt: entry.attempt)
                switch entry.due(at: now, leaseMargin: leaseMargin) {
                case .timeout? where !entry.handlerEnded: timedOut.append(key)
                case .leaseLost?: leaseEnding.append((key, entry.handlerEnded))
                default: next = min(next, entry.nextDue(leaseMargin: leaseMargin))
                }
            }
            state.nextLook = next
            state.leaseMargin = leaseMargin
            return (timedOut, leaseEnding, next)
        }
    }

    /// Registers how to stop the attempt; if a stop was asked for before, stops it now. A
    /// handler may end before its runner has registered its stop: that stop is dropped.
    func setStop(_ key: AttemptKey, _ stop: @escaping @Sendable () -> Void) {
        let stopNow = withEntry(key) { entry in
            guard !entry.handlerEnded else { return false }
            entry.stop = stop
            return entry.stopReason != nil
        }
        if stopNow == true { stop() }
    }

    /// The attempt's handler has ended; returns its entry, or nil if the job's entry is no
    /// longer this attempt's (the job was claimed again: the attempt's lease is gone). What
    /// would have stopped it (which holds the handler's task and context) is let go here, not
    /// when the entry is removed on the store's thread.
    @discardableResult
    func ended(_ key: AttemptKey) -> Ended? {
        // The stop is handed out of the lock, and released on return.
        let taken = withEntry(key) { entry -> (stop: (@Sendable () -> Void)?, ended: Ended) in
            defer {
                entry.stop = nil
                entry.handlerEnded = true
            }
            return (entry.stop, Ended(slot: Slot(id: key.id, claim: entry.claim), stopReason: entry.stopReason, progress: entry.progress))
        }
        return taken?.ended
    }

    /// Whether an attempt claimed may start: if the job's entry is still this attempt's,
    /// nothing has asked it to stop, and neither its timeout nor its lease's end less
    /// `leaseMargin` has come (the look at the deadlines that would stop it may be held up).
    /// One whose time has come is marked stopped for it.
    func start(_ key: AttemptKey, leaseMargin: Duration) -> AttemptStart {
        let now = ContinuousClock.now
        return withEntry(key) { entry in
            entry.stopReason = entry.stopReason ?? entry.due(at: now, leaseMargin: leaseMargin)
            return entry.stopReason.map(AttemptStart.stopped) ?? .start(leaseEnd: entry.leaseDeadline, deadline: entry.deadline)
        } ?? .stopped(nil)
    }

    /// The end of the attempt's lease, renewals included.
    func leaseEnd(_ key: AttemptKey) -> ContinuousClock.Instant? {
        // A read on every start: no copy of the entry written back, as `withEntry` does.
        state.withLock { state in state.index(of: key).map { index in state.read(index) { $0.leaseDeadline } } }
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
        let keys = state.withLock { $0.entries.map { AttemptKey(id: $0.key, attempt: $0.value.attempt) } }
        for key in keys { stop(key, reason: reason) }
    }

    /// What to renew, with the latest progress: every job still running, or only those whose
    /// progress changed since the last call or whose lease runs out before `leaseEndingBefore`
    /// (a slow claim's, a failed renewal's). A job stopped because its lease may be gone is not
    /// renewed: another worker may take it once the lease runs out.
    func renewals(all: Bool, leaseEndingBefore: ContinuousClock.Instant) -> [LeaseRenewal.Entry] {
        state.withLock { state in
            var renewals: [LeaseRenewal.Entry] = []
            for (id, entry) in state.entries
            where (all || entry.progressChanged || entry.leaseDeadline < leaseEndingBefore) && entry.stopReason != .leaseLost {
                renewals.append(LeaseRenewal.Entry(id: id, attempt: entry.attempt, progress: entry.progress))
                state.entries[id]?.progressChanged = false
            }
            return renewals
        }
    }

    /// The attempt of every running job, by id.
    func attempts() -> [Int64: Int] {
        state.withLock { $0.entries.mapValues(\.attempt) }
    }

    func renewed(_ keys: [AttemptKey], at start: ContinuousClock.Instant, lease: Duration) {
        // Only later: a pool's runner may hear of two holds out of order.
        for key in keys { withEntry(key) { $0.leaseDeadline = max($0.leaseDeadline, start + lease) } }
    }
}
