import Foundation
import LifelineQueue
import Logging
import PostgresNIO

/// Tells a process when any process, on any host, commits a change to the queue: LISTEN on a
/// connection of its own, reconnecting with backoff when the server restarts or the network
/// drops. After each reconnect it reports a change, since some may have gone unheard.
public final class PostgresChangeListener: Sendable {
    private let task: Task<Void, Never>

    /// - Parameter logger: where a lost feed is said; by default the process's log.
    public init(location: PostgresLocation, logger: Logger? = nil, onChange: @escaping @Sendable () -> Void) {
        let logger = logger ?? Logger(label: "lifeline.postgres")
        task = Task {
            var failures = 0
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(configuration: location.configuration(), id: 2, logger: logger)
                    failures = 0
                    defer { connection.close().whenComplete { _ in _ = connection } }
                    try await connection.listen(on: PostgresSession.channel) { notifications in
                        onChange()
                        for try await _ in notifications { onChange() }
                    }
                } catch {
                    if Task.isCancelled { return }
                    failures += 1
                    if failures == 1 {
                        logger.warning("lost the change feed; reconnecting", metadata: [
                            "database": "\(location)", "error": "\(PostgresErrorText.describe(error))",
                        ])
                    }
                }
                try? await Task.sleep(for: Backoff.storeRetry.delay(afterAttempt: failures))
            }
        }
    }

    public func stop() {
        task.cancel()
    }

    deinit {
        task.cancel()
    }
}
