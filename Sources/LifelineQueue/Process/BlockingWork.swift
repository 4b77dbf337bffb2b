import Foundation
import Synchronization

/// Runs blocking work (file copies, syncs) on a thread of its own, so that it never holds one
/// of the cooperative pool's few threads, which the worker's timers, heartbeats and claims
/// need. Cancelling the calling task sets the flag the work is handed; the work looks at it.
public enum BlockingWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread { continuation.resume(with: Result { try body(flag) }) }
                thread.name = "lifeline-blocking"
                thread.start()
            }
        } onCancel: {
            flag.cancel()
        }
    }
}

/// Tells blocking work that its task was cancelled.
public final class CancellationFlag: Sendable {
    private let cancelled = Atomic(false)

    public init() {}

    public func cancel() {
        cancelled.store(true, ordering: .releasing)
    }

    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// Throws `CancellationError` once cancelled.
    public func check() throws {
        if isCancelled { throw CancellationError() }
    }
}
