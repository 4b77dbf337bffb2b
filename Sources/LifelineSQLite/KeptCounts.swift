import LifelineQueue

/// The counts `stats`, `queues` and `/metrics` read instead of the rows (schema 4): jobs per
/// queue and state, running jobs left out (they are read from their own index), and outcome
/// events per type and second. Since schema 8 the statements that move jobs into and out of
/// `running`, and every event written, count here once per statement; triggers count the rest.
enum KeptCounts {
    /// Adds `n` (taken away when negative) to the jobs counted in `queue` and `state`.
    static func addJobs(_ db: some StatementSource, queue: String, state: JobState, _ n: Int) throws {
        precondition(state != .running, "running jobs are not kept in the counts")
        guard n != 0 else { return }
        try RawStatement(db, """
            INSERT INTO job_counts (queue, state, n) VALUES (?, ?, ?)
                ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n
            """, [.text(queue), .text(state.rawValue), .int(n)]).execute()
    }

    /// Counts `n` events of `type` written at `at`, if the throughput windows count that type.
    static func addEvents(_ db: some StatementSource, type: EventType, at: Int64, _ n: Int) throws {
        guard n > 0, type.countsInWindows else { return }
        try RawStatement(db, """
            INSERT INTO outcome_counts (type, second, n) VALUES (?, ?, ?)
                ON CONFLICT (type, second) DO UPDATE SET n = n + excluded.n
            """, [.text(type.rawValue), .int(at / 1000), .int(n)]).execute()
    }
}
