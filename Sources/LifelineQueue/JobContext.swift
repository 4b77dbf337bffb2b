import Foundation
import Logging

/// What a running handler sees of its job: the row as claimed, a logger with the job's
/// metadata, and a way to checkpoint progress (carried by the next lease renewal).
public struct JobContext: Sendable {
    public let job: Job
    private let baseLogger: Logger
    private let progressSink: @Sendable (JSONValue) -> Void

    /// - Parameter logger: the worker's logger; the context adds the job's metadata.
    public init(job: Job, logger: Logger, progressSink: @escaping @Sendable (JSONValue) -> Void) {
        self.job = job
        baseLogger = logger
        self.progressSink = progressSink
    }

    /// A logger with the job's id, kind and attempt as metadata.
    public var logger: Logger { Self.logger(baseLogger, for: job) }

    static func logger(_ base: Logger, for job: Job) -> Logger {
        logger(base, id: job.id, kind: job.kind, attempt: job.attempt)
    }

    static func logger(_ base: Logger, id: Int64, kind: String, attempt: Int) -> Logger {
        var logger = base
        logger[metadataKey: "job"] = "\(id)"
        logger[metadataKey: "kind"] = "\(kind)"
        logger[metadataKey: "attempt"] = "\(attempt)"
        return logger
    }

    /// Records the job's progress or checkpoint; a retried attempt finds it in `job.progress`.
    public func report(progress: JSONValue) {
        progressSink(progress)
    }
}
