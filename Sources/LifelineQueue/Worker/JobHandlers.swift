import Synchronization

/// The jobs whose handler runs in this worker. A job claimed again while an earlier attempt of
/// it still runs here (its lease ran out before its stop took effect, on a machine too busy to
/// stop it in time) is held until that attempt has ended: a worker never runs two attempts of
/// one job at once.
final class JobHandlers: Sendable {
    enum Begin {
        case now
        /// Held; `replacing` is an attempt held before it, which never started.
        case held(replacing: Job?)
    }

    private struct State {
        /// The attempt whose handler runs, by job id.
        var running: [Int64: Int] = [:]
        var held: [Int64: Job] = [:]
    }

    private let state = Mutex(State())

    func begin(_ job: Job) -> Begin {
        state.withLock { state in
            guard state.running[job.id] != nil else {
                state.running[job.id] = job.attempt
                return .now
            }
            return .held(replacing: state.held.updateValue(job, forKey: job.id))
        }
    }

    /// The attempt's handler has ended; returns the attempt of its job held meanwhile, which
    /// may start now.
    func ended(_ key: AttemptKey) -> Job? {
        state.withLock { state in
            guard let index = state.running.index(forKey: key.id), state.running.values[index] == key.attempt else { return nil }
            // Rarely is one held: no lookup in an empty table.
            guard !state.held.isEmpty, let next = state.held.removeValue(forKey: key.id) else {
                state.running.remove(at: index)
                return nil
            }
            state.running.values[index] = next.attempt
            return next
        }
    }
}
