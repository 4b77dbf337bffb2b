/// How a store deletes the finished jobs whose queues' retention has run out: walking them
/// from the oldest up to the newest that any retention could delete, in batches read apart
/// from the deletes, so a worker's pruning never holds the write lock for long. Each store
/// brings its own statements.
public enum RetentionWalk {
    /// A finished job, as the walk reads it.
    public struct FinishedJob: Sendable {
        public var id: Int64
        public var queue: String
        public var state: String
        public var finishedAt: Int64

        public init(id: Int64, queue: String, state: String, finishedAt: Int64) {
            self.id = id
            self.queue = queue
            self.state = state
            self.finishedAt = finishedAt
        }
    }

    /// Where the walk is: past the job that finished at `finishedAt` with `id`.
    public typealias Cursor = (finishedAt: Int64, id: Int64)

    /// `read` gives up to `batch` jobs that finished before `before`, after the cursor, in
    /// `(finished_at, id)` order; `delete` deletes those of its jobs still as read (a job
    /// retried meanwhile stays), with their events, and says what it deleted.
    public static func run(
        retention: QueueRetention, now: Int64, batch: Int,
        read: (_ before: Int64, _ after: Cursor, _ limit: Int) async throws -> [FinishedJob],
        delete: ([FinishedJob]) async throws -> PruneResult
    ) async throws -> PruneResult {
        var total = PruneResult(jobs: 0, events: 0)
        var cursor: Cursor = (.min, 0)
        while true {
            let rows = try await read(now - retention.shortest, cursor, batch)
            guard let last = rows.last else { return total }
            cursor = (last.finishedAt, last.id)
            let expired = rows.filter { retention.expired(queue: $0.queue, state: $0.state, finishedAt: $0.finishedAt, now: now) }
            guard !expired.isEmpty else { continue }
            let pruned = try await delete(expired)
            total.jobs += pruned.jobs
            total.events += pruned.events
        }
    }
}
