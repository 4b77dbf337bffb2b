import Foundation
import LifelineQueue
import Logging
import PostgresNIO

/// A PostgreSQL connection used from one thread with blocking calls, so the lifecycle's
/// synchronous steps can run inside a store transaction. It connects on first use, and after
/// the connection is lost reconnects on the next use, no sooner than its backoff allows. A
/// statement the server does not answer within `timeout` drops the connection: a worker cut
/// off from its database hears about it in time to stop its jobs before their leases run out.
final class BlockingConnection: @unchecked Sendable {
    let location: PostgresLocation
    let timeout: Duration
    private let logger: Logger
    private var connection: PostgresConnection?
    private var failures = 0
    private var retryAt = ContinuousClock.now
    /// Why the last connection failed, said again until the next try: a refusal stays one.
    private var lastFailure: PostgresStoreError?
    /// Whether a transaction's BEGIN waits to go out first with the next call's statements.
    private var beginning = false
    /// Statements that go out ahead of the next call's, in its round trip (after the BEGIN, if
    /// one waits): nothing waits for their answers.
    private var leading: [PostgresQuery] = []
    /// Whether a transaction's BEGIN went out on the connection and its end has not.
    private var inTransaction = false
    /// Whether a caller's own BEGIN (a copy's, a migration's, a consistent read's) went out
    /// and its end has not: the server's time is not read inside it either.
    private var inOwnTransaction = false
    /// The server's time, read again between transactions when due.
    let clock = ServerClock()

    init(location: PostgresLocation, timeout: Duration, logger: Logger) {
        self.location = location
        self.timeout = timeout
        self.logger = logger
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ query: PostgresQuery) throws -> [PostgresRow] {
        try pipeline([query])[0]
    }

    /// Hands the statements over all at once, then waits for all: this thread waits once
    /// instead of once per statement. postgres-nio sends each when the answer to the one before
    /// has come, from its event loop, without waking this thread. Throws the first statement's
    /// error, if any failed.
    @discardableResult
    /// - Parameter committing: the statements end a write transaction with its COMMIT: a loss
    ///   once they are sent leaves unknown whether the change was made
    ///   (``PostgresStoreError/commitUnknown(_:_:)``).
    func pipeline(_ queries: [PostgresQuery], committing: Bool = false) throws -> [[PostgresRow]] {
        let opening = beginning
        let leading: [PostgresQuery] = (opening ? ["BEGIN"] : []) + leading
        self.leading = []
        beginning = false
        let ending = queries.last.map { $0.sql == "COMMIT" || $0.sql == "ROLLBACK" } ?? false
        // A connection lost inside a transaction took the transaction with it: what the
        // transaction goes on to send must fail, not run on a new connection outside any.
        if inTransaction && !isOpen {
            inTransaction = !ending
            drop()
            throw PostgresStoreError.connectionLost(location.description, "the connection closed inside a transaction, which the server rolled back")
        }
        let connection = try connected()
        if !inTransaction, !inOwnTransaction, clock.isDue { readClock(connection) }
        if opening { inTransaction = true }
        if queries.contains(where: { $0.sql == "BEGIN" }) { inOwnTransaction = true }
        let futures = (leading + queries).map { connection.query($0, logger: logger) }
        var results: [Result<[PostgresRow], any Error>] = []
        for future in futures {
            do {
                results.append(.success(try wait(future).rows))
            } catch let error as PostgresStoreError {
                // Sent, and unanswered: the commit may have been made.
                if committing, case .noAnswer = error { throw PostgresStoreError.commitUnknown(location.description, error.description) }
                throw error
            } catch let error as PSQLError where error.code == .server && !PostgresErrorText.endsSession(error) {
                results.append(.failure(PostgresStatementError(message: PostgresErrorText.describe(error), sqlState: PostgresErrorText.sqlState(error))))
            } catch let error as PSQLError {
                // Lost, or ended by the server with its answer (a session terminated by an
                // administrator, a server shutting down): the connection is gone either way.
                drop()
                let reason = PostgresErrorText.describe(error)
                throw committing ? PostgresStoreError.commitUnknown(location.description, reason) : PostgresStoreError.connectionLost(location.description, reason)
            }
        }
        if ending { (inTransaction, inOwnTransaction) = (false, false) }
        return Array(try results.map { try $0.get() }.dropFirst(leading.count))
    }

