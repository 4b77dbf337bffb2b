import Synchronization

/// What a claim sent to the store was made of. Its request is made where the store writes,
/// only when the store is about to run it (``DeferredClaim``); the ticket carries what it took
/// from the worker to the claim loop, which answers its finishes and starts its jobs.
final class ClaimTicket: Sendable {
    struct Made: Sendable {
        /// The finishes the claim records.
        var finished: [Finisher.Waiting]
        /// The slots it may fill, held for it until it commits.
        var limit: Int
        /// When the request was made: the store counts the leases it takes from later.
        var at: ContinuousClock.Instant
    }

    private enum State {
        case notMade, made(Made), committed(Made), abandoned
    }

    private let state = Mutex(State.notMade)

    func make(finished: [Finisher.Waiting], limit: Int) {
        state.withLock { state in
            guard case .notMade = state else { preconditionFailure("a store made a claim's request twice") }
            state = .made(Made(finished: finished, limit: limit, at: .now))
        }
    }

    /// The claim committed; what it was made of.
    func commit() -> Made? {
        state.withLock { state in
            guard case .made(let made) = state else { return nil }
            state = .committed(made)
            return made
        }
    }

    /// What a committed claim was made of.
    var committed: Made? {
        state.withLock { state in
            guard case .committed(let made) = state else { return nil }
            return made
        }
    }

    /// The claim failed: what it took, to give back, unless it committed or took nothing.
    func abandon() -> Made? {
        state.withLock { state in
            guard case .made(let made) = state else { return nil }
            state = .abandoned
            return made
        }
    }
}
