import Foundation
import LifelineQueue

extension PostgresJobStore {
    public func jobInsert(_ jobs: [NewJob]) async throws -> [InsertedJob] {
        let inserted = try await transaction { transaction in
            let inserted = try jobs.enumerated().map { index, job in
                if index == jobs.count / 2 { CrashPoint.check("insert.mid-batch") }
                return try Self.insert(job, transaction, registerQueue: false)
            }
            for queue in Set(inserted.filter { !$0.existing }.map(\.job.queue)).sorted() { Self.register(queue: queue, transaction) }
            return inserted
        }
        if jobs.count >= Self.analyzedBatch { try await analyzeJobs() }
        return inserted
    }

    /// A batch this large has the planner look at the jobs table again at once.
    static let analyzedBatch = 1_000

    /// Until the planner has statistics of a table that grew by thousands of jobs (autovacuum
    /// looks once a minute), it guesses that few are waiting and claims through the queue and
    /// state index, sorting the whole backlog for every claim: 33 ms a claim with 50,000 jobs,
    /// against a step into the claim index.
    func analyzeJobs() async throws {
        try await session.run { connection in _ = try connection.query("ANALYZE jobs") }
    }

    /// Workers that serve every queue find the queues here; only a job inserted registers its
    /// queue. Nothing waits for its answer: it goes out with the transaction's next statement
    /// (its events and commit), in the same round trip.
    static func register(queue: String, _ transaction: PostgresTransaction) {
        transaction.connection.sendWithNext("INSERT INTO queues (name) VALUES (\(queue)) ON CONFLICT DO NOTHING")
    }

    /// Inserts one job inside the caller's transaction.
    static func insert(_ job: NewJob, _ transaction: PostgresTransaction, registerQueue: Bool = true) throws -> InsertedJob {
        let (runAt, state) = job.start(now: transaction.now)
        // A taken key inserts nothing; only then is the existing job read and compared. The
        // statement counts what it inserts (see the schema's v3).
        let rows = try transaction.connection.query("""
            WITH inserted AS (
                INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms,
                                  backoff_cap_ms, backoff_jitter, run_at, idempotency_key, server, created_at)
                VALUES (\(job.queue), \(job.kind), \(job.args.canonicalText), \(state.rawValue), \(job.priority), \(job.maxAttempts),
                        \(job.timeout.milliseconds), \(job.backoff.base.milliseconds), \(job.backoff.cap.milliseconds), \(job.backoff.jitter),
                        \(runAt.ms), \(job.idempotencyKey), \(job.server), \(transaction.nowMs))
                ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING id, queue, state
            ), counted AS (
                INSERT INTO job_count_changes (queue, state, n) SELECT queue, state, 1 FROM inserted
            )
            SELECT id FROM inserted
            """)
        guard let id = try rows.first?.decode(Int64.self) else {
            let key = job.idempotencyKey ?? ""
            guard let existing = try transaction.jobGet(idempotencyKey: key) else {
                throw PostgresDataError("the insert of key '\(key)' conflicted, but no job has the key")
            }
            return try job.answer(existing: existing)
        }
        transaction.jobInserted()
        if registerQueue { register(queue: job.queue, transaction) }
        transaction.eventAppend(.enqueued, job: id, server: job.server, dataText: job.enqueuedEventData(state: state))
        return InsertedJob(job: try job.inserted(id: id, now: transaction.now), existing: false)
    }
}
