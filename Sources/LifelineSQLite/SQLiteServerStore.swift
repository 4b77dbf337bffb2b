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
        writer: any DatabaseWriter, clock: @escaping @Sendable () -> Date = { Date() }, lockTimeout: Duration = SQLiteDatabase.defaultLockTimeout
    ) -> SQLiteJobStore {
        SQLiteJobStore(writer: writer, clock: clock, finishHook: ServerLifecycleHook<SQLiteTransaction>(), lockTimeout: lockTimeout)
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteTransaction) throws -> T) async throws -> T {
        try await jobs.transaction(body)
    }

    public func serverGet(_ name: String) async throws -> ServerInfo? {
        try await jobs.writer.read { db in try ServerRow.fetch(db, name: name) }
    }

    public func serverList() async throws -> [ServerInfo] {
        try await jobs.writer.read { db in try ServerRow.fetchAll(db) }
    }

    public func serverHistory(_ name: String) async throws -> [ServerTransition] {
        try await jobs.writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM transitions WHERE server = ? ORDER BY id", arguments: [name]).map { row in
                ServerTransition(
                    at: Date(ms: row["at"]), from: (row["from_state"] as String?).flatMap(ServerState.init(rawValue:)),
                    to: (row["to_state"] as String?).flatMap(ServerState.init(rawValue:)), cause: row["cause"], job: row["job"]
                )
            }
        }
    }
}
