import Foundation
import LifelineQueue
import Logging
import PostgresNIO

/// Tells a process when any process, on any host, commits a change to the queue: LISTEN on a
/// connection of its own, reconnecting with backoff when the server restarts or the network
/// drops. After each reconnect it reports a change, since some may have gone unheard.
///
/// A connection lost without a word (a NAT's or firewall's state dropped, the address moved
/// to another host) never ends a LISTEN, which only waits: a query every `checkInterval` that
/// gets no answer within `checkTimeout` closes the connection, and the listener reconnects.
public final class PostgresChangeListener: Sendable {
    private let task: Task<Void, Never>
    static let checkInterval: Duration = .seconds(5)
    static let checkTimeout: Duration = .seconds(5)

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
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await connection.listen(on: PostgresSession.channel) { notifications in
                                onChange()
                                for try await _ in notifications { onChange() }
                            }
                        }
                        group.addTask { try await Self.check(connection, logger: logger) }
                        // Whichever ends first ends the other; an unanswered check is the cause
                        // to report, not the closed connection the LISTEN then ends with.
                        var cause: (any Error)?
                        while let result = await group.nextResult() {
                            group.cancelAll()
                            if case .failure(let error) = result, !(error is CancellationError), cause == nil || error is Unanswered {
                                cause = error
                            }
                        }
                        if let cause { throw cause }
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

    /// Asks the server something every `checkInterval`; throws ``Unanswered`` once it gives no
    /// answer in time, having closed the connection, which ends the LISTEN too.
    private static func check(_ connection: PostgresConnection, logger: Logger) async throws {
        while true {
            try await Task.sleep(for: checkInterval)
            let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    _ = try await connection.query("SELECT 1", logger: logger)
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: checkTimeout)
                    return false
                }
                // A query waiting on a silent connection ends only when the connection closes.
                defer { group.cancelAll() }
                let first = try await group.next() ?? false
                if !first { _ = try? await connection.close() }
                return first
            }
            if !answered { throw Unanswered() }
        }
    }

    struct Unanswered: Error, CustomStringConvertible {
        var description: String { "the server did not answer a check within \(DurationText.format(PostgresChangeListener.checkTimeout))" }
    }

    public func stop() {
        task.cancel()
    }

    deinit {
        task.cancel()
    }
}
