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
            guard let job = try Job.fetchOne(db, sql: fenced, values: [.int(finish.id), .int(finish.attempt), .text(finish.owner)]) else {
                continue
            }
            try applyOutcome(finish.outcome, to: job, db, now: now, hook: hook)
            applied.insert(finish.id)
        }
        return applied
    }

    /// Moves a running job out of `running` by the outcome of its attempt, and appends the
    /// event that says so. The caller has checked the fence.
    static func applyOutcome(_ outcome: JobOutcome, to job: Job, _ db: Database, now: Int64, hook: (any JobFinishHook<SQLiteTransaction>)?) throws {
        var change = JobChange(job: job, now: now)
        // A cancel request wins over anything but success: the user asked the job to stop.
        var outcome = outcome
        if job.cancelRequested, case .completed = outcome {} else if job.cancelRequested { outcome = .cancelled }
        switch outcome {
        case .completed(let result):
            change.finish(.completed, event: .completed, data: ["attempt": .int(Int64(job.attempt))])
            change.result = result
        case .failed(let error) where job.attempt < job.maxAttempts:
            let delay = job.backoff.delay(afterAttempt: job.attempt)
            change.recordError(error)
            change.wait(.retryable, runAt: now + delay.milliseconds, event: .retrying, data: [
                "attempt": .int(Int64(job.attempt)), "error": .string(error),
                "run_at": .string(LifelineJSON.formatTime(Date(ms: now + delay.milliseconds))),
            ])
        case .failed(let error), .discarded(let error):
            change.recordError(error)
            change.finish(.discarded, event: .discarded, data: ["attempt": .int(Int64(job.attempt)), "error": .string(error)])
        case .snoozed(let delay):
            change.attempt -= 1
            change.wait(.scheduled, runAt: now + delay.milliseconds, event: .snoozed, data: [
                "run_at": .string(LifelineJSON.formatTime(Date(ms: now + delay.milliseconds))),
            ])
        case .released:
            change.attempt -= 1
            change.wait(.available, runAt: now, event: .released, data: ["worker": .string(job.leaseOwner ?? "")])
        case .cancelled:
            change.finish(.cancelled, event: .cancelled, data: ["attempt": .int(Int64(job.attempt))])
        }
        try change.save(db)
        CrashPoint.check("finish.after-job-update")
        if change.state.isFinal {
            try hook?.jobDidFinish(
                job, state: change.state, result: change.result, error: change.newError?.error,
                in: SQLiteTransaction(db: db, nowMs: now, hook: hook)
            )
        }
    }
}

/// The columns a finished attempt changes, gathered so one statement writes them.
private struct JobChange {
    let job: Job
    let now: Int64
    var state: JobState = .running
    var attempt: Int
    var runAt: Int64
    var finishedAt: Int64?
    var result: JSONValue?
    var newError: AttemptError?
    var event: (EventType, JSONValue) = (.completed, .object([:]))

    init(job: Job, now: Int64) {
        self.job = job
        self.now = now
        attempt = job.attempt
        runAt = job.runAt.ms
    }

    mutating func finish(_ state: JobState, event: EventType, data: JSONValue) {
        self.state = state
        finishedAt = now
        self.event = (event, data)
    }

    mutating func wait(_ state: JobState, runAt: Int64, event: EventType, data: JSONValue) {
        self.state = state
        self.runAt = runAt
        self.event = (event, data)
    }

    mutating func recordError(_ message: String) {
        newError = AttemptError(attempt: job.attempt, at: Date(ms: now), error: message, worker: job.leaseOwner)
    }

    func save(_ db: Database) throws {
        let errorJSON = try newError.map { String(decoding: try LifelineJSON.encoder().encode($0), as: UTF8.self) }
        try RawStatement(db, """
            UPDATE jobs
            SET state = ?1, attempt = ?2, run_at = ?3, finished_at = ?4, result = ?5,
                errors = CASE WHEN ?6 IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(?6)) END,
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = 0
            WHERE id = ?7
            """, [
                .text(state.rawValue), .int(attempt), .int(runAt), .int(finishedAt), .text(result?.canonicalText), .text(errorJSON),
                .int(job.id),
            ]).execute()
        try EventLog.append(db, at: now, type: event.0, job: job.id, server: job.server, data: event.1)
    }
}
