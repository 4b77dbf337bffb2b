import Foundation
import Synchronization

/// A clock tests move by hand, so leases expire and backoffs pass without sleeping.
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by duration: Duration) {
        current.withLock { $0 = $0.adding(duration) }
    }

    /// The clock as a store takes it.
    public var function: @Sendable () -> Date { { [self] in now } }
}
