import Foundation

public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// Waits until `condition` holds, checking it again whenever it does not, up to a deadline.
/// Tests wait on the state they expect, never on a fixed sleep.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(20), condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw DeadlineExceeded(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}
