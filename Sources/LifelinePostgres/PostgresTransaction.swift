import Foundation
import LifelineQueue
import LifelineRecovery
import PostgresNIO

/// The PostgreSQL side of ``ServerTransaction``: the domain's steps, run on the connection of
/// the transaction that called them. Events wait here until the transaction commits (see
/// ``PostgresSession``).
public final class PostgresTransaction: ServerTransaction, @unchecked Sendable {
    let connection: BlockingConnection
    let nowMs: Int64
    let hook: (any JobFinishHook<PostgresTransaction>)?
    private var events: [JSONValue] = []
    /// Whether other processes should look again at once: work appeared, a job is to stop, or
    /// a server moved. Claims and finishes do not announce themselves, but for a claim that
    /// made due jobs available: a NOTIFY takes a lock on the database until the commit is on
    /// disk, so commits that send one take turns.
    private var announces = false
    private var insertedJobs = 0

    init(connection: BlockingConnection, nowMs: Int64, hook: (any JobFinishHook<PostgresTransaction>)?) {
        self.connection = connection
        self.nowMs = nowMs
        self.hook = hook
    }

    public var now: Date { Date(ms: nowMs) }

    public func jobInsert(_ job: NewJob) throws -> InsertedJob {
        try PostgresJobStore.insert(job, self)
    }

    public func jobCancel(_ id: Int64) throws -> CancelResult {
        try PostgresJobStore.cancel(id, self)
    }

    public func jobGet(idempotencyKey: String) throws -> Job? {
        try connection.query("SELECT \(unescaped: Job.pgColumns) FROM jobs WHERE idempotency_key = \(idempotencyKey)").first.map(Job.init(row:))
    }

    public func eventAppend(_ type: EventType, job: Int64?, server: String?, data: JSONValue) throws {
        eventAppend(type, job: job, server: server, dataText: data.canonicalText)
    }

    /// Tells other processes to look again at once when this transaction commits, for a change
    /// that appends no event of its own.
    func announce() {
        announces = true
    }

    /// An event whose data is already canonical text.
    func eventAppend(_ type: EventType, job: Int64?, server: String?, dataText: String) {
        if Self.announced.contains(type) { announces = true }
        events.append([
            "at": .int(nowMs), "type": .string(type.rawValue), "job": job.map { .int($0) } ?? .null, "server": server.map { .string($0) } ?? .null,
            "data": .string(dataText),
        ])
    }

    private static let announced: Set<EventType> = [.enqueued, .retried, .released, .cancelRequested, .cancelled, .stateChanged]

    /// The statements that insert the events appended, in order, holding the event lock
    /// shared to the commit (see ``PostgresSession``), and announce the change when it calls
    /// for it; the last ones before the commit.
    func eventStatements() -> [PostgresQuery] {
        guard !events.isEmpty else { return announces ? ["SELECT pg_notify(\(PostgresSession.channel), '')"] : [] }
        return [
            announces
                ? "SELECT pg_advisory_xact_lock_shared(\(PostgresSession.eventLock)), pg_notify(\(PostgresSession.channel), '')"
                : "SELECT pg_advisory_xact_lock_shared(\(PostgresSession.eventLock))",
            """
            WITH added AS (
                INSERT INTO events (at, type, job, server, data)
                SELECT e.at, e.type, e.job, e.server, e.data
                FROM ROWS FROM (json_to_recordset(\(JSONValue.array(events).canonicalText)::json)
                                AS (at bigint, type text, job bigint, server text, data text)) WITH ORDINALITY AS e(at, type, job, server, data, n)
                ORDER BY e.n
                RETURNING type, at, job
            )
            \(unescaped: PostgresTransaction.countOutcomes("added"))
            """,
        ]
    }

    /// The statement that adds the outcome events (completions, retries, discards) among
    /// `rows`, a set with `type`, `at` and `job`, to the throughput windows' counts, each in
    /// its job's queue.
    static func countOutcomes(_ rows: String) -> String {
        """
        INSERT INTO outcome_count_changes (queue, type, second, n)
        SELECT j.queue, r.type, r.at / 1000, count(*) FROM \(rows) r JOIN jobs j ON j.id = r.job
        WHERE r.type IN ('completed', 'retrying', 'discarded') GROUP BY j.queue, r.type, r.at / 1000
        """
    }

    /// Counts a job inserted by this transaction, for ``foldStatements()``.
    func jobInserted() {
        insertedJobs += 1
    }

    /// The fold of the kept counts' changes, sent with the commit by about one inserted job in
    /// 64, as the update and delete triggers fold, so a queue that only takes enqueues does not
    /// pile changes up; once at most, as a transaction folds once.
    func foldStatements() -> [PostgresQuery] {
        Int.random(in: 0..<64) < insertedJobs ? ["SELECT lifeline.counts_fold()"] : []
    }

    public func serverGet(_ name: String) throws -> ServerInfo? {
        try connection.query("\(unescaped: PostgresServerRow.select) WHERE s.name = \(name) FOR UPDATE OF s").first.map(PostgresServerRow.decode)
    }

    public func serversOf(machine: String) throws -> [ServerInfo] {
        try connection.query("\(unescaped: PostgresServerRow.select) WHERE s.machine = \(machine) ORDER BY s.name FOR UPDATE OF s").map(PostgresServerRow.decode)
    }

    public func serverInsert(_ spec: ServerSpec) throws {
        let inserted = try connection.query("""
            INSERT INTO servers (name, machine, disks, disk_size, state, created_at, updated_at)
            VALUES (\(spec.name), \(spec.machine), \(spec.disks), \(spec.diskSize), 'creating', \(nowMs), \(nowMs))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """)
        guard !inserted.isEmpty else { throw ServerStoreError.exists(spec.name) }
    }

    public func serverSave(_ name: String, lifecycle: Lifecycle, recoveryPoint: String?, lastTest: ServerInfo.LastTest?) throws {
        try connection.query("""
            UPDATE servers
            SET state = \(lifecycle.state.rawValue), current_job = \(lifecycle.currentJob), last_error = \(lifecycle.lastError),
                updated_at = \(nowMs), recovery_point = \(recoveryPoint),
                last_test_at = coalesce(\(lastTest?.at.ms), last_test_at), last_test_result = coalesce(\(lastTest?.result), last_test_result)
            WHERE name = \(name)
            """)
    }

    public func serverDelete(_ name: String) throws {
        try connection.query("DELETE FROM servers WHERE name = \(name)")
    }

    public func serverMadeBy(_ name: String) throws -> Int64? {
        try connection.query("SELECT job FROM transitions WHERE server = \(name) AND from_state IS NULL ORDER BY id DESC LIMIT 1").first?.decode(Int64?.self) ?? nil
    }

    public func transitionAppend(_ transition: ServerTransition, server: String) throws {
        try connection.query("""
            INSERT INTO transitions (server, from_state, to_state, cause, job, at)
            VALUES (\(server), \(transition.from?.rawValue), \(transition.to?.rawValue), \(transition.cause), \(transition.job), \(transition.at.ms))
            """)
    }
}
