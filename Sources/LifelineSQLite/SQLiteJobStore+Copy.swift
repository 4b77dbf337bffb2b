import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery

/// Reading and writing rows as they are, ids included, for `lifeline store copy` (which
/// writes through a ``SQLiteCopyTarget``).
extension SQLiteJobStore: CopySource {
    public func copyCounts() async throws -> CopyCounts {
        try await writer.read { db in
            let count = { (table: String) in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
            return CopyCounts(
                jobs: try count("jobs"), events: try count("events"), servers: try count("servers"), transitions: try count("transitions"),
                queues: try count("queues")
            )
        }
    }

    public func copyJobIDFloor() async throws -> Int64 {
        try await writer.read { db in try SchemaMigrations.jobIDFloor(db) }
    }

    public func copySettingsAndServers() async throws -> CopyBatch {
        try await writer.read { db in
            CopyBatch(
                queues: try Self.queueRecords(db),
                servers: try Row.fetchAll(db, sql: "SELECT * FROM servers ORDER BY name").map { row in
                    ServerRecord(
                        name: try row.value("name"), machine: try row.value("machine"), disks: try row.value("disks"), diskSize: try row.value("disk_size"), state: try row.value("state"),
                        currentJob: try row.value("current_job"), recoveryPoint: try row.value("recovery_point"), lastError: try row.value("last_error"),
                        lastTestAt: try row.value("last_test_at"), lastTestResult: try row.value("last_test_result"), createdAt: try row.value("created_at"),
                        updatedAt: try row.value("updated_at")
                    )
                },
                transitions: try Row.fetchAll(db, sql: "SELECT * FROM transitions ORDER BY id").map { row in
                    TransitionRecord(
                        id: try row.value("id"), server: try row.value("server"), from: try row.value("from_state"), to: try row.value("to_state"), cause: try row.value("cause"), job: try row.value("job"),
                        at: try row.value("at")
                    )
                }
            )
        }
    }

    public func copyJobs(after: Int64, limit: Int) async throws -> [Job] {
        try await writer.read { db in
            try Job.fetchAll(db, sql: "SELECT \(Job.columns) FROM jobs WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit])
        }
    }

    public func copyEvents(after: Int64, limit: Int) async throws -> [JobEvent] {
        try await eventList(EventFilter(afterSeq: after, limit: limit))
    }

    public func copyInsert(_ batch: CopyBatch) async throws {
        try await write { db in
            for queue in batch.queues {
                try db.execute(sql: """
                    INSERT INTO queues (name, concurrency_limit, paused, retain_completed_ms, retain_failed_ms) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit, paused = excluded.paused,
                        retain_completed_ms = excluded.retain_completed_ms, retain_failed_ms = excluded.retain_failed_ms
                    """, arguments: [queue.name, queue.limit, queue.paused, queue.retainCompletedMs, queue.retainFailedMs])
            }
            for server in batch.servers {
                try db.execute(sql: """
                    INSERT INTO servers (name, machine, disks, disk_size, state, current_job, recovery_point, last_error,
                                         last_test_at, last_test_result, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [
                        server.name, server.machine, server.disks, server.diskSize, server.state, server.currentJob, server.recoveryPoint,
                        server.lastError, server.lastTestAt, server.lastTestResult, server.createdAt, server.updatedAt,
                    ])
            }
            for transition in batch.transitions {
                try db.execute(sql: """
                    INSERT INTO transitions (id, server, from_state, to_state, cause, job, at) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [transition.id, transition.server, transition.from, transition.to, transition.cause, transition.job, transition.at])
            }
            // Prepared once, not for every row.
            for job in batch.jobs {
                try RawStatement(db, Self.copyJobSQL, try JobRecord(job).values.map { $0?.sqlValue ?? .null }).execute()
            }
            for event in batch.events {
                try RawStatement(db, "INSERT INTO events (seq, at, type, job, server, data) VALUES (?, ?, ?, ?, ?, ?)", [
                    .int(event.seq), .int(event.at.ms), .text(event.type.rawValue), .int(event.job), .text(event.server), .text(event.data.canonicalText),
                ]).execute()
            }
            // Counted once for the batch, in their jobs' queues: the copy writes jobs before events.
            if let first = batch.events.first, let last = batch.events.last { try KeptCounts.addEvents(db, seqs: first.seq...last.seq) }
        }
    }

    private static let copyJobSQL =
        "INSERT INTO jobs (\(Job.columns)) VALUES (\(Array(repeating: "?", count: Job.columns.split(separator: ",").count).joined(separator: ", ")))"

    /// SQLite numbers new rows after the largest id by itself.
    /// New jobs are numbered after every job the copy names, pruned ones included (see
    /// schema 6), and after every id the source gave.
    public func copyFinish(jobIDFloor: Int64) async throws {
        try await write { db in try SchemaMigrations.raiseJobIDFloor(db, atLeast: jobIDFloor) }
    }
}

extension JobRecord.Value {
    var sqlValue: SQLValue {
        switch self {
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .text(let value): .text(value)
        case .bool(let value): .int(value ? 1 : 0)
        }
    }
}
