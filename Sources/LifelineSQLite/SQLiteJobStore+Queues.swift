import Foundation
import GRDB
import LifelineQueue

extension SQLiteJobStore {
    public func queueList() async throws -> [QueueInfo] {
        try await writer.read { db in
            var queues: [String: QueueInfo] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, concurrency_limit, paused FROM queues") {
                let name: String = row["name"]
                queues[name] = QueueInfo(name: name, limit: row["concurrency_limit"], paused: row["paused"], counts: [:])
            }
            for row in try Row.fetchAll(db, sql: "SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state") {
                let name: String = row["queue"]
                let stateText: String = row["state"]
                guard let state = JobState(rawValue: stateText) else { continue }
                queues[name, default: QueueInfo(name: name, limit: nil, paused: false, counts: [:])].counts[state] = row["n"]
            }
            return queues.values.sorted { $0.name < $1.name }
        }
    }

    public func queueSetLimit(_ queue: String, limit: Int?) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO queues (name, concurrency_limit) VALUES (?, ?)
                ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit
                """, arguments: [queue, limit])
        }
    }

    public func queueSetPaused(_ queue: String, paused: Bool) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO queues (name, paused) VALUES (?, ?)
                ON CONFLICT (name) DO UPDATE SET paused = excluded.paused
                """, arguments: [queue, paused])
        }
    }
}
