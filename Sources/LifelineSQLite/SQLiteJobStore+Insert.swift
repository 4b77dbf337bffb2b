import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob] {
        let now = nowMs()
        return try await writer.write { db in
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
        if let key = job.idempotencyKey,
           let existing = try Job.fetchAll(db, sql: "SELECT \(Job.columns) FROM jobs WHERE idempotency_key = ?", arguments: [key]).first
        {
            guard existing.kind == job.kind, existing.args.canonicalText == args else {
                throw JobStoreError.idempotencyConflict(key: key, existing: existing.id)
            }
            return InsertedJob(job: existing, existing: true)
        }
        let runAt = max(job.runAt?.ms ?? now, now)
        let state: JobState = runAt > now ? .scheduled : .available
        let inserted = try Job.fetchAll(db, sql: """
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms,
                              backoff_cap_ms, backoff_jitter, run_at, idempotency_key, server, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING \(Job.columns)
            """, arguments: [
                job.queue, job.kind, args, state.rawValue, job.priority, job.maxAttempts, job.timeout.milliseconds,
                job.backoff.base.milliseconds, job.backoff.cap.milliseconds, job.backoff.jitter, runAt,
                job.idempotencyKey, job.server, now,
            ])[0]
        try EventLog.append(
            db, at: now, type: .enqueued, job: inserted.id, server: job.server,
            data: ["kind": .string(job.kind), "queue": .string(job.queue), "state": .string(state.rawValue)]
        )
        return InsertedJob(job: inserted, existing: false)
    }
}
