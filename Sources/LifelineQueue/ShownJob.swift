/// A job as `jobs show --json` and the API's `/api/jobs/ID` give it: the job object with its
/// events, oldest first.
public struct ShownJob: Encodable, Sendable {
    public var job: Job
    public var events: [JobEvent]

    public init(job: Job, events: [JobEvent]) {
        self.job = job
        self.events = events
    }

    enum CodingKeys: String, CodingKey { case events }

    public func encode(to encoder: any Encoder) throws {
        try job.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(events, forKey: .events)
    }
}
