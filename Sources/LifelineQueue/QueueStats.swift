import Foundation

/// The numbers of `lifeline stats`: where jobs are, who runs them, how fast they finish.
public struct QueueStats: Sendable, Hashable, Encodable {
    /// Jobs per queue and state.
    public var counts: [String: [JobState: Int]]
    /// Running jobs per worker (lease owner).
    public var runningByWorker: [String: Int]
    /// Of those, the jobs whose leases ran out, per worker that has any: a worker that died or
    /// stopped still counts its jobs as running until a claim by any worker takes them back.
    public var expiredLeasesByWorker: [String: Int]
    /// Per window (in minutes): jobs completed, attempts failed, and of those the retries (a
    /// failed attempt given another) and the jobs discarded.
    public var windows: [Window]
    /// The same windows for each queue that had an outcome in the last 15 minutes.
    public var windowsByQueue: [String: [Window]]
    /// How long the oldest available job has waited, per queue.
    public var oldestWaiting: [String: Duration]

    public struct Window: Sendable, Hashable, Encodable {
        public var minutes: Int
        public var completed: Int
        /// Failed attempts given another attempt (their jobs went to `retryable`).
        public var retries: Int
        public var discarded: Int
        /// Every failed attempt: a retry, or a job discarded.
        public var failedAttempts: Int { retries + discarded }

        public init(minutes: Int, completed: Int, retries: Int, discarded: Int) {
            self.minutes = minutes
            self.completed = completed
            self.retries = retries
            self.discarded = discarded
        }

        public var perMinute: Double { Double(completed) / Double(minutes) }

        /// The share of attempts that failed, 0 to 1 (0 with no attempts).
        public var failureRate: Double { share(failedAttempts) }

        /// The share of attempts that failed and were given another, 0 to 1 (0 with no attempts).
        public var retryRate: Double { share(retries) }

        private func share(_ count: Int) -> Double {
            let attempts = completed + failedAttempts
            return attempts == 0 ? 0 : Double(count) / Double(attempts)
        }

        enum CodingKeys: String, CodingKey {
            case minutes, completed, retries, discarded
            case failedAttempts = "failed_attempts"
            case perMinute = "completed_per_minute"
            case retryRate = "retry_rate"
            case failureRate = "failure_rate"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(minutes, forKey: .minutes)
            try container.encode(completed, forKey: .completed)
            try container.encode(failedAttempts, forKey: .failedAttempts)
            try container.encode(retries, forKey: .retries)
            try container.encode(discarded, forKey: .discarded)
            try container.encode(perMinute, forKey: .perMinute)
            try container.encode(retryRate, forKey: .retryRate)
            try container.encode(failureRate, forKey: .failureRate)
        }
    }

    /// Outcome events per queue and type, each `[last 1, last 5, last 15 minutes]`.
    public typealias OutcomeCounts = [String: [String: [Int]]]

    public init(
        counts: [String: [JobState: Int]], runningByWorker: [String: Int], expiredLeasesByWorker: [String: Int], outcomes: OutcomeCounts,
        oldestWaiting: [String: Duration]
    ) {
        self.counts = counts
        self.runningByWorker = runningByWorker
        self.expiredLeasesByWorker = expiredLeasesByWorker
        let total = outcomes.values.reduce(into: [String: [Int]]()) { total, types in
            total.merge(types) { zip($0, $1).map(+) }
        }
        self.windows = Self.windows(total)
        self.windowsByQueue = outcomes.mapValues(Self.windows)
        self.oldestWaiting = oldestWaiting
    }

    enum CodingKeys: String, CodingKey {
        case counts, windows
        case windowsByQueue = "windows_by_queue"
        case runningByWorker = "running_by_worker"
        case expiredLeasesByWorker = "expired_leases_by_worker"
        case oldestWaitingSeconds = "oldest_waiting_seconds"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let byName = counts.mapValues { states in
            Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, states[$0] ?? 0) })
        }
        try container.encode(byName, forKey: .counts)
        try container.encode(runningByWorker, forKey: .runningByWorker)
        try container.encode(expiredLeasesByWorker, forKey: .expiredLeasesByWorker)
        try container.encode(windows, forKey: .windows)
        try container.encode(windowsByQueue, forKey: .windowsByQueue)
        try container.encode(oldestWaiting.mapValues { Double($0.milliseconds) / 1000 }, forKey: .oldestWaitingSeconds)
    }
}

extension QueueStats {
    /// The 1, 5 and 15 minute windows from counts of `completed`, `retrying` and `discarded`
    /// events, each `[last 1, last 5, last 15 minutes]`.
    static func windows(_ counts: [String: [Int]]) -> [Window] {
        [1, 5, 15].enumerated().map { index, minutes in
            let count = { (type: String) in counts[type]?[index] ?? 0 }
            return Window(
                minutes: minutes, completed: count("completed"), retries: count("retrying"), discarded: count("discarded")
            )
        }
    }
}

extension EventType {
    /// Whether the throughput windows count events of this type (``QueueStats/windows(_:)``).
    public var countsInWindows: Bool { self == .completed || self == .retrying || self == .discarded }
}
