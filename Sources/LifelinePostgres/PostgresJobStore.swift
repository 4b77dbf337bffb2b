import Foundation
import LifelineQueue
import LifelineRecovery

/// The PostgreSQL ``JobStore``, for worker pools on many hosts over one queue. Each method is
/// one transaction with its events; claims skip rows other hosts hold (`FOR UPDATE SKIP
/// LOCKED`), and finishes are fenced on (running, attempt, owner) as in SQLite.
public struct PostgresJobStore: JobStore {
    let session: PostgresSession
    let clock: @Sendable () -> Date
    let finishHook: (any JobFinishHook<PostgresTransaction>)?

    /// - Parameters:
    ///   - clock: the time every change is stamped with; tests inject their own. By default the
    ///     server's (``ServerClock``): hosts of one queue compare leases by one clock.
    ///   - finishHook: called inside the transaction that finishes a job, e.g. to move its
    ///     recovery server.
    public init(session: PostgresSession, clock: (@Sendable () -> Date)? = nil, finishHook: (any JobFinishHook<PostgresTransaction>)? = nil) {
        self.session = session
        self.clock = clock ?? { [serverClock = session.serverClock] in serverClock.now() }
        self.finishHook = finishHook
    }

    public var now: Date { clock() }

    /// Runs `body` in one transaction, as the domain's steps see it. Its time is read when it
    /// starts on the session's thread, not when it was asked for: one that waited behind
    /// another (a slow claim, a store out of reach) would otherwise renew a lease short by
    /// that wait.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresTransaction) throws -> T) async throws -> T {
        try await session.run { [clock, finishHook] connection in
            try PostgresSession.transaction(on: connection, now: clock().ms, hook: finishHook, body)
        }
    }

    /// Runs `body` outside a transaction: a read of one statement, or reads that need not agree.
    func read<T: Sendable>(_ body: @escaping @Sendable (BlockingConnection) throws -> T) async throws -> T {
        try await session.run(body)
    }
}

/// The PostgreSQL ``ServerStore``. Shares its session and clock with the job store, so stage
/// jobs and servers change together.
public struct PostgresServerStore: TransactionalServerStore {
    let jobs: PostgresJobStore

    public init(jobs: PostgresJobStore) {
        self.jobs = jobs
    }

    /// A job store whose finished stage jobs move their servers.
    public static func jobStore(session: PostgresSession, clock: (@Sendable () -> Date)? = nil) -> PostgresJobStore {
        PostgresJobStore(session: session, clock: clock, finishHook: ServerLifecycleHook<PostgresTransaction>())
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresTransaction) throws -> T) async throws -> T {
        try await jobs.transaction(body)
    }

    public func serverGet(_ name: String) async throws -> ServerInfo? {
        let read = try await jobs.read { try $0.query("\(unescaped: PostgresServerRow.select) WHERE s.name = \(name)").first.map(PostgresServerRow.decode) }
        return read?.read(at: jobs.now)
    }

    public func serverList() async throws -> [ServerInfo] {
        try await jobs.read { try $0.query("\(unescaped: PostgresServerRow.select) ORDER BY s.name").map(PostgresServerRow.decode) }.map { $0.read(at: jobs.now) }
    }

    public func serverHistory(_ name: String) async throws -> [ServerTransition] {
        try await jobs.read { connection in
            try connection.query("SELECT at, from_state, to_state, cause, job FROM transitions WHERE server = \(name) ORDER BY id").map { row in
                var r = RowReader(row)
                return ServerTransition(
                    at: try r.date(), from: try r.next(String?.self).flatMap(ServerState.init(rawValue:)),
                    to: try r.next(String?.self).flatMap(ServerState.init(rawValue:)), cause: try r.next(), job: try r.next()
                )
            }
        }
    }
}
