import Foundation
import Logging

/// What a running handler sees of its job: the row as claimed, a logger with the job's
/// metadata, and a way to checkpoint progress (carried by the next lease renewal).
public struct JobContext: Sendable {
    public let job: Job
    public let logger: Logger
    private let progressSink: @Sendable (JSONValue) -> Void

    public init(job: Job, logger: Logger, progressSink: @escaping @Sendable (JSONValue) -> Void) {
        self.job = job
        self.logger = logger
        self.progressSink = progressSink
    }

    /// Records the job's progress or checkpoint; a retried attempt finds it in `job.progress`.
    public func report(progress: JSONValue) {
        progressSink(progress)
    }
}
