import Foundation

/// Runs `body`, which blocks (waits for a process, reads a pipe), on a thread of its own, and
/// awaits its result. Swift concurrency has as many threads as cores, shared by every test of
/// a run: a test that blocks one holds up the tests beside it.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result(catching: body)) }
    }
}
