import Foundation
import LifelineQueue
import Logging
import PostgresNIO

/// A process's connection to a PostgreSQL queue: one connection, used from one thread, so
/// store calls run in order as they do on SQLite's single writer, and the lifecycle's
/// synchronous steps can run inside a transaction.
public final class PostgresSession: Sendable {
    public let location: PostgresLocation
    private let thread = SerialThread(name: "lifeline-postgres")
    private let connection: BlockingConnection

    /// The advisory lock that keeps a reader of the event log from passing a number that
    /// commits later (numbers of rolled-back writes stay unused). Writers hold it shared
    /// from the moment their events take numbers until they commit, so they never wait for
    /// each other; a reader takes it exclusive for its read, which waits for every writer that
    /// has taken a number so far. A read of "numbers above the last seen" then sees every
    /// number that will ever commit below the highest it returns.
    static let eventLock: Int64 = 0x4C46_4C4E_0002
    /// How long a reader tries for the event lock before it says a writer holds it: a writer
    /// stopped mid-commit holds it until PostgreSQL ends its transaction (see
    /// ``idleTransactionLimit``).
    static let eventLockPatience = Duration.seconds(10)
    /// How long PostgreSQL lets a Lifeline session sit idle inside a transaction before it
    /// ends it (`idle_in_transaction_session_timeout`): a process stopped, or cut off, between
    /// two statements of a transaction, or before its commit, lets go of its locks then.
    static let idleTransactionLimit = "30s"
    /// The channel changes are announced on (those others must act on; see
    /// ``PostgresTransaction``).
    static let channel = "lifeline_changes"

    /// The server's time, which every change on this session is stamped with.
    var serverClock: ServerClock { connection.clock }

    /// - Parameter timeout: how long a statement may go unanswered before the connection is
    ///   dropped and the call fails.
    public init(location: PostgresLocation, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "lifeline.postgres")) {
        self.location = location
        connection = BlockingConnection(location: location, timeout: timeout, logger: logger)
    }

    deinit {
        let connection = connection
        thread.submit { connection.close() }
        thread.stop()
    }

    /// Runs `body` on the session's thread, outside any transaction.
    func run<T: Sendable>(_ body: @escaping @Sendable (BlockingConnection) throws -> T) async throws -> T {
        let connection = connection
        return try await thread.run { try body(connection) }
    }

    /// Runs `body` in one transaction on the session's thread, from a body given to
    /// ``run(_:)``. The events it appended are numbered and inserted last, under the event lock
    /// held shared to the commit, in the same round trip as the commit.
    static func transaction<T>(
        on connection: BlockingConnection, now: Int64, hook: (any JobFinishHook<PostgresTransaction>)?, _ body: (PostgresTransaction) throws -> T
    ) throws -> T {
        // BEGIN goes out with the transaction's first statement: one round trip fewer.
        connection.beginWithNext()
        do {
            let transaction = PostgresTransaction(connection: connection, nowMs: now, hook: hook)
            let result = try body(transaction)
            // The counts' fold, the event lock, the events and the commit go in one round
            // trip: the lock is held for as short a time as the commit allows.
            try connection.pipeline(transaction.foldStatements() + transaction.eventStatements() + ["COMMIT"], committing: true)
            return result
        } catch {
            // A transaction that never began has nothing to roll back.
            if !connection.dropUnsent() { _ = try? connection.query("ROLLBACK") }
            throw error
        }
    }

    /// Brings the schema up to date (creating it in an empty database).
    public func migrate() async throws {
        try await run { try PostgresSchema.migrate($0) }
    }

    /// Checks that the database holds a queue of this build's schema, changing nothing.
    public func checkSchema(acceptingNewer: Bool = false) async throws {
        let version = try await run { try PostgresSchema.currentVersion($0) }
        guard version != 0 else { throw PostgresStoreError.notInitialized(location.description) }
        guard acceptingNewer || version <= PostgresSchema.version else {
            throw PostgresStoreError.newerSchema(location.description, version: version, known: PostgresSchema.version)
        }
        if version < PostgresSchema.version { try await migrate() }
    }
}
