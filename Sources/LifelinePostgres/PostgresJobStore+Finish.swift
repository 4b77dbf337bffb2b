import Foundation
import LifelineQueue

extension PostgresJobStore {
    public func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus] {
        guard !request.jobs.isEmpty else { return [:] }
        let now = clock().ms
        let entries = JSONValue.array(request.jobs.map { entry in
            ["id": .int(entry.id), "attempt": .int(Int64(entry.attempt)), "progress": entry.progress.map { .string($0.canonicalText) } ?? .null]
        }).canonicalText
        return try await transaction { transaction in
            // One statement for every job; a job missing from the answer has lost its lease.
            let rows = try transaction.connection.query("""
                UPDATE jobs j
                SET lease_expires_at = \(now + request.lease.milliseconds), heartbeat_at = \(now),
                    progress = coalesce(e->>'progress', j.progress)
                FROM json_array_elements(\(entries)::json) AS e
                WHERE j.id = (e->>'id')::bigint AND j.state = 'running' AND j.attempt = (e->>'attempt')::int
                  AND j.lease_owner = \(request.owner)
                RETURNING j.id, j.cancel_requested
                """)
            var statuses = Dictionary(uniqueKeysWithValues: request.jobs.map { ($0.id, LeaseStatus.lost) })
            for row in rows {
                let (id, cancel) = try row.decode((Int64, Bool).self)
                statuses[id] = cancel ? .cancelRequested : .held
            }
            CrashPoint.check("renew.before-commit")
            return statuses
        }
    }

    public func jobFinish(_ finishes: [JobFinish]) async throws -> Set<Int64> {
        let applied = try await transaction { transaction in
            let applied = try Self.finish(finishes, transaction)
            CrashPoint.check("finish.before-commit")
            return applied
        }
        CrashPoint.check("finish.after-commit")
        return applied
    }

    /// Applies each finish whose fence holds, inside the caller's transaction; returns their ids.
    static func finish(_ finishes: [JobFinish], _ transaction: PostgresTransaction) throws -> Set<Int64> {
        guard !finishes.isEmpty else { return [] }
        var applied = Set<Int64>()
        for finish in finishes {
            let rows = try transaction.connection.query("""
                SELECT \(unescaped: Job.pgColumns) FROM jobs
                WHERE id = \(finish.id) AND state = 'running' AND attempt = \(finish.attempt) AND lease_owner = \(finish.owner)
                FOR UPDATE
                """)
            guard let job = try rows.first.map(Job.init(row:)) else { continue }
            try applyOutcome(finish.outcome, to: job, transaction)
            applied.insert(finish.id)
        }
        return applied
    }

    /// Moves a running job out of `running` by the outcome of its attempt, and appends the
    /// event that says so. The caller has checked the fence and holds the row.
    static func applyOutcome(_ outcome: JobOutcome, to job: Job, _ transaction: PostgresTransaction) throws {
        let change = OutcomeChange(job: job, outcome: outcome, now: transaction.now)
        let newError = try change.newErrorJSON()
        try transaction.connection.query("""
            UPDATE jobs
            SET state = \(change.state.rawValue), attempt = \(change.attempt), run_at = \(change.runAt.ms), finished_at = \(change.finishedAt?.ms),
                result = \(change.result?.canonicalText),
                errors = CASE WHEN \(newError)::text IS NULL THEN errors ELSE (errors::jsonb || jsonb_build_array(\(newError)::jsonb))::text END,
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = false
            WHERE id = \(job.id)
            """)
        try transaction.eventAppend(change.event, job: job.id, server: job.server, data: change.eventData)
        CrashPoint.check("finish.after-job-update")
        if change.state.isFinal {
            try transaction.hook?.jobDidFinish(job, state: change.state, result: change.result, error: change.newError?.error, in: transaction)
        }
    }
}
