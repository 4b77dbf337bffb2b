import Foundation

/// What an attempt's outcome does to its running job: the columns that change and the event
/// that says so. Worked out here, once for every store; a store only writes it.
public struct OutcomeChange: Sendable {
    public let job: Job
    /// The outcome applied: a cancel request turns any outcome but success into `.cancelled`.
    public let outcome: JobOutcome
    public private(set) var state: JobState = .running
    public private(set) var attempt: Int
    public private(set) var runAt: Date
    public private(set) var finishedAt: Date?
    public private(set) var result: JSONValue?
    /// The failed attempt to append to the job's errors, if any.
    public private(set) var newError: AttemptError?
    public private(set) var event: EventType = .completed
    public private(set) var eventData: JSONValue = .object([:])

    public init(job: Job, outcome: JobOutcome, now: Date) {
        self.job = job
        attempt = job.attempt
        runAt = job.runAt
        // A cancel request wins over anything but success: the user asked the job to stop.
        var outcome = outcome
        if job.cancelRequested, case .completed = outcome {} else if job.cancelRequested { outcome = .cancelled }
        self.outcome = outcome
        let attemptData: JSONValue = ["attempt": .int(Int64(job.attempt))]
        switch outcome {
        case .completed(let result):
            finish(.completed, now, event: .completed, data: attemptData)
            self.result = result
        case .failed(let error) where job.attempt < job.maxAttempts:
            let due = Date(ms: now.ms + job.backoff.delay(afterAttempt: job.attempt).milliseconds)
            recordError(error, now)
            wait(.retryable, runAt: due, event: .retrying, data: [
                "attempt": .int(Int64(job.attempt)), "error": .string(error), "run_at": .string(LifelineJSON.formatTime(due)),
            ])
        case .failed(let error), .discarded(let error):
            recordError(error, now)
            finish(.discarded, now, event: .discarded, data: ["attempt": .int(Int64(job.attempt)), "error": .string(error)])
        case .snoozed(let delay):
            attempt -= 1
            let due = Date(ms: now.ms + delay.milliseconds)
            wait(.scheduled, runAt: due, event: .snoozed, data: ["run_at": .string(LifelineJSON.formatTime(due))])
        case .released:
            // Back where it stood in line (it was due when claimed), not behind what came since.
            attempt -= 1
            wait(.available, runAt: min(job.runAt, now), event: .released, data: ["worker": .string(job.leaseOwner ?? "")])
        case .cancelled:
            finish(.cancelled, now, event: .cancelled, data: attemptData)
        }
    }

    /// The data of a `completed` event, as canonical text: a store that completes a job
    /// without reading its row first writes the same as a change worked out here.
    public static func completedData(attempt: Int) -> String {
        // One key and an integer: canonical as written.
        "{\"attempt\":\(attempt)}"
    }

    /// The outcome recorded for a job whose worker stopped renewing its lease.
    public static func expiredLease(of job: Job) -> JobOutcome {
        job.cancelRequested ? .cancelled : .failed(error: "\(expiredLeaseError): worker \(job.leaseOwner ?? "?") stopped renewing it")
    }

    /// How the error of an attempt lost with its worker begins: when it ended is not known,
    /// only that it was before its lease ran out.
    public static let expiredLeaseError = "lease expired"

    /// The error to append, as the JSON text stored in the job's `errors` array.
    public func newErrorJSON() throws -> String? {
        try newError.map { String(decoding: try LifelineJSON.encoder().encode($0), as: UTF8.self) }
    }

    private mutating func finish(_ state: JobState, _ now: Date, event: EventType, data: JSONValue) {
        self.state = state
        finishedAt = now
        (self.event, eventData) = (event, data)
    }

    private mutating func wait(_ state: JobState, runAt: Date, event: EventType, data: JSONValue) {
        self.state = state
        self.runAt = runAt
        (self.event, eventData) = (event, data)
    }

    private mutating func recordError(_ message: String, _ now: Date) {
        newError = AttemptError(attempt: job.attempt, at: now, error: message, worker: job.leaseOwner)
    }
}

extension JobFinish {
    /// The finishes that complete their jobs, with each one's result: the batch a store
    /// completes in one statement, without reading the rows first.
    public static func completions(in finishes: [JobFinish]) -> [(finish: JobFinish, result: JSONValue?)] {
        finishes.compactMap { finish in
            guard case .completed(let result) = finish.outcome else { return nil }
            return (finish, result)
        }
    }
}
