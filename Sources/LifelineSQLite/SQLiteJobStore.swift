import Foundation
import GRDB
import LifelineQueue

/// The SQLite ``JobStore``: one GRDB writer per process, one IMMEDIATE transaction per
/// method, each appending its events in the same transaction.
public struct SQLiteJobStore: JobStore {
    let writer: any DatabaseWriter
    let clock: @Sendable () -> Date

    /// - Parameter clock: the time every change is stamped with; tests inject their own.
    public init(writer: any DatabaseWriter, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.writer = writer
        self.clock = clock
    }

    /// Milliseconds since 1970, the unit of every time column.
    func nowMs() -> Int64 {
        Int64((clock().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

extension Date {
    init(ms: Int64) {
        self.init(timeIntervalSince1970: Double(ms) / 1000)
    }

    var ms: Int64 {
        Int64((timeIntervalSince1970 * 1000).rounded(.down))
    }
}
