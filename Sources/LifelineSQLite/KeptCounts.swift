import LifelineQueue

/// The counts `stats`, `queues` and `/metrics` read instead of the rows (schema 4): jobs per
/// queue and state, running jobs left out (they are read from their own index), and outcome
/// events per queue, type and second (schema 10). Since schema 8 the statements that move
/// jobs into and out of `running`, and every event written, count here once per statement;
/// triggers count the rest.
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

    /// Counts `n` events of `type` written at `at` for jobs of `queue`, if the throughput
    /// windows count that type.
    static func addEvents(_ db: some StatementSource, queue: String, type: EventType, at: Int64, _ n: Int) throws {
        guard n > 0, type.countsInWindows else { return }
        try RawStatement(db, """
            INSERT INTO outcome_counts (queue, type, second, n) VALUES (?, ?, ?, ?)
                ON CONFLICT (queue, type, second) DO UPDATE SET n = n + excluded.n
            """, [.text(queue), .text(type.rawValue), .int(at / 1000), .int(n)]).execute()
    }

    /// Counts an event of `type` written at `at` for `job`, in its job's queue, if the
    /// throughput windows count that type.
    static func addEvent(_ db: some StatementSource, job: Int64?, type: EventType, at: Int64) throws {
        guard let job, type.countsInWindows else { return }
        try RawStatement(db, """
            INSERT INTO outcome_counts (queue, type, second, n) SELECT queue, ?, ?, 1 FROM jobs WHERE id = ?
                ON CONFLICT (queue, type, second) DO UPDATE SET n = n + 1
            """, [.text(type.rawValue), .int(at / 1000), .int(job)]).execute()
    }

    /// How many of `queues` name each queue, in the order first named: a batch's jobs are
    /// nearly always of one queue.
    static func perQueue(_ queues: some Sequence<String>) -> [(queue: String, n: Int)] {
        var counted: [(queue: String, n: Int)] = []
        for queue in queues {
            if let index = counted.firstIndex(where: { $0.queue == queue }) { counted[index].n += 1 } else { counted.append((queue, 1)) }
        }
        return counted
    }

    /// Counts the outcome events numbered `seqs` (a copy's), each in its job's queue.
    static func addEvents(_ db: some StatementSource, seqs: ClosedRange<Int64>) throws {
        try RawStatement(db, """
            INSERT INTO outcome_counts (queue, type, second, n)
            SELECT j.queue, e.type, e.at / 1000, count(*) FROM events e JOIN jobs j ON j.id = e.job
            WHERE e.seq BETWEEN ? AND ? AND (e.type = 'completed' OR e.type = 'retrying' OR e.type = 'discarded')
            GROUP BY j.queue, e.type, e.at / 1000
                ON CONFLICT (queue, type, second) DO UPDATE SET n = n + excluded.n
            """, [.int(seqs.lowerBound), .int(seqs.upperBound)]).execute()
    }
}
