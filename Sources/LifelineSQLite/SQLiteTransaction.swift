import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

/// The SQLite side of ``ServerTransaction``: the domain's steps, run on the connection of
/// the write transaction that called them.
public struct SQLiteTransaction: ServerTransaction {
    let db: Database
    let nowMs: Int64
    let hook: (any JobFinishHook<SQLiteTransaction>)?

    public var now: Date { Date(ms: nowMs) }

    public func jobInsert(_ job: NewJob) throws -> InsertedJob {
        try SQLiteJobStore.insert(job, db, now: nowMs)
    }

    public func jobCancel(_ id: Int64) throws -> CancelResult {
        try SQLiteJobStore.cancel(id, db, now: nowMs, hook: hook)
    }

    public func jobGet(idempotencyKey: String) throws -> Job? {
        try Job.fetch(db, idempotencyKey: idempotencyKey)
    }

    public func eventAppend(_ type: EventType, job: Int64?, server: String?, data: JSONValue) throws {
        try EventLog.append(db, at: nowMs, type: type, job: job, server: server, data: data)
    }

    public func serverGet(_ name: String) throws -> ServerInfo? {
        try ServerRow.fetch(db, name: name)
    }

    public func serversOf(machine: String) throws -> [ServerInfo] {
        try ServerRow.fetchAll(db, machine: machine)
    }

    public func serverInsert(_ spec: ServerSpec) throws {
        guard try ServerRow.fetch(db, name: spec.name) == nil else { throw ServerStoreError.exists(spec.name) }
        try db.execute(sql: """
            INSERT INTO servers (name, machine, disks, disk_size, state, created_at, updated_at)
            VALUES (?, ?, ?, ?, 'creating', ?, ?)
            """, arguments: [spec.name, spec.machine, spec.disks, spec.diskSize, nowMs, nowMs])
    }

    public func serverSave(_ name: String, lifecycle: Lifecycle, recoveryPoint: String?, lastTest: ServerInfo.LastTest?) throws {
        try db.execute(sql: """
            UPDATE servers
            SET state = ?, current_job = ?, last_error = ?, updated_at = ?,
                recovery_point = ?,
                last_test_at = coalesce(?, last_test_at), last_test_result = coalesce(?, last_test_result)
            WHERE name = ?
            """, arguments: [
                lifecycle.state.rawValue, lifecycle.currentJob, lifecycle.lastError, nowMs, recoveryPoint, lastTest?.at.ms,
                lastTest?.result, name,
            ])
    }

    public func serverDelete(_ name: String) throws {
        try db.execute(sql: "DELETE FROM servers WHERE name = ?", arguments: [name])
    }

    public func serverMadeBy(_ name: String) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT job FROM transitions WHERE server = ? AND from_state IS NULL ORDER BY id DESC LIMIT 1", arguments: [name])
    }

    public func transitionAppend(_ transition: ServerTransition, server: String) throws {
        try db.execute(sql: """
            INSERT INTO transitions (server, from_state, to_state, cause, job, at) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [server, transition.from?.rawValue, transition.to?.rawValue, transition.cause, transition.job, transition.at.ms])
    }
}
