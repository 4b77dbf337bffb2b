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

    /// Appends `events`, in order, in one statement. A claim or a finish of 64 jobs pays for
    /// one statement instead of 64 (and, since the table has triggers, one statement journal).
    static func append(_ db: Database, at: Int64, _ events: [(type: EventType, job: Int64, server: String?, data: JSONValue)]) throws {
        guard !events.isEmpty else { return }
        let rows = JSONValue.array(events.map { event in
            .array([.string(event.type.rawValue), .int(event.job), event.server.map { .string($0) } ?? .null, .string(event.data.canonicalText)])
        })
        try RawStatement(db, """
            INSERT INTO events (at, type, job, server, data)
            SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]')
            FROM json_each(?2) ORDER BY key
            """, [.int(at), .text(rows.canonicalText)]).execute()
    }
}
