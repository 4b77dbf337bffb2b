import Foundation
import LifelineQueue

extension PostgresJobStore {
    public func jobRenewLeases(_ request: LeaseRenewal) async throws -> [Int64: LeaseStatus] {
        guard !request.jobs.isEmpty else { return [:] }
        let entries = JSONValue.array(request.jobs.map { entry in
            ["id": .int(entry.id), "attempt": .int(Int64(entry.attempt)), "progress": entry.progress.map { .string($0.canonicalText) } ?? .null]
        }).canonicalText
        return try await transaction { transaction in
            // One statement for every job; a job missing from the answer has lost its lease.
            let now = transaction.nowMs
            let rows = try transaction.connection.query("""
                UPDATE jobs j
                SET lease_expires_at = \(now + request.lease.milliseconds), heartbeat_at = \(now),
                    progress = coalesce(e.progress, j.progress)
                FROM json_to_recordset(\(entries)::json) AS e(id bigint, attempt int, progress text)
                WHERE j.id = e.id AND j.state = 'running' AND j.attempt = e.attempt
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

    /// Applies each finish whose fence holds, inside the caller's transaction; returns their
    /// ids. Completions of jobs of no recovery server are one statement; the other fenced rows
    /// are read, locked and updated with one statement each, whatever the number of finishes.
    static func finish(_ finishes: [JobFinish], _ transaction: PostgresTransaction) throws -> Set<Int64> {
        guard !finishes.isEmpty else { return [] }
        // A job finished twice in one batch counts once; the second finish would fail its fence.
        var seen = Set<Int64>()
        let unique = finishes.filter { seen.insert($0.id).inserted }
        for finish in unique {
            guard let progress = finish.progress else { continue }
            _ = try transaction.connection.query("""
                UPDATE jobs SET progress = \(progress.canonicalText)
                WHERE id = \(finish.id) AND state = 'running' AND attempt = \(finish.attempt) AND lease_owner = \(finish.owner)
                """)
        }
        let completed = try complete(unique, transaction)
        let finishes = unique.filter { !completed.contains($0.id) }
        guard !finishes.isEmpty else { return completed }
        let ids = finishes.map(\.id), attempts = finishes.map { Int64($0.attempt) }, owners = finishes.map(\.owner)
        let jobs = try transaction.connection.query("""
            SELECT \(unescaped: Job.pgColumns.split(separator: ", ").map { "j." + $0 }.joined(separator: ", "))
            FROM jobs j JOIN unnest(\(ids)::bigint[], \(attempts)::bigint[], \(owners)::text[]) AS f(id, attempt, owner)
              ON j.id = f.id AND j.attempt = f.attempt AND j.lease_owner = f.owner
            WHERE j.state = 'running'
            ORDER BY j.id
            FOR UPDATE OF j
            """).map(Job.init(row:))
        let outcomes = Dictionary(finishes.map { ($0.id, $0.outcome) }, uniquingKeysWith: { first, _ in first })
        try apply(jobs.map { OutcomeChange(job: $0, outcome: outcomes[$0.id]!, now: transaction.now) }, transaction)
        return completed.union(jobs.map(\.id))
    }

    /// The common case in one statement for the whole batch, without reading the rows first:
    /// jobs of no recovery server completed, each fenced by its attempt and owner in the
    /// update itself. Returns the ids it completed; the others (fence lost, or a server's job,
    /// whose lifecycle reads the whole row) take the general path.
    private static func complete(_ finishes: [JobFinish], _ transaction: PostgresTransaction) throws -> Set<Int64> {
        let completions = JobFinish.completions(in: finishes)
        guard !completions.isEmpty else { return [] }
        let entries = JSONValue.array(completions.map { finish, result in
            [
                "id": .int(finish.id), "attempt": .int(Int64(finish.attempt)), "owner": .string(finish.owner),
                "result": result.map { .string($0.canonicalText) } ?? .null,
            ]
        }).canonicalText
        let rows = try transaction.connection.query("SELECT lifeline.complete_jobs(\(entries)::json, \(transaction.nowMs))")
        let completed = Set(try rows.map { try $0.decode(Int64.self) })
        for (finish, _) in completions where completed.contains(finish.id) {
            transaction.eventAppend(.completed, job: finish.id, server: nil, dataText: OutcomeChange.completedData(attempt: finish.attempt))
        }
        if !completed.isEmpty { CrashPoint.check("finish.after-job-update") }
        return completed
    }

    /// Moves running jobs out of `running` by the outcomes of their attempts, and appends the
    /// events that say so. The caller has checked the fences and holds the rows.
    static func applyOutcome(_ outcome: JobOutcome, to job: Job, _ transaction: PostgresTransaction) throws {
        try apply([OutcomeChange(job: job, outcome: outcome, now: transaction.now)], transaction)
    }

    private static func apply(_ changes: [OutcomeChange], _ transaction: PostgresTransaction) throws {
        guard !changes.isEmpty else { return }
        let rows = try JSONValue.array(changes.map { change in
            [
                "id": .int(change.job.id), "state": .string(change.state.rawValue), "attempt": .int(Int64(change.attempt)),
                "run_at": .int(change.runAt.ms), "finished_at": change.finishedAt.map { .int($0.ms) } ?? .null,
                "result": change.result.map { .string($0.canonicalText) } ?? .null,
                "error": try change.newErrorJSON().map { .string($0) } ?? .null,
            ]
        }).canonicalText
        try transaction.connection.query("""
            UPDATE jobs j
            SET state = c.state, attempt = c.attempt, run_at = c.run_at, finished_at = c.finished_at, result = c.result,
                errors = CASE WHEN c.error IS NULL THEN j.errors ELSE (j.errors::jsonb || jsonb_build_array(c.error::jsonb))::text END,
                lease_owner = NULL, lease_expires_at = NULL, cancel_requested = false
            FROM json_to_recordset(\(rows)::json)
                AS c(id bigint, state text, attempt int, run_at bigint, finished_at bigint, result text, error text)
            WHERE j.id = c.id
            """)
        for change in changes {
            try transaction.eventAppend(change.event, job: change.job.id, server: change.job.server, data: change.eventData)
        }
        CrashPoint.check("finish.after-job-update")
        for change in changes where change.state.isFinal {
            try transaction.hook?.jobDidFinish(
                change.job, state: change.state, result: change.result, error: change.newError?.error, in: transaction
            )
        }
    }
}
