/// Where a job is in its life. Stored as text under a CHECK constraint, so the database
/// stays readable with plain `sqlite3`.
///
/// ```
/// scheduled ──(run_at reached)──▶ available ──(claim)──▶ running ──▶ completed
///                                     ▲                     │
///                                     └──── retryable ◀─────┤ (failed, attempts left)
///                                                           └──▶ discarded
/// cancelled: from any state that is not final.
/// ```
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Waiting for its `run_at` (enqueued with a delay). Moved to `available` by the claimer
    /// once `run_at` has passed, or to `cancelled`.
    case scheduled
    /// Ready to run. Enqueue puts a job here when it has no delay; a claim takes it to
    /// `running`.
    case available
    /// Held by a worker under a lease. The worker moves it to `completed`, `retryable`,
    /// `discarded` or `cancelled`; a claimer takes it back when the lease expires.
    case running
    /// Failed with attempts left; waits for its backoff (`run_at`), then becomes `available`.
    case retryable
    /// Finished successfully. Final.
    case completed
    /// Failed for good: attempts spent or a permanent error. Final until retried by hand.
    case discarded
    /// Cancelled by a user. Final until retried by hand.
    case cancelled

    /// Whether a retry by hand takes a job from this state: one that failed for good or was
    /// cancelled, and one that waits for its backoff or its time, which is made due now; each
    /// with a fresh attempt budget (its attempts numbered on).
    public var isRetriable: Bool {
        switch self {
        case .discarded, .cancelled, .retryable, .scheduled: true
        case .available, .running, .completed: false
        }
    }

    /// The refusal of a retry by hand of jobs in other states, each with its state, as the CLI
    /// and the API say it.
    public static func notRetried(_ refused: [(id: Int64, state: JobState)]) -> String {
        let named = refused.sorted { $0.id < $1.id }.map { "job \($0.id) is \($0.state.rawValue)" }
        return "not retried: \(named.joined(separator: ", ")); only discarded, cancelled, retryable or scheduled jobs can be retried"
    }

    /// Final states carry a `finished_at` time; the others do not.
    public var isFinal: Bool {
        switch self {
        case .completed, .discarded, .cancelled: true
        case .scheduled, .available, .running, .retryable: false
        }
    }

    /// States that wait for a worker.
    public var isWaiting: Bool {
        switch self {
        case .scheduled, .available, .retryable: true
        case .running, .completed, .discarded, .cancelled: false
        }
    }
}
