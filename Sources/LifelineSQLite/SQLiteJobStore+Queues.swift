import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func queueList() async throws -> [QueueInfo] {
        try await writer.read { db in
            var queues: [String: QueueInfo] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, concurrency_limit, paused, retain_completed_ms, retain_failed_ms FROM queues") {
                let name: String = try row.value("name")
                queues[name] = QueueInfo(
                    name: name, limit: try row.value("concurrency_limit"), paused: try row.value("paused"), counts: [:],
                    retainCompleted: QueueRetention.stored(try row.value("retain_completed_ms"), default: QueueInfo.defaultRetainCompleted),
                    retainFailed: QueueRetention.stored(try row.value("retain_failed_ms"), default: QueueInfo.defaultRetainFailed)
                )
            }
            for (name, state, count) in try Self.countsByQueue(db) {
                queues[name, default: QueueInfo(name: name, limit: nil, paused: false, counts: [:])].counts[state] = count
            }
            return queues.values.sorted { $0.name < $1.name }
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
