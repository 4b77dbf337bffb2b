import Foundation
import LifelineQueue
import PostgresNIO

/// Read-only views of jobs and events.
extension PostgresJobStore {
    public func jobGet(_ id: Int64) async throws -> Job? {
        try await read { try $0.query("SELECT \(unescaped: Job.pgColumns) FROM jobs WHERE id = \(id)").first.map(Job.init(row:)) }
    }

    public func jobList(_ filter: JobFilter) async throws -> [Job] {
        try await read { connection in
            try connection.query(Self.jobQuery("SELECT \(Job.pgColumns) FROM jobs", filter, order: "ORDER BY id DESC")).map(Job.init(row:))
        }
    }

    public func jobCount(_ filter: JobFilter) async throws -> Int {
        try await read { connection in
            try connection.query(Self.jobQuery("SELECT count(*) FROM jobs", filter, order: "")).first?.decode(Int.self) ?? 0
        }
    }

    /// A query over jobs with the filter's conditions. Every value is bound; an absent one
    /// turns its condition off, and the plan, made for the values given, drops it.
    static func jobQuery(_ head: String, _ filter: JobFilter, order: String) -> PostgresQuery {
        """
        \(unescaped: head)
        WHERE (cardinality(\(filter.states.map(\.rawValue).sorted())::text[]) = 0 OR state = ANY(\(filter.states.map(\.rawValue).sorted())))
          AND (\(filter.queue)::text IS NULL OR queue = \(filter.queue))
          AND (\(filter.kind)::text IS NULL OR kind = \(filter.kind))
          AND (\(filter.server)::text IS NULL OR server = \(filter.server))
          AND (\(filter.activeSince?.ms)::bigint IS NULL OR GREATEST(created_at, attempted_at, finished_at) >= \(filter.activeSince?.ms))
          AND (NOT \(filter.retriedOnly) OR attempt > 1)
          AND (\(filter.beforeID)::bigint IS NULL OR id < \(filter.beforeID))
        \(unescaped: order) LIMIT \(filter.limit)
        """
    }

    public func eventList(_ filter: EventFilter) async throws -> [JobEvent] {
        let types = filter.types.map(\.rawValue).sorted()
        let query: PostgresQuery = """
            SELECT \(unescaped: JobEvent.pgColumns) FROM events
            WHERE seq > \(filter.afterSeq)
              AND (\(filter.job)::bigint IS NULL OR job = \(filter.job))
              AND (\(filter.server)::text IS NULL OR server = \(filter.server))
              AND (cardinality(\(types)::text[]) = 0 OR type = ANY(\(types)))
              AND (\(filter.since?.ms)::bigint IS NULL OR at >= \(filter.since?.ms))
            ORDER BY seq \(unescaped: filter.newestFirst ? "DESC" : "") LIMIT \(filter.limit)
            """
        let started = ContinuousClock.now
        var pause = Duration.milliseconds(1)
        while true {
            if let events = try await read({ try Self.eventsUnderLock(query, $0) }) { return events }
            guard ContinuousClock.now - started < PostgresSession.eventLockPatience else {
                throw PostgresStoreError.eventLogHeld(session.location.description, PostgresSession.eventLockPatience)
            }
            // Off the session's thread, which other reads and writes of this process share.
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(25))
        }
    }

    /// The events `query` reads, under the event lock held exclusive: every number taken so far
    /// has committed or rolled back (see PostgresSession). Nil when the lock did not come within
    /// a few milliseconds: a writer stopped between its events and its commit holds it shared,
    /// and a request that waited longer would hold up every other writer, on every host,
    /// behind it. Waiting that little, the reader still takes its turn among busy writers.
    private static func eventsUnderLock(_ query: PostgresQuery, _ connection: BlockingConnection) throws -> [JobEvent]? {
        do {
            let rows = try connection.pipeline([
                "BEGIN", "SET LOCAL lock_timeout = '5ms'", "SELECT pg_advisory_xact_lock(\(PostgresSession.eventLock))", query, "COMMIT",
            ])
            return try rows[3].map(JobEvent.init(row:))
        } catch let refused as PostgresStatementError where refused.sqlState == "55P03" {
            // The transaction failed with the lock's wait; the COMMIT sent with it ended it.
            return nil
        }
    }
}
