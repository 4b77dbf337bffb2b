import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func jobClaim(_ claim: DeferredClaim) async throws -> ClaimResult? {
        let hook = finishHook
        return try await writer.writeWithoutTransaction { [self] db in
            guard let request = claim.request() else { return nil }
            // The time is read once the transaction holds the write lock, which it may have waited
            // for; `readAt` after it: a timeout counted from it never ends an attempt sooner
            // after its started event than it says.
            let result = try commit({ db in
                let now = try leaseTime(db)
                return try Self.claim(request, db, readAt: .now, now: now, hook: hook)
            }, db)
            if !request.finishes.isEmpty { CrashPoint.check("finish.after-commit") }
            CrashPoint.check("claim.after-commit")
            claim.committed(result)
            return result
        }
    }

    private static func claim(
        _ request: ClaimRequest, _ db: Database, readAt: ContinuousClock.Instant, now: Int64, hook: (any JobFinishHook<SQLiteTransaction>)?
    ) throws -> ClaimResult {
        let finished = try finish(request.finishes, db, now: now, hook: hook)
        try rescueExpiredLeases(db, now: now, sparing: request, readAt: readAt, hook: hook)
        try promoteDueJobs(db, now: now)
        let claimed = try ClaimFill.fill(
            request.limit, from: QueueSettings.fetch(db, names: request.queues), weights: request.weights,
            room: { queue in (queue.limit ?? 0) - (try runningCount(db, queue: queue.name)) },
            peek: { queues in try queues.map { try firstWaiting(db, queue: $0.queue, count: $0.count) } },
            claim: { queue, count in try claim(db, queue: queue, count: count, owner: request.owner, lease: request.lease, now: now) }
        )
        // A worker with free slots left waits; tell it until when at most.
        let nextWakeup = claimed.count < request.limit ? try Self.nextWakeup(db, now: now) : nil
        if !request.finishes.isEmpty { CrashPoint.check("finish.before-commit") }
        CrashPoint.check("claim.before-commit")
        return ClaimResult(jobs: claimed, nextWakeup: nextWakeup, at: Date(ms: now), readAt: readAt, finished: finished)
    }

    /// A lease already run out is not waited for: this claim took it back, or spares it.
    private static func nextWakeup(_ db: Database, now: Int64) throws -> Date? {
        let due = try Int64.fetchOne(db.cachedStatement(
            sql: "SELECT min(run_at) FROM jobs WHERE state IN ('scheduled', 'retryable')"))
        let expiry = try Int64.fetchOne(db.cachedStatement(
            sql: "SELECT min(lease_expires_at) FROM jobs WHERE state = 'running' AND lease_expires_at >= ?"), arguments: [now])
        return [due, expiry].compactMap { $0 }.min().map(Date.init(ms:))
    }

    private static func claim(_ db: Database, queue: String, count: Int, owner: String, lease: Duration, now: Int64) throws -> [Job] {
        let jobs = try Job.fetchAll(db, sql: """
            UPDATE jobs
            SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?,
                heartbeat_at = ?, attempted_at = ?
            WHERE id IN (
                SELECT id FROM jobs WHERE queue = ? AND state = 'available'
                ORDER BY priority, run_at, id LIMIT ?)
            RETURNING \(Job.columns)
            """, values: [.text(owner), .int(now + lease.milliseconds), .int(now), .int(now), .text(queue), .int(count)])
        try KeptCounts.addJobs(db, queue: queue, state: .available, -jobs.count)
        // RETURNING gives no order; callers get the claim order.
        let claimed = jobs.sorted { ($0.priority, $0.runAt, $0.id) < ($1.priority, $1.runAt, $1.id) }
        var startedData = JobEvent.StartedData(worker: owner)
        try EventLog.append(db, at: now, type: .started, claimed.indices.map { index in
            (claimed[index].id, claimed[index].queue, claimed[index].server, startedData.text(attempt: claimed[index].attempt, kind: claimed[index].kind))
        })
        return claimed
    }

    /// Where a queue's first waiting jobs stand in claim order, from the claim index alone.
    private static func firstWaiting(_ db: Database, queue: String, count: Int) throws -> [ClaimFill.Key] {
        try Row.fetchAll(db.cachedStatement(sql: """
            SELECT priority, run_at, id FROM jobs WHERE queue = ? AND state = 'available' ORDER BY priority, run_at, id LIMIT ?
            """), arguments: [queue, count]).map { ClaimFill.Key(priority: try $0.value(at: 0), runAt: try $0.value(at: 1), id: try $0.value(at: 2)) }
    }

    /// A limited queue's running jobs, counted at each claim from the lease index: the claim
    /// index holds available jobs only.
    static let runningCountSQL = "SELECT count(*) FROM jobs WHERE queue = ? AND state = 'running'"

    private static func runningCount(_ db: Database, queue: String) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: runningCountSQL), arguments: [queue]) ?? 0
    }

    /// Scheduled and retryable jobs whose time has come become available.
    private static func promoteDueJobs(_ db: Database, now: Int64) throws {
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'available' WHERE state IN ('scheduled', 'retryable') AND run_at <= ?
            """).execute(arguments: [now])
    }

    /// Takes back the jobs of workers that stopped renewing their leases, but those the claim
    /// spares. The lost attempt is recorded as failed, with the worker that held it.
    static func rescueExpiredLeases(
        _ db: Database, now: Int64, sparing request: ClaimRequest, readAt: ContinuousClock.Instant, hook: (any JobFinishHook<SQLiteTransaction>)?
    ) throws {
        let expired = try Job.fetchAll(
            db, sql: "SELECT \(Job.columns) FROM jobs WHERE state = 'running' AND lease_expires_at < ?", arguments: [now]
        )
        for job in expired where !request.spares(job, now: now, readAt: readAt) {
            try applyOutcome(OutcomeChange.expiredLease(of: job), to: job, db, now: now, hook: hook)
        }
    }
}

/// The queues a claim takes from, with their settings.
enum QueueSettings {
    /// The named queues with their settings; with no names, every
    /// registered queue, by name.
    static func fetch(_ db: Database, names: [String]) throws -> [ClaimFill.Queue] {
        let columns = "SELECT name, concurrency_limit, paused FROM queues"
        if names.isEmpty {
            return try rows(RawStatement(db, columns + " ORDER BY name", []))
        }
        let placeholders = Array(repeating: "?", count: names.count).joined(separator: ", ")
        let known = Dictionary(
            try rows(RawStatement(db, columns + " WHERE name IN (\(placeholders))", names.map { .text($0) })).map { ($0.name, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        return names.map { known[$0] ?? ClaimFill.Queue(name: $0, limit: nil, paused: false) }
    }

    private static func rows(_ statement: RawStatement) throws -> [ClaimFill.Queue] {
        defer { statement.reset() }
        var rows: [ClaimFill.Queue] = []
        while try statement.step() {
            rows.append(ClaimFill.Queue(name: statement.text(0), limit: statement.optionalInt64(1).map { Int($0) }, paused: statement.int64(2) != 0))
        }
        return rows
    }
}
