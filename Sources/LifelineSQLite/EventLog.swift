import Foundation
import GRDB
import LifelineQueue

/// Appends to the event log inside the caller's transaction.
enum EventLog {
    static func append(
        _ db: Database, at: Int64, type: EventType, job: Int64?, server: String?, data: JSONValue = .object([:])
    ) throws {
        try RawStatement(db, "INSERT INTO events (at, type, job, server, data) VALUES (?, ?, ?, ?, ?)", [
            .int(at), .text(type.rawValue), .int(job), .text(server), .text(data.canonicalText),
        ]).execute()
    }
}
