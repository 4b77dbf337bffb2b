import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Until when each attempt a runner runs is held: its lease's end less its worker's margin,
/// moved later by each renewal, but never past its deadline. A program an attempt starts
/// (``ChildProcess/run()``) is handed its attempt's hold, and its reaper stops it when the hold
/// runs out, without the worker: a worker that stops answering (stopped, starved) leaves no
/// program running once another worker may take the job, nor past its timeout. At the deadline
/// the reaper and the worker stop the program alike (SIGKILL to its group), and whichever comes
/// first is a timeout: on a machine busy with hundreds of programs, the reaper, asleep until
/// then, is the sooner to run.
final class AttemptHolds: Sendable {
    /// The attempt whose handler runs in this task, and where its hold is kept.
    struct Held: Sendable {
        let holds: AttemptHolds
        let key: AttemptKey
    }

    /// A hold as a program's reaper keeps it: until when, and whether that is the attempt's
    /// deadline, which no renewal moves.
    struct Hold: Sendable {
        var until: HoldInstant
        var isDeadline: Bool
    }

    @TaskLocal static var current: Held?

    private struct Entry {
        var until: HoldInstant
        /// The latest it may be held: the attempt's deadline.
        let cap: HoldInstant
        /// Told of each later hold: the programs the attempt runs.
        var watchers: [Int: @Sendable (Hold) -> Void] = [:]

        var hold: Hold { Hold(until: until, isDeadline: until == cap) }
    }

    private let state = Mutex<(entries: [AttemptKey: Entry], nextWatcher: Int)>(([:], 0))

    /// Holds an attempt until `until`, and no later than `deadline`, whatever holds come.
    func add(_ key: AttemptKey, until: Date, deadline: Date) {
        let cap = HoldInstant(deadline)
        let until = min(HoldInstant(until), cap)
        state.withLock { $0.entries[key] = Entry(until: until, cap: cap) }
    }

    func remove(_ key: AttemptKey) {
        _ = state.withLock { $0.entries.removeValue(forKey: key) }
    }

    /// Holds the attempts until `until`, telling their programs. A watcher is called outside
    /// the lock (what it releases may unwatch), so it may hear of two holds out of order, and
    /// keeps the later one.
    func hold(_ keys: [AttemptKey], until: Date) {
        let until = HoldInstant(until)
        let told = state.withLock { state in
            keys.flatMap { key -> [(@Sendable (Hold) -> Void, Hold)] in
                guard let entry = state.entries[key], entry.until < min(until, entry.cap) else { return [] }
                state.entries[key]!.until = min(until, entry.cap)
                let hold = state.entries[key]!.hold
                return entry.watchers.values.map { ($0, hold) }
            }
        }
        for (watcher, hold) in told { watcher(hold) }
    }

    /// Calls `onHold` with the attempt's hold now and with each later one until ``unwatch(_:_:)``;
    /// nil (and no call) when the attempt is not held here.
    func watch(_ key: AttemptKey, _ onHold: @escaping @Sendable (Hold) -> Void) -> Int? {
        let watched = state.withLock { state -> (id: Int, hold: Hold)? in
            guard let entry = state.entries[key] else { return nil }
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.entries[key]!.watchers[id] = onHold
            return (id, entry.hold)
        }
        guard let watched else { return nil }
        onHold(watched.hold)
        return watched.id
    }

    func unwatch(_ key: AttemptKey, _ id: Int) {
        _ = state.withLock { $0.entries[key]?.watchers.removeValue(forKey: id) }
    }
}

/// An instant on the clock that programs' reapers keep holds on, CLOCK_BOOTTIME in nanoseconds:
/// like the worker's leases (ContinuousClock) it goes on through a suspend, and unlike a `Date`
/// a wall-clock step does not move it, so holds compare in the order they were made.
struct HoldInstant: Comparable, Sendable {
    let nanoseconds: Int64

    /// The instant `date` names, read against the wall clock now.
    init(_ date: Date) {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        // Seconds left, bounded so that the instant fits its 64 bits.
        let left = min(max(date.timeIntervalSinceNow, 0), 1e9)
        nanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) + Int64(left * 1e9)
    }

    static func < (a: HoldInstant, b: HoldInstant) -> Bool {
        a.nanoseconds < b.nanoseconds
    }
}

/// What a program run by an attempt ends with when its reaper stopped it because the attempt
/// was not held longer in time: the attempt has ended, and is recorded as failed (see
/// ``HandlerEnd/unheld(_:)``).
public struct AttemptUnheld: Error, CustomStringConvertible {
    public var program: String

    public var description: String {
        "\(program) was stopped: its job's lease was not renewed in time (its worker stopped answering)"
    }
}

/// What a program run by an attempt ends with when its reaper stopped it at the attempt's
/// deadline, before its worker did: a timeout, recorded as one, with what the program wrote last.
public struct AttemptPastDeadline: Error, CustomStringConvertible {
    public var program: String
    /// What to quote of its output (``ChildProcess/Exit/quotedTail``).
    public var output: String

    public var description: String {
        "\(program) was stopped at its job's timeout by its reaper" + (output.isEmpty ? "" : ": \(output)")
    }
}
