import Foundation

/// Stores keep every time as whole milliseconds since 1970.
extension Date {
    public init(ms: Int64) {
        self.init(timeIntervalSince1970: Double(ms) / 1000)
    }

    public var ms: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded(.down))
    }
}
