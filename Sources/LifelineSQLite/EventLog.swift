import Foundation
import GRDB
import LifelineQueue

/// Appends to the event log inside the caller's transaction, and counts the outcomes it appends
/// (``KeptCounts``).
enum EventLog {
    static func append(
        _ db: some StatementSource, at: Int64, type: EventType, job: Int64?, server: String?, data: JSONValue = .object([:])
    ) throws {
        try append(db, at: at, type: type, job: job, server: server, dataText: data.canonicalText)
    }

    /// An event whose data is already canonical text.
    static func append(_ db: some StatementSource, at: Int64, type: EventType, job: Int64?, server: String?, dataText: String) throws {
        try RawStatement(db, "INSERT INTO events (at, type, job, server, data) VALUES (?, ?, ?, ?, ?)", [
            .int(at), .text(type.rawValue), .int(job), .text(server), .text(dataText),
        ]).execute()
        try KeptCounts.addEvent(db, job: job, type: type, at: at)
    }

    /// Appends events of one type, each with its data as canonical text, in order, in a
    /// statement per 64 (``MultiRow``). A claim or a finish of 64 jobs pays for one statement
    /// instead of 64, and counts them once per queue.
    static func append(_ db: Database, at: Int64, type: EventType, _ events: [(job: Int64, queue: String, server: String?, data: String)]) throws {
        try insertRows.run(db, leading: [.int(at), .text(type.rawValue)], events) { event, values in
            values.append(.int(event.job))
            values.append(.text(event.server))
            values.append(.text(event.data))
        }
        guard type.countsInWindows else { return }
        for (queue, n) in KeptCounts.perQueue(events.lazy.map(\.queue)) { try KeptCounts.addEvents(db, queue: queue, type: type, at: at, n) }
    }

    /// Multi-row VALUES insert in the order written, so the events' numbers follow the batch.
    private static let insertRows = MultiRow.Statements(valuesPerRow: 3) { count in
        "INSERT INTO events (at, type, job, server, data) VALUES " + MultiRow.values("(?1, ?2, ?, ?, ?)", count: count)
    }
}
