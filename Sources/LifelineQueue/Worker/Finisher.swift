import Logging
import Synchronization

/// Records finished attempts in groups (group commit). While the worker claims, its claim
/// loop takes the waiting finishes into its next claim, so recording what finished and
/// refilling the slots cost one commit. Once claiming stops, or when a claim carrying
/// finishes fails, the finisher writes them itself. A finish is never dropped: a failed
/// write is retried until the store takes it.
final class Finisher: Sendable {
    struct Waiting: Sendable {
        var finish: JobFinish
        /// The slot its attempt holds until the finish is recorded.
        var slot: RunningJobs.Slot
        /// Told whether the finish applied.
        var answered: @Sendable (Bool) -> Void
    }

    private struct State {
        var waiting: [Waiting] = []
        var writesItself = false
        var flushing = false
    }

    private let store: any JobStore
    private let trouble: StoreTrouble
    private static let recording = "recording finished jobs"
    private let state = Mutex(State())
    /// Called with the slots of each recorded group: they are free.
    private let recorded: @Sendable ([RunningJobs.Slot]) -> Void
    /// Wakes the worker: a finish waits for the claim loop, or the finisher wrote some itself.
    private let wake: @Sendable () -> Void

    init(
        store: any JobStore, trouble: StoreTrouble, recorded: @escaping @Sendable ([RunningJobs.Slot]) -> Void,
        wake: @escaping @Sendable () -> Void
    ) {
        self.store = store
        self.trouble = trouble
        self.recorded = recorded
        self.wake = wake
    }

    /// Records the finish, frees `slot`, then calls `answered` with whether it applied (false:
    /// the lease had been lost).
    func finish(_ finish: JobFinish, slot: RunningJobs.Slot, answered: @escaping @Sendable (Bool) -> Void) {
        let writesItself = state.withLock { state in
            state.waiting.append(Waiting(finish: finish, slot: slot, answered: answered))
            return state.writesItself
        }
        if writesItself { writeWaitingNow() } else { wake() }
    }

    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Takes the waiting finishes, for the caller to write with its claim.
    func take() -> [Waiting] {
        state.withLock { state in
            defer { state.waiting = [] }
            return state.waiting
        }
    }

    /// The store wrote `group`; `applied` holds the ids whose fence held. Its callers are
    /// answered before its slots are free, so that what they log comes before a stopping
    /// worker's end. (A claim's finishes are released where it commits and answered by the
    /// claim loop, which a worker ends only after.)
    func resolve(_ group: [Waiting], applied: Set<Int64>) {
        answer(group, applied: applied)
        release(group)
    }

    /// The store wrote `group`: their slots are free (the second half of ``resolve(_:applied:)``).
    func release(_ group: [Waiting]) {
        guard !group.isEmpty else { return }
        recorded(group.map(\.slot))
    }

    /// Tells each caller of a written group whether its finish applied (the first half of
    /// ``resolve(_:applied:)``).
    func answer(_ group: [Waiting], applied: Set<Int64>) {
        for waiting in group { waiting.answered(applied.contains(waiting.finish.id)) }
    }

    /// The write of `group` failed: it waits again, first in line.
    func putBack(_ group: [Waiting]) {
        state.withLock { $0.waiting.insert(contentsOf: group, at: 0) }
    }

    /// From now on finishes are written as they come, without waiting for a claim.
    func writeItself() {
        state.withLock { $0.writesItself = true }
        writeWaitingNow()
    }

    /// Writes the finishes waiting now in their own transactions, retrying until they land.
    func writeWaitingNow() {
        let startFlushing = state.withLock { state -> Bool in
            guard !state.flushing, !state.waiting.isEmpty else { return false }
            state.flushing = true
            return true
        }
        if startFlushing { Task { await flush() } }
    }

    private func flush() async {
        var failures = 0
        while true {
            // Taking the group and, when none is left, ending the flush are one step, so a
            // finish that arrives meanwhile is never left without a writer.
            let group = state.withLock { state in
                defer { state.waiting = [] }
                if state.waiting.isEmpty { state.flushing = false }
                return state.waiting
            }
            guard !group.isEmpty else { return }
            let began = ContinuousClock.now
            do {
                let applied = try await store.jobFinish(group.map(\.finish))
                failures = 0
                trouble.succeeded()
                resolve(group, applied: applied)
                wake()
            } catch {
                failures += 1
                trouble.failed(Self.recording, began: began, error, metadata: ["jobs": "\(group.count)"])
                putBack(group)
                try? await Task.sleep(for: Backoff.storeRetry.delay(afterAttempt: failures))
            }
        }
    }
}
