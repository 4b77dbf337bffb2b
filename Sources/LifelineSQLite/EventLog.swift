import Foundation
import GRDB
import LifelineQueue

/// Appends to the event log inside the caller's transaction.
enum EventLog {
    static func append(
        _ db: Database, at: Int64, type: EventType, job: Int64?, server: String?, data: JSONValue = .object([:])
    ) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO events (at, type, job, server, data) VALUES (?, ?, ?, ?, ?)")
        try statement.execute(arguments: [at, type.rawValue, job, server, data.canonicalText])
    }
}
