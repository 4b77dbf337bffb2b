import Foundation

/// Stores keep every time as whole milliseconds since 1970. A stored time becomes a `Date`
/// a hair off its millisecond (x.123 is x.12299…), so converting back rounds to the nearest
/// one: a time read and written again never drifts.
extension Date {
    public init(ms: Int64) {
        self.init(timeIntervalSince1970: Double(ms) / 1000)
    }

    public var ms: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded())
    }
}
