import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus] {
        try await writeUnsynced { [self] db in
            let now = try leaseTime(db)
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
        let hook = finishHook
        let applied = try await write { [self] db in
            // A retry's due time set here must not be moved again by a claim's look at the clock.
            let applied = try Self.finish(finishes, db, now: try leaseTime(db), hook: hook)
            CrashPoint.check("finish.before-commit")
            return applied
        }
        CrashPoint.check("finish.after-commit")
        return applied
    }

    /// Applies each finish whose fence holds, inside the caller's transaction; returns their ids.
    static func finish(_ finishes: [JobFinish], _ db: Database, now: Int64, hook: (any JobFinishHook<SQLiteTransaction>)?) throws -> Set<Int64> {
        guard !finishes.isEmpty else { return [] }
        for finish in finishes {
            guard let progress = finish.progress else { continue }
            try RawStatement(db, "UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running' AND attempt = ? AND lease_owner = ?", [
                .text(progress.canonicalText), .int(finish.id), .int(finish.attempt), .text(finish.owner),
            ]).execute()
        }
        var applied = try complete(finishes, db, now: now)
        let fenced = "SELECT \(Job.columns) FROM jobs WHERE id = ? AND state = 'running' AND attempt = ? AND lease_owner = ?"
        for finish in finishes where !applied.contains(finish.id) {
            guard let job = try Job.fetchOne(db, sql: fenced, values: [.int(finish.id), .int(finish.attempt), .text(finish.owner)]) else {
                continue
            }
            try applyOutcome(finish.outcome, to: job, db, now: now, hook: hook)
            applied.insert(finish.id)
        }
        return applied
    }

    /// The common case in a statement per 64 jobs (``MultiRow``): jobs of no recovery server
    /// completed, each fenced by its attempt and owner in the update itself. Returns the ids
    /// it completed; the others (fence lost, or a server's job, whose lifecycle reads the
    /// whole row) take the general path.
    private static func complete(_ finishes: [JobFinish], _ db: Database, now: Int64) throws -> Set<Int64> {
        let completions = JobFinish.completions(in: finishes)
        guard !completions.isEmpty else { return [] }
        // Each completed job's queue.
        var completed: [Int64: String] = [:]
        try completeRows.run(db, leading: [.int(now)], completions, values: { completion, values in
            let finish = completion.finish
            values.append(.int(finish.id))
            values.append(.int(Int64(finish.attempt)))
            values.append(.text(finish.owner))
            values.append(.text(completion.result?.canonicalText))
        }, read: { row in
            completed[row.int64(0)] = row.text(1)
        })
        for (queue, count) in KeptCounts.perQueue(completed.values) { try KeptCounts.addJobs(db, queue: queue, state: .completed, count) }
        try EventLog.append(db, at: now, type: .completed, completions.compactMap { finish, _ in
            completed[finish.id].map { queue in (finish.id, queue, nil, OutcomeChange.completedData(attempt: finish.attempt)) }
        })
        CrashPoint.check("finish.after-job-update")
        return Set(completed.keys)
    }

    /// The completions of 1 to 64 jobs, each fenced by its attempt and owner.
    private static let completeRows = MultiRow.Statements(valuesPerRow: 4) { count in
        """
        UPDATE jobs SET state = 'completed', finished_at = ?1, result = f.result, lease_owner = NULL, lease_expires_at = NULL,
            cancel_requested = 0
        FROM (SELECT column1 AS id, column2 AS attempt, column3 AS owner, column4 AS result
              FROM (VALUES \(MultiRow.values("(?, ?, ?, ?)", count: count)))) AS f
        WHERE jobs.id = f.id AND jobs.state = 'running' AND jobs.attempt = f.attempt AND jobs.lease_owner = f.owner
          AND jobs.server IS NULL
        RETURNING jobs.id, jobs.queue
        """
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
        try KeptCounts.addJobs(db, queue: job.queue, state: change.state, 1)
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
