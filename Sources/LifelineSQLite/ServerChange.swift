import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

/// Carries out a lifecycle step inside the caller's transaction: the effects (enqueue the
/// next stage, cancel a stage that no longer matters, remove the server), the new state, the
/// transition record and its event. Actions and stage completions both come through here.
struct ServerChange {
    var server: ServerInfo
    /// The lifecycle before the step; `nil` for a server being created.
    let before: Lifecycle?
    let cause: String
    /// The job whose completion caused the change, if any.
    let causeJob: Int64?
    let now: Int64
    let hook: any JobFinishHook

    /// Applies the effects; returns the job enqueued for the next stage, if any.
    @discardableResult
    func commit(_ effects: [LifecycleEffect], action: String, recoveryPoint: String?, idempotencyKey: String?, _ db: Database) throws -> Int64? {
        var lifecycle = server.lifecycle
        var enqueued: Int64?
        var removed = false
        var cancelled: Int64?
        for effect in effects {
            switch effect {
            case .cancelJob(let id):
                cancelled = id
            case .enqueue(let stage):
                let job = try StageJobs.newJob(
                    stage, server: server, action: action, recoveryPoint: recoveryPoint, afterJob: cancelled,
                    idempotencyKey: idempotencyKey
                )
                let id = try SQLiteJobStore.insert(job, db, now: now).job.id
                lifecycle.started(job: id)
                enqueued = id
                CrashPoint.check("lifecycle.after-next-enqueue")
            case .removeServer:
                removed = true
            case .ignore(let reason):
                try EventLog.append(db, at: now, type: .stageIgnored, job: causeJob, server: server.name, data: ["reason": .string(reason)])
                return nil
            }
        }
        if removed {
            try db.execute(sql: "DELETE FROM servers WHERE name = ?", arguments: [server.name])
        } else {
            try save(lifecycle, recoveryPoint: recoveryPoint, db)
        }
        try record(from: before?.state, to: removed ? nil : lifecycle.state, job: causeJob ?? enqueued, db)
        CrashPoint.check("lifecycle.after-transition")
        // Cancelled last: the cancelled job's own completion then finds the server already moved on.
        if let cancelled { _ = try SQLiteJobStore.cancel(cancelled, db, now: now, hook: hook) }
        return enqueued
    }

    private func save(_ lifecycle: Lifecycle, recoveryPoint: String?, _ db: Database) throws {
        // A test failover's result is kept for `server show`.
        var lastTest: (Int64, String)?
        if before?.state == .startingTest {
            lastTest = lifecycle.state == .testingFailover ? (now, "succeeded") : (now, "failed: \(lifecycle.lastError ?? "")")
        }
        try db.execute(sql: """
            UPDATE servers
            SET state = ?, current_job = ?, last_error = ?, updated_at = ?,
                recovery_point = coalesce(?, recovery_point),
                last_test_at = coalesce(?, last_test_at), last_test_result = coalesce(?, last_test_result)
            WHERE name = ?
            """, arguments: [
                lifecycle.state.rawValue, lifecycle.currentJob, lifecycle.lastError, now,
                recoveryPoint, lastTest?.0, lastTest?.1, server.name,
            ])
    }

    /// Appends the transition to the server's history and the event log.
    func record(from: ServerState?, to: ServerState?, job: Int64?, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO transitions (server, from_state, to_state, cause, job, at) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [server.name, from?.rawValue, to?.rawValue, cause, job, now])
        try EventLog.append(db, at: now, type: .stateChanged, job: job, server: server.name, data: [
            "from": from.map { .string($0.rawValue) } ?? .null, "to": to.map { .string($0.rawValue) } ?? .null,
            "cause": .string(cause),
        ])
    }
}