    /// Whether the connection is up (it may still turn out to be lost when next used).
    var isOpen: Bool {
        connection.map { !$0.isClosed } ?? false
    }

    /// Opens a transaction with the next call's statements instead of in a round trip of its own.
    func beginWithNext() {
        beginning = true
        inTransaction = false
    }

    /// Sends `query` with the next call's statements instead of in a round trip of its own.
    func sendWithNext(_ query: PostgresQuery) {
        leading.append(query)
    }

    /// Drops the statements still waiting to go with the next call; whether the transaction
    /// they open never began (then there is nothing to roll back).
    func dropUnsent() -> Bool {
        defer {
            leading = []
            beginning = false
        }
        return beginning
    }

    func close() {
        drop()
    }

    private func connected() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        connection = nil
        if ContinuousClock.now < retryAt, let lastFailure { throw lastFailure }
        do {
            let connecting = PostgresConnection.connect(
                on: PostgresConnection.defaultEventLoopGroup.any(), configuration: try location.configuration(), id: 1, logger: logger
            )
            let opened: PostgresConnection
            do {
                opened = try wait(connecting)
            } catch PostgresStoreError.noAnswer(let shown, let timeout) {
                // Given up on, it may still come: closed then, as a connection must be before it
                // goes, and kept until its close is done.
                connecting.whenSuccess { late in late.close().whenComplete { _ in _ = late } }
                throw PostgresStoreError.noAnswer(shown, timeout)
            }
            connection = opened
            failures = 0
            return opened
        } catch {
            failures += 1
            let reason = (error as? PostgresStoreError)?.reason ?? PostgresErrorText.describe(error)
            // A restarting server is not hammered, and is found within a second of its return.
            retryAt = .now + Backoff.storeRetry.delay(afterAttempt: failures)
            // The server answered: it refused, rather than could not be reached.
            let failure: PostgresStoreError = if let tls = PostgresErrorText.tlsFailure(error) {
                .tlsFailed(location.description, tls)
            } else if PostgresErrorText.isNotPostgres(error) {
                .notPostgres(location.description)
            } else if let error = error as? PSQLError, error.code == .server || error.code == .authMechanismRequiresPassword {
                .refused(location.description, reason, sqlState: PostgresErrorText.sqlState(error))
            } else {
                .unreachable(location.description, reason)
            }
            lastFailure = failure
            throw failure
        }
    }

    /// Asks the server for its time, in a round trip of its own. One that fails changes
    /// nothing: the statements that follow on the connection meet the same trouble, and say it.
    private func readClock(_ connection: PostgresConnection) {
        let sent = ContinuousClock.now
        guard let rows = try? wait(connection.query(PostgresQuery(unsafeSQL: ServerClock.query), logger: logger)).rows,
            let serverMs = try? rows.first?.decode(Int64.self)
        else { return }
        clock.record(serverMs: serverMs, sent: sent, answered: .now)
    }

    private func drop() {
        inOwnTransaction = false
        // The connection must outlive its close.
        if let closing = connection { closing.close().whenComplete { _ in _ = closing } }
        connection = nil
    }

    /// Waits for `future` at most `timeout`; past it, the connection is dropped.
    private func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        let box = ResultBox<T>()
        future.whenComplete { box.set($0) }
        guard box.wait(timeout: timeout) else {
            drop()
            throw PostgresStoreError.noAnswer(location.description, timeout)
        }
        return try box.result!.get()
    }
}

/// A result handed from an event loop to a waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stored: Result<T, any Error>?

    var result: Result<T, any Error>? { lock.withLock { stored } }

    func set(_ result: Result<T, any Error>) {
        lock.withLock { stored = result }
        semaphore.signal()
    }

    func wait(timeout: Duration) -> Bool {
        let nanoseconds = Int(timeout.components.seconds) * 1_000_000_000 + Int(timeout.components.attoseconds / 1_000_000_000)
        return semaphore.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success
    }
}
