import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus] {
        let now = nowMs()
        return try await write { db in
            let statement = try db.cachedStatement(sql: """
                UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ?, progress = coalesce(?, progress)
                WHERE id = ? AND state = 'running' AND attempt = ? AND lease_owner = ?
                RETURNING cancel_requested
                """)
            var statuses: [Int64: LeaseStatus] = [:]
            for entry in request.jobs {
                let cancel = try Bool.fetchOne(statement, arguments: [
                    now + request.lease.milliseconds, now, entry.progress?.canonicalText, entry.id, entry.attempt,
                    request.owner,
                ])
                statuses[entry.id] = switch cancel {
                case nil: .lost
                case true?: .cancelRequested
                case false?: .held
                }
            }
            CrashPoint.check("renew.before-commit")
            return statuses
        }
    }

    public func jobFinish(_ finishes: [JobFinish]) async throws -> Set<Int64> {
        let now = nowMs()
        let hook = finishHook
        let applied = try await write { db in
            let applied = try Self.finish(finishes, db, now: now, hook: hook)
            CrashPoint.check("finish.before-commit")
            return applied
        }
        CrashPoint.check("finish.after-commit")
        return applied
    }

    /// Applies each finish whose fence holds, inside the caller's transaction; returns their ids.
    static func finish(_ finishes: [JobFinish], _ db: Database, now: Int64, hook: (any JobFinishHook<SQLiteTransaction>)?) throws -> Set<Int64> {
        guard !finishes.isEmpty else { return [] }
        var applied = Set<Int64>()
        let fenced = "SELECT \(Job.columns) FROM jobs WHERE id = ? AND state = 'running' AND attempt = ? AND lease_owner = ?"
        for finish in finishes {
            if case .completed(let result) = finish.outcome, try complete(finish, result: result, db, now: now) {
                applied.insert(finish.id)
                continue
            }
            guard let job = try Job.fetchOne(db, sql: fenced, values: [.int(finish.id), .int(finish.attempt), .text(finish.owner)]) else {
                continue
            }
            try applyOutcome(finish.outcome, to: job, db, now: now, hook: hook)
            applied.insert(finish.id)
        }
        return applied
    }

    /// The common case in one statement: a job of no recovery server completed, its fence
    /// checked by the update itself. False when the fence does not hold or the job has a
    /// server (whose lifecycle reads the whole row): the general path decides then.
    private static func complete(_ finish: JobFinish, result: JSONValue?, _ db: Database, now: Int64) throws -> Bool {
        let update = try RawStatement(db, """
            UPDATE jobs SET state = 'completed', finished_at = ?1, result = ?2, lease_owner = NULL, lease_expires_at = NULL,
                cancel_requested = 0
            WHERE id = ?3 AND state = 'running' AND attempt = ?4 AND lease_owner = ?5 AND server IS NULL
            RETURNING id
            """, [.int(now), .text(result?.canonicalText), .int(finish.id), .int(finish.attempt), .text(finish.owner)])
        guard try update.step() else { return false }
        try update.execute()
        let change = OutcomeChange.completion(attempt: finish.attempt)
        try EventLog.append(db, at: now, type: change.event, job: finish.id, server: nil, data: change.data)
        CrashPoint.check("finish.after-job-update")
        return true
    }

    /// Moves a running job out of `running` by the outcome of its attempt, and appends the
    /// event that says so. The caller has checked the fence.
    static func applyOutcome(_ outcome: JobOutcome, to job: Job, _ db: Database, now: Int64, hook: (any JobFinishHook<SQLiteTransaction>)?) throws {
        let change = OutcomeChange(job: job, outcome: outcome, now: Date(ms: now))
        try RawStatement(db, """
            UPDATE jobs
            SET state = ?1, attempt = ?2, run_at = ?3, finished_at = ?4, result = ?5,
                errors = CASE WHEN ?6 IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(?6)) END,
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
            WHERE id = ?7
            """, [
                .text(change.state.rawValue), .int(change.attempt), .int(change.runAt.ms), .int(change.finishedAt?.ms),
                .text(change.result?.canonicalText), .text(try change.newErrorJSON()), .int(job.id),
            ]).execute()
        try EventLog.append(db, at: now, type: change.event, job: job.id, server: job.server, data: change.eventData)
        CrashPoint.check("finish.after-job-update")
        if change.state.isFinal {
            try hook?.jobDidFinish(
                job, state: change.state, result: change.result, error: change.newError?.error,
                in: SQLiteTransaction(db: db, nowMs: now, hook: hook)
            )
        }
    }
}
