import Synchronization

/// A queue opened when it is first asked for, and kept. Callers that ask while it opens wait
/// for that one opening; one that failed is tried again by the next caller.
final class QueueOnDemand: Sendable {
    private let open: @Sendable () async throws -> OpenQueue
    private let opening = Mutex<Task<OpenQueue, any Error>?>(nil)

    init(_ open: @escaping @Sendable () async throws -> OpenQueue) {
        self.open = open
    }

    @Sendable func get() async throws -> OpenQueue {
        let task = opening.withLock { opening in
            if let opening { return opening }
            let task = Task(operation: open)
            opening = task
            return task
        }
        do {
            return try await task.value
        } catch {
            opening.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }
}
