import LifelineQueue

extension JobState {
    /// The order of the per-state columns of `queues list` and `stats`: waiting, working, done.
    static let displayOrder: [JobState] = [.available, .scheduled, .running, .retryable, .completed, .discarded, .cancelled]
}
