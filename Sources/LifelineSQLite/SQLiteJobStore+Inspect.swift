import Foundation
import GRDB
import LifelineQueue

/// Read-only views of jobs and events.
extension SQLiteJobStore {
    public func jobGet(_ id: Int64) async throws -> Job? {
        try await writer.read { db in
            try Job.fetchOne(db, sql: "SELECT \(Job.columns) FROM jobs WHERE id = ?", arguments: [id])
        }
    }

    public func jobList(_ filter: JobFilter) async throws -> [Job] {
        let (whereSQL, arguments) = Self.whereClause(filter)
        var sql = "SELECT \(Job.columns) FROM jobs \(whereSQL) ORDER BY id DESC"
        var all = arguments
        if let limit = filter.limit {
            sql += " LIMIT ?"
            all += [limit]
        }
        return try await writer.read { [sql, all] db in try Job.fetchAll(db, sql: sql, arguments: all) }
    }

    public func jobCount(_ filter: JobFilter) async throws -> Int {
        let (whereSQL, arguments) = Self.whereClause(filter)
        return try await writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs \(whereSQL)", arguments: arguments) ?? 0
        }
    }

    public func eventList(_ filter: EventFilter) async throws -> [JobEvent] {
        var conditions = ["seq > ?"]
        var arguments: StatementArguments = [filter.afterSeq]
        if let job = filter.job {
            conditions.append("job = ?")
            arguments += [job]
        }
        if let server = filter.server {
            conditions.append("server = ?")
            arguments += [server]
        }
        if !filter.types.isEmpty {
            conditions.append("type IN (\(Self.placeholders(filter.types.count)))")
            arguments += StatementArguments(filter.types.map(\.rawValue).sorted())
        }
        if let since = filter.since {
            conditions.append("at >= ?")
            arguments += [since.ms]
        }
        var sql = "SELECT * FROM events WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq\(filter.newestFirst ? " DESC" : "")"
        if let limit = filter.limit {
            sql += " LIMIT ?"
            arguments += [limit]
        }
        return try await writer.read { [sql, arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let typeText: String = try row.value("type")
                guard let type = EventType(rawValue: typeText) else {
                    throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "unknown event type '\(typeText)'")
                }
                return JobEvent(
                    seq: try row.value("seq"), at: Date(ms: try row.value("at")), type: type,
                    job: try row.value("job"), server: try row.value("server"), data: try JSONValue(parsing: try row.value("data") as String)
                )
            }
        }
    }

    /// The WHERE clause of a job filter, with its arguments. Values are always bound, never
    /// spliced into the SQL.
    static func whereClause(_ filter: JobFilter) -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if !filter.states.isEmpty {
            conditions.append("state IN (\(placeholders(filter.states.count)))")
            arguments += StatementArguments(filter.states.map(\.rawValue).sorted())
        }
        for (column, value) in [("queue", filter.queue), ("kind", filter.kind), ("server", filter.server)] {
            if let value {
                conditions.append("\(column) = ?")
                arguments += [value]
            }
        }
        if let since = filter.activeSince {
            conditions.append("MAX(created_at, IFNULL(attempted_at, 0), IFNULL(finished_at, 0)) >= ?")
            arguments += [since.ms]
        }
        if filter.retriedOnly {
            conditions.append("attempt > 1")
        }
        if let before = filter.beforeID {
            conditions.append("id < ?")
            arguments += [before]
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}
