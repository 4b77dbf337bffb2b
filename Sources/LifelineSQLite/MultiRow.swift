/// Statements that take many rows at once, each row's values bound by position in a
/// multi-row VALUES list: cheaper than writing a batch as JSON for json_each to unpack, which
/// parses each row again for every column.
enum MultiRow {
    /// Rows per statement: a claim's batch, and far below SQLite's limit on parameters.
    static let limit = 64

    /// The statement for each number of rows from 1 to ``limit``, made once:
    /// `statements[count - 1]`.
    static func statements(_ sql: (Int) -> String) -> [String] {
        (1...limit).map(sql)
    }

    /// `row` written `count` times, separated by commas.
    static func values(_ row: String, count: Int) -> String {
        Array(repeating: row, count: count).joined(separator: ", ")
    }

    /// `rows` in runs of at most ``limit``, in order.
    static func runs<Row>(_ rows: [Row]) -> [ArraySlice<Row>] {
        stride(from: 0, to: rows.count, by: limit).map { rows[$0..<min($0 + limit, rows.count)] }
    }
}
