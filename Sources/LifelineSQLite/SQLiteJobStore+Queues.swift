import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func queueList() async throws -> [QueueInfo] {
        try await writer.read { db in
            QueueInfo.listing(try Self.queueRecords(db), counts: try Self.countsByQueue(db))
        }
    }

    /// Every queue's settings, as stored, by name: for the list and for a copy.
    static func queueRecords(_ db: Database) throws -> [QueueRecord] {
        try Row.fetchAll(db, sql: "SELECT name, concurrency_limit, paused, retain_completed_ms, retain_failed_ms FROM queues ORDER BY name").map { row in
            QueueRecord(
                name: try row.value("name"), limit: try row.value("concurrency_limit"), paused: try row.value("paused"),
                retainCompletedMs: try row.value("retain_completed_ms"), retainFailedMs: try row.value("retain_failed_ms")
            )
        }
    }

    public func queueUpdate(_ queue: String, _ update: QueueUpdate, create: Bool) async throws {
        try await write { db in
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM queues WHERE name = ?", arguments: [queue]) ?? false
            if !exists {
                guard create else {
                    throw JobStoreError.unknownQueue(queue, known: try String.fetchAll(db, sql: "SELECT name FROM queues ORDER BY name"))
                }
                try db.execute(sql: "INSERT INTO queues (name) VALUES (?)", arguments: [queue])
            }
            if let limit = update.limit {
                try db.execute(sql: "UPDATE queues SET concurrency_limit = ? WHERE name = ?", arguments: [limit, queue])
            }
            if let paused = update.paused {
                try db.execute(sql: "UPDATE queues SET paused = ? WHERE name = ?", arguments: [paused, queue])
            }
            if let retain = update.retainCompleted {
                try db.execute(sql: "UPDATE queues SET retain_completed_ms = ? WHERE name = ?", arguments: [retain.milliseconds, queue])
            }
            if let retain = update.retainFailed {
                try db.execute(sql: "UPDATE queues SET retain_failed_ms = ? WHERE name = ?", arguments: [retain.milliseconds, queue])
            }
        }
    }
}
