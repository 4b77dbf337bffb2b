import Foundation
import LifelineQueue
import LifelineRecovery
import PostgresNIO

/// Reading and writing rows as they are, ids included, for `lifeline store copy` (which
/// writes through a ``PostgresCopyTarget``).
extension PostgresJobStore: CopySource {
    public func copyCounts() async throws -> CopyCounts {
        try await read { connection in
            let (jobs, events, servers, transitions, queues) = try connection.query("""
                SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM events), (SELECT count(*) FROM servers),
                       (SELECT count(*) FROM transitions), (SELECT count(*) FROM queues)
                """).first!.decode((Int, Int, Int, Int, Int).self)
            return CopyCounts(jobs: jobs, events: events, servers: servers, transitions: transitions, queues: queues)
        }
    }

    /// The sequence's last value once it has given one: ids given to jobs pruned since count.
    public func copyJobIDFloor() async throws -> Int64 {
        try await read { connection in
            try connection.query("""
                SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('lifeline.jobs', 'id')), 0),
                                coalesce((SELECT max(id) FROM jobs), 0), coalesce((SELECT max(job) FROM events), 0),
                                coalesce((SELECT max(job) FROM transitions), 0))
                """).first!.decode(Int64.self)
        }
    }

    public func copySettingsAndServers() async throws -> CopyBatch {
        try await read { connection in
            CopyBatch(
                queues: try Self.queueRecords(connection),
                servers: try connection.query("""
                    SELECT name, machine, disks, disk_size, state, current_job, recovery_point, last_error, last_test_at, last_test_result,
                           created_at, updated_at
                    FROM servers ORDER BY name
                    """).map { row in
                    var r = RowReader(row)
                    return ServerRecord(
                        name: try r.next(), machine: try r.next(), disks: try r.next(), diskSize: try r.next(), state: try r.next(),
                        currentJob: try r.next(), recoveryPoint: try r.next(), lastError: try r.next(), lastTestAt: try r.next(),
                        lastTestResult: try r.next(), createdAt: try r.next(), updatedAt: try r.next()
                    )
                },
                transitions: try connection.query("SELECT id, server, from_state, to_state, cause, job, at FROM transitions ORDER BY id").map { row in
                    let (id, server, from, to, cause, job, at) = try row.decode((Int64, String, String?, String?, String, Int64?, Int64).self)
                    return TransitionRecord(id: id, server: server, from: from, to: to, cause: cause, job: job, at: at)
                }
            )
        }
    }

    public func copyJobs(after: Int64, limit: Int) async throws -> [Job] {
        try await read { connection in
            try connection.query("SELECT \(unescaped: Job.pgColumns) FROM jobs WHERE id > \(after) ORDER BY id LIMIT \(limit)").map(Job.init(row:))
        }
    }

    public func copyEvents(after: Int64, limit: Int) async throws -> [JobEvent] {
        try await eventList(EventFilter(afterSeq: after, limit: limit))
    }

    static func insertCopied(_ batch: CopyBatch, _ connection: BlockingConnection) throws {
        for queue in batch.queues {
            try connection.query("""
                INSERT INTO queues (name, concurrency_limit, paused, retain_completed_ms, retain_failed_ms)
                VALUES (\(queue.name), \(queue.limit), \(queue.paused), \(queue.retainCompletedMs), \(queue.retainFailedMs))
                ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit, paused = excluded.paused,
                    retain_completed_ms = excluded.retain_completed_ms, retain_failed_ms = excluded.retain_failed_ms
                """)
        }
        for server in batch.servers {
            try connection.query("""
                INSERT INTO servers (name, machine, disks, disk_size, state, current_job, recovery_point, last_error,
                                     last_test_at, last_test_result, created_at, updated_at)
                VALUES (\(server.name), \(server.machine), \(server.disks), \(server.diskSize), \(server.state), \(server.currentJob),
                        \(server.recoveryPoint), \(server.lastError), \(server.lastTestAt), \(server.lastTestResult), \(server.createdAt),
                        \(server.updatedAt))
                """)
        }
        for transition in batch.transitions {
            try connection.query("""
                INSERT INTO transitions (id, server, from_state, to_state, cause, job, at)
                VALUES (\(transition.id), \(transition.server), \(transition.from), \(transition.to), \(transition.cause), \(transition.job),
                        \(transition.at))
                """)
        }
        // Jobs and events go as one JSON array each, a statement a batch rather than a round
        // trip a row: a 2,500-job queue took 4.6 s to copy row by row.
        let columns = Job.pgColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let jobs = try batch.jobs.map { job in
            JSONValue.object(Dictionary(uniqueKeysWithValues: zip(columns, try JobRecord(job).values.map { $0?.json ?? .null })))
        }
        try connection.query("""
            INSERT INTO jobs (\(unescaped: Job.pgColumns))
            SELECT \(unescaped: Job.pgColumns) FROM json_populate_recordset(NULL::lifeline.jobs, \(JSONValue.array(jobs).canonicalText)::json)
            """)
        let events = batch.events.map { event in
            JSONValue.object([
                "seq": .int(event.seq), "at": .int(event.at.ms), "type": .string(event.type.rawValue), "job": event.job.map { .int($0) } ?? .null,
                "server": event.server.map { .string($0) } ?? .null, "data": .string(event.data.canonicalText),
            ])
        }
        try connection.query("""
            INSERT INTO events (\(unescaped: JobEvent.pgColumns))
            SELECT \(unescaped: JobEvent.pgColumns) FROM json_populate_recordset(NULL::lifeline.events, \(JSONValue.array(events).canonicalText)::json)
            """)
        // Inserts are counted by the statements that make them (the schema's v3).
        let ids = batch.jobs.map(\.id)
        try connection.query("""
            INSERT INTO job_count_changes (queue, state, n)
            SELECT queue, state, count(*) FROM jobs WHERE id = ANY(\(ids)::bigint[]) GROUP BY queue, state
            """)
        let seqs = batch.events.map(\.seq)
        try connection.query("""
            WITH copied AS (SELECT type, at, job FROM events WHERE seq = ANY(\(seqs)::bigint[]))
            \(unescaped: PostgresTransaction.countOutcomes("copied"))
            """)
    }

    /// New rows are numbered after the copied ones, and new jobs after every job the copy
    /// names, pruned ones included: a stage attempt's fence token is its job id (see
    /// `StageFence`), and a server's next stage must carry a larger one.
    func numberAfterCopied(jobIDFloor: Int64) async throws {
        try await read { connection in
            try connection.query("""
                SELECT setval(pg_get_serial_sequence('lifeline.jobs', 'id'),
                              greatest((SELECT max(id) FROM jobs), (SELECT max(job) FROM events), (SELECT max(job) FROM transitions), \(jobIDFloor)) + 1,
                              false)
                """)
            for (table, column) in [("events", "seq"), ("transitions", "id")] {
                try connection.query("""
                    SELECT setval(pg_get_serial_sequence(\("lifeline." + table), \(column)),
                                  coalesce((SELECT max(\(unescaped: column)) FROM \(unescaped: table)), 0) + 1, false)
                    """)
            }
        }
    }
}

extension JobRecord.Value {
    var json: JSONValue {
        switch self {
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .text(let value): .string(value)
        case .bool(let value): .bool(value)
        }
    }
}
