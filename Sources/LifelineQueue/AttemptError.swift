import Foundation

/// The record of one failed attempt, kept on the job row for inspection.
public struct AttemptError: Sendable, Hashable, Codable {
    public var attempt: Int
    public var at: Date
    public var error: String
    /// The worker that ran the attempt (or, for a lost lease, the one that held it).
    public var worker: String?

    public init(attempt: Int, at: Date, error: String, worker: String?) {
        self.attempt = attempt
        self.at = at
        self.error = error
        self.worker = worker
    }
}
