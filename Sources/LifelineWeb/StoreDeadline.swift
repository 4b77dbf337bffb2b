import Synchronization

/// How long `/metrics` and `/healthz` wait for the store: less than Prometheus's scrape
/// timeout and a prober's (10 s by default), so that a store that hangs (a PostgreSQL host
/// cut off, a table held) reads as the store down, not as serve down.
enum StoreDeadline {
    static let limit = Duration.seconds(5)

    /// Waits for `task`'s value, or throws ``TimedOut`` after `limit`, leaving the task to
    /// finish on its own: a hung store's read may not heed cancellation.
    static func value<T: Sendable>(of task: Task<T, any Error>, within limit: Duration = limit) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let first = FirstResult(continuation)
            let timer = Task {
                try await Task.sleep(for: limit)
                first.resume(with: .failure(TimedOut(limit: limit)))
            }
            Task {
                let result = await task.result
                timer.cancel()
                first.resume(with: result)
            }
        }
    }

    /// The store did not answer in time.
    struct TimedOut: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "the store did not answer within \(limit)" }
    }

    /// Resumes its continuation with the first result it is given.
    private final class FirstResult<T: Sendable>: Sendable {
        private let continuation: Mutex<CheckedContinuation<T, any Error>?>
        init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }
        func resume(with result: Result<T, any Error>) { continuation.withLock { $0.take() }?.resume(with: result) }
    }
}
