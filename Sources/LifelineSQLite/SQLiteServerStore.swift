import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

/// The SQLite ``ServerStore``. Shares its database and clock with the job store, so stage
/// jobs and servers change together; the lifecycle's steps run in the store's transaction
/// through ``SQLiteTransaction``.
public struct SQLiteServerStore: TransactionalServerStore {
    let jobs: SQLiteJobStore

    public init(jobs: SQLiteJobStore) {
        self.jobs = jobs
    }

    /// A job store whose finished stage jobs move their servers.
    public static func jobStore(
        writer: any DatabaseWriter, clock: (@Sendable () -> Date)? = nil, lockTimeout: Duration = SQLiteDatabase.defaultLockTimeout
    ) -> SQLiteJobStore {
        SQLiteJobStore(writer: writer, clock: clock, finishHook: LifecycleHook(), lockTimeout: lockTimeout)
    }

    /// ``ServerLifecycleHook`` on this store, as a type of its own: the metadata of the generic
    /// one is made at run time by a scan of every protocol conformance record in the binary
    /// (390,000 instructions, a twenty-fifth of a one-job enqueue), while this type's is static.
    private struct LifecycleHook: JobFinishHook {
        func jobDidFinish(_ job: Job, state: JobState, result: JSONValue?, error: String?, in transaction: SQLiteTransaction) throws {
            try ServerLifecycleHook<SQLiteTransaction>().jobDidFinish(job, state: state, result: result, error: error, in: transaction)
        }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteTransaction) throws -> T) async throws -> T {
        try await jobs.transaction(body)
    }

    public func serverGet(_ name: String) async throws -> ServerInfo? {
        try await jobs.writer.read { db in try ServerRow.fetch(db, name: name) }?.read(at: jobs.now)
    }

    public func serverList() async throws -> [ServerInfo] {
        try await jobs.writer.read { db in try ServerRow.fetchAll(db) }.map { $0.read(at: jobs.now) }
    }

    public func serverHistory(_ name: String) async throws -> [ServerTransition] {
        try await jobs.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM transitions WHERE server = ? ORDER BY id", arguments: [name]).map { row in
                ServerTransition(
                    at: Date(ms: try row.value("at")), from: (try row.value("from_state") as String?).flatMap(ServerState.init(rawValue:)),
                    to: (try row.value("to_state") as String?).flatMap(ServerState.init(rawValue:)), cause: try row.value("cause"), job: try row.value("job")
                )
            }
        }
    }
}
