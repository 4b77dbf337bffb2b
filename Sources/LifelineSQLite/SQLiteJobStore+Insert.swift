import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    // Each write reads its time once it holds the writer lock: one that waited for it would
    // otherwise stamp, and count a delay from, the time it began to wait.
    public func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob] {
        try await write { [clock] db in try Self.insert(jobs, db, now: clock().ms) }
    }

    /// ``jobInsert(_:)`` on the calling thread: `lifeline enqueue` inserts its job without
    /// starting Swift concurrency's threads.
    public func jobInsertNow(_ jobs: [NewJob]) throws -> [InsertedJob] {
        try writeNow { [clock] db in try Self.insert(jobs, db, now: clock().ms) }
    }

    static func insert(_ jobs: [NewJob], _ db: some StatementSource, now: Int64) throws -> [InsertedJob] {
        let inserted = try jobs.enumerated().map { index, job in
            if index == jobs.count / 2 { CrashPoint.check("insert.mid-batch") }
            return try insert(job, db, now: now, registerQueue: false)
        }
        for queue in Set(inserted.filter { !$0.existing }.map(\.job.queue)) { try register(queue: queue, db) }
        return inserted
    }

    /// Workers that serve every queue find the queues here. Only a job inserted registers its
    /// queue: a key already taken answers with its job and leaves no empty queue behind.
    static func register(queue: String, _ db: some StatementSource) throws {
        try RawStatement(db, "INSERT INTO queues (name) VALUES (?) ON CONFLICT DO NOTHING", [.text(queue)]).execute()
    }

    /// Inserts one job inside the caller's transaction.
    static func insert(_ job: NewJob, _ db: some StatementSource, now: Int64, registerQueue: Bool = true) throws -> InsertedJob {
        let (runAt, state) = job.start(now: Date(ms: now))
        // A taken key inserts nothing; only then is the existing job read and compared.
        try RawStatement(db, """
            INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms,
                              backoff_cap_ms, backoff_jitter, run_at, idempotency_key, server, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            """, [
                .text(job.queue), .text(job.kind), .text(job.args.canonicalText), .text(state.rawValue), .int(job.priority),
                .int(job.maxAttempts), .int(job.timeout.milliseconds), .int(job.backoff.base.milliseconds),
                .int(job.backoff.cap.milliseconds), .double(job.backoff.jitter), .int(runAt.ms), .text(job.idempotencyKey),
                .text(job.server), .int(now),
            ]).execute()
        if let key = job.idempotencyKey, db.changedRowCount == 0 {
            guard let existing = try Job.fetch(db, idempotencyKey: key) else {
                throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the insert of key '\(key)' conflicted, but no job has the key")
            }
            return try job.answer(existing: existing)
        }
        // Built rather than read back: RETURNING and decoding it cost a batch a fifth of its speed.
        let inserted = try job.inserted(id: db.insertedRowID, now: Date(ms: now))
        if registerQueue { try register(queue: job.queue, db) }
        try EventLog.append(db, at: now, type: .enqueued, job: inserted.id, server: job.server, dataText: job.enqueuedEventData(state: state))
        return InsertedJob(job: inserted, existing: false)
    }
}
