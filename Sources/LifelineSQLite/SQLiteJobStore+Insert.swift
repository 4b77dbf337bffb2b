import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob] {
        let now = nowMs()
        return try await write { db in
            for queue in Set(jobs.map(\.queue)) { try Self.register(queue: queue, db) }
            return try jobs.enumerated().map { index, job in
                if index == jobs.count / 2 { CrashPoint.check("insert.mid-batch") }
                return try Self.insert(job, db, now: now, registerQueue: false)
            }
        }
    }

    /// Workers that serve every queue find the queues here.
    static func register(queue: String, _ db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO queues (name) VALUES (?) ON CONFLICT DO NOTHING").execute(arguments: [queue])
    }

    /// Inserts one job inside the caller's transaction.
    static func insert(_ job: NewJob, _ db: Database, now: Int64, registerQueue: Bool = true) throws -> InsertedJob {
        if registerQueue { try register(queue: job.queue, db) }
        let args = job.args.canonicalText
        let runAt = max(job.runAt?.ms ?? now, now)
        let state: JobState = runAt > now ? .scheduled : .available
        // A taken key inserts nothing; only then is the existing job read and compared.
        try RawStatement(db, """
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms,
                              backoff_cap_ms, backoff_jitter, run_at, idempotency_key, server, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            """, [
                .text(job.queue), .text(job.kind), .text(args), .text(state.rawValue), .int(job.priority), .int(job.maxAttempts),
                .int(job.timeout.milliseconds), .int(job.backoff.base.milliseconds), .int(job.backoff.cap.milliseconds),
                .double(job.backoff.jitter), .int(runAt), .text(job.idempotencyKey), .text(job.server), .int(now),
            ]).execute()
        if let key = job.idempotencyKey, db.changesCount == 0 {
            guard let existing = try Job.fetch(db, idempotencyKey: key) else {
                throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the insert of key '\(key)' conflicted, but no job has the key")
            }
            guard existing.kind == job.kind, existing.args.canonicalText == args else {
                throw JobStoreError.idempotencyConflict(key: key, existing: existing.id)
            }
            return InsertedJob(job: existing, existing: true)
        }
        // The row as inserted, built rather than read back (RETURNING and decoding it cost a
        // batch a fifth of its speed); durations in whole milliseconds and canonical args, as
        // stored.
        let inserted = Job(
            id: db.lastInsertedRowID, queue: job.queue, kind: job.kind, args: try JSONValue(parsing: args), state: state, priority: job.priority,
            attempt: 0, maxAttempts: job.maxAttempts, timeout: .milliseconds(job.timeout.milliseconds),
            backoff: Backoff(base: .milliseconds(job.backoff.base.milliseconds), cap: .milliseconds(job.backoff.cap.milliseconds), jitter: job.backoff.jitter),
            runAt: Date(ms: runAt), idempotencyKey: job.idempotencyKey, server: job.server, createdAt: Date(ms: now)
        )
        try EventLog.append(
            db, at: now, type: .enqueued, job: inserted.id, server: job.server,
            data: ["kind": .string(job.kind), "queue": .string(job.queue), "state": .string(state.rawValue)]
        )
        return InsertedJob(job: inserted, existing: false)
    }
}
