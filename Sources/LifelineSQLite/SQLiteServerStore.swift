import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

/// The SQLite ``ServerStore``. Shares its database and clock with the job store, so stage
/// jobs and servers change together; jobs it cancels go through the lifecycle hook too.
public struct SQLiteServerStore: ServerStore {
    let jobs: SQLiteJobStore
    private let hook = ServerLifecycleHook()

    public init(jobs: SQLiteJobStore) {
        self.jobs = jobs
    }

    /// A job store whose finished stage jobs move their servers.
    public static func jobStore(
        writer: any DatabaseWriter, clock: @escaping @Sendable () -> Date = { Date() }, lockTimeout: Duration = .seconds(30)
    ) -> SQLiteJobStore {
        SQLiteJobStore(writer: writer, clock: clock, finishHook: ServerLifecycleHook(), lockTimeout: lockTimeout)
    }

    public func serverCreate(_ spec: ServerSpec, idempotencyKey: String?) async throws -> ActionResult {
        let now = jobs.nowMs()
        let hook = hook
        return try await jobs.write { db in
            if let existing = try Self.existing(idempotencyKey, server: spec.name, action: "create", db) { return existing }
            guard try ServerRow.fetch(db, name: spec.name) == nil else { throw ServerStoreError.exists(spec.name) }
            try db.execute(sql: """
                INSERT INTO servers (name, machine, disks, disk_size, state, created_at, updated_at)
                VALUES (?, ?, ?, ?, 'creating', ?, ?)
                """, arguments: [spec.name, spec.machine, spec.disks, spec.diskSize, now, now])
            let (lifecycle, effects) = Lifecycle.creating()
            var server = try ServerRow.fetch(db, name: spec.name)!
            server.lifecycle = lifecycle
            let change = ServerChange(server: server, before: nil, cause: "create", causeJob: nil, now: now, hook: hook)
            let job = try change.commit(effects, action: "create", recoveryPoint: nil, idempotencyKey: idempotencyKey, db)
            return ActionResult(job: job!, existing: false, server: try ServerRow.fetch(db, name: spec.name))
        }
    }

    public func serverAct(_ name: String, action: ServerAction, recoveryPoint: String?, idempotencyKey: String?) async throws -> ActionResult {
        let now = jobs.nowMs()
        let hook = hook
        return try await jobs.write { db in
            if let existing = try Self.existing(idempotencyKey, server: name, action: action.rawValue, db) { return existing }
            guard let server = try ServerRow.fetch(db, name: name) else { throw ServerStoreError.notFound(name) }
            var lifecycle = server.lifecycle
            let effects = try lifecycle.handle(.action(action))
            var moved = server
            moved.lifecycle = lifecycle
            let change = ServerChange(server: moved, before: server.lifecycle, cause: action.rawValue, causeJob: nil, now: now, hook: hook)
            let point = action == .failover || action == .testFailover ? recoveryPoint : nil
            let job = try change.commit(effects, action: action.rawValue, recoveryPoint: point, idempotencyKey: idempotencyKey, db)
            CrashPoint.check("action.before-commit")
            return ActionResult(job: job!, existing: false, server: try ServerRow.fetch(db, name: name))
        }
    }

    /// The earlier result of the same request under an idempotency key; a key used for
    /// another server or action is a conflict.
    private static func existing(_ key: String?, server: String, action: String, _ db: Database) throws -> ActionResult? {
        guard let key, let job = try Job.fetch(db, idempotencyKey: key) else {
            return nil
        }
        guard job.server == server, job.args["action"]?.stringValue == action else {
            throw JobStoreError.idempotencyConflict(key: key, existing: job.id)
        }
        return ActionResult(job: job.id, existing: true, server: try ServerRow.fetch(db, name: server))
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
