import Foundation
import LifelineQueue
import PostgresNIO

extension PostgresJobStore {
    public func jobClaim(_ claim: DeferredClaim) async throws -> ClaimResult? {
        try await session.run { [self] connection in
            guard let request = claim.request() else { return nil }
            // Read after the time the claim's started events carry: a timeout counted from it
            // never ends an attempt sooner after its started event than it says.
            let now = clock().ms
            let readAt = ContinuousClock.now
            let result = try PostgresSession.transaction(on: connection, now: now, hook: finishHook) { transaction in
                try Self.claim(request, transaction, readAt: readAt)
            }
            if !request.finishes.isEmpty { CrashPoint.check("finish.after-commit") }
            CrashPoint.check("claim.after-commit")
            claim.committed(result)
            return result
        }
    }

    private static func claim(_ request: ClaimRequest, _ transaction: PostgresTransaction, readAt: ContinuousClock.Instant) throws -> ClaimResult {
        let finished = try finish(request.finishes, transaction)
        // Three steps that do not depend on each other, in one round trip.
        let answers = try transaction.connection.pipeline([
            expiredLeases(transaction.nowMs), promoteDueJobs(transaction.nowMs), queueSettings(request.queues),
        ])
        // Jobs come due for every worker, whichever's claim makes them available. A worker
        // that serves only other queues, or this claim's rows skipped while another claim
        // promoted them, would leave their workers asleep until their next look (30 s): said,
        // then, but only then, for a NOTIFY makes commits that send one take turns.
        if try answers[1].first?.decode(Int.self) ?? 0 > 0 { transaction.announce() }
        try rescue(answers[0].map(Job.init(row:)).filter { !request.spares($0, now: transaction.nowMs, readAt: readAt) }, transaction)
        let claimed = try ClaimFill.fill(
            request.limit, from: queues(answers[2], names: request.queues), weights: request.weights,
            room: { try room(in: $0.name, transaction) }, peek: { try firstWaiting($0, transaction) },
            claim: { queue, count in try claim(queue: queue, count: count, owner: request.owner, lease: request.lease, transaction) }
        )
        // A worker with free slots left waits; tell it until when at most.
        let nextWakeup = claimed.count < request.limit ? try Self.nextWakeup(transaction) : nil
        if !request.finishes.isEmpty { CrashPoint.check("finish.before-commit") }
        CrashPoint.check("claim.before-commit")
        return ClaimResult(jobs: claimed, nextWakeup: nextWakeup, at: transaction.now, readAt: readAt, finished: finished)
    }

    /// The settings of the named queues; with no names, of every registered queue, by name.
    private static func queueSettings(_ names: [String]) -> PostgresQuery {
        names.isEmpty
            ? "SELECT name, concurrency_limit, paused FROM queues ORDER BY name"
            : "SELECT name, concurrency_limit, paused FROM queues WHERE name = ANY(\(names))"
    }

    /// The queues a claim takes from, with their settings.
    private static func queues(_ rows: [PostgresRow], names: [String]) throws -> [ClaimFill.Queue] {
        let known = try rows.map { row in
            let (name, limit, paused) = try row.decode((String, Int?, Bool).self)
            return ClaimFill.Queue(name: name, limit: limit, paused: paused)
        }
        guard !names.isEmpty else { return known }
        let byName = Dictionary(known.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return names.map { byName[$0] ?? ClaimFill.Queue(name: $0, limit: nil, paused: false) }
    }

    /// Where each queue's first waiting jobs stand in claim order, all in one round trip.
    private static func firstWaiting(_ queues: [(queue: String, count: Int)], _ transaction: PostgresTransaction) throws -> [[ClaimFill.Key]] {
        try transaction.connection.pipeline(queues.map { queue, count in
            "SELECT priority, run_at, id FROM jobs WHERE queue = \(queue) AND state = 'available' ORDER BY priority, run_at, id LIMIT \(count)"
        }).map { rows in
            try rows.map { row in
                let (priority, runAt, id) = try row.decode((Int, Int64, Int64).self)
                return ClaimFill.Key(priority: priority, runAt: runAt, id: id)
            }
        }
    }

    /// How many more jobs of a limited queue may run now. Hosts claiming from it take turns
    /// on its row, so the limit holds across all of them.
    private static func room(in queue: String, _ transaction: PostgresTransaction) throws -> Int {
        let limit = try transaction.connection.query("SELECT concurrency_limit FROM queues WHERE name = \(queue) FOR UPDATE")
            .first?.decode(Int?.self) ?? nil
        guard let limit else { return .max }
        let running = try transaction.connection.query("SELECT count(*) FROM jobs WHERE queue = \(queue) AND state = 'running'")
            .first?.decode(Int.self) ?? 0
        return limit - running
    }

    private static func claim(queue: String, count: Int, owner: String, lease: Duration, _ transaction: PostgresTransaction) throws -> [Job] {
        let now = transaction.nowMs
        let jobs = try transaction.connection.query("""
            WITH picked AS (
                SELECT id FROM jobs WHERE queue = \(queue) AND state = 'available'
                ORDER BY priority, run_at, id LIMIT \(count)
                FOR UPDATE SKIP LOCKED)
            UPDATE jobs j
            SET state = 'running', attempt = j.attempt + 1, lease_owner = \(owner), lease_expires_at = \(now + lease.milliseconds),
                heartbeat_at = \(now), attempted_at = \(now)
            FROM picked WHERE j.id = picked.id
            RETURNING \(unescaped: Job.pgColumns.split(separator: ", ").map { "j." + $0 }.joined(separator: ", "))
            """).map(Job.init(row:))
        var startedData = JobEvent.StartedData(worker: owner)
        for job in jobs {
            transaction.eventAppend(.started, job: job.id, server: job.server, dataText: startedData.text(attempt: job.attempt, kind: job.kind))
        }
        // RETURNING gives no order; callers get the claim order.
        return jobs.sorted { ($0.priority, $0.runAt, $0.id) < ($1.priority, $1.runAt, $1.id) }
    }

    /// A lease already run out is not waited for: this claim took it back, spares it, or
    /// another host's claim is taking it.
    private static func nextWakeup(_ transaction: PostgresTransaction) throws -> Date? {
        let row = try transaction.connection.query("""
            SELECT (SELECT min(run_at) FROM jobs WHERE state IN ('scheduled', 'retryable')),
                   (SELECT min(lease_expires_at) FROM jobs WHERE state = 'running' AND lease_expires_at >= \(transaction.nowMs))
            """).first
        guard let (due, expiry) = try row?.decode((Int64?, Int64?).self) else { return nil }
        return [due, expiry].compactMap { $0 }.min().map(Date.init(ms:))
    }

    /// Scheduled and retryable jobs whose time has come become available; how many did. Rows
    /// another host is promoting are skipped, not waited for.
    private static func promoteDueJobs(_ now: Int64) -> PostgresQuery {
        "SELECT lifeline.promote_due_jobs(\(now))"
    }

    /// The running jobs of workers that stopped renewing their leases, locked.
    private static func expiredLeases(_ now: Int64) -> PostgresQuery {
        "SELECT \(unescaped: Job.pgColumns) FROM lifeline.expired_leases(\(now))"
    }

    /// Takes back the jobs of workers that stopped renewing their leases. The lost attempt is
    /// recorded as failed, with the worker that held it.
    private static func rescue(_ expired: [Job], _ transaction: PostgresTransaction) throws {
        for job in expired {
            try applyOutcome(OutcomeChange.expiredLease(of: job), to: job, transaction)
        }
    }
}
