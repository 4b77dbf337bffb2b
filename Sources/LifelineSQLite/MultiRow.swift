import GRDB

/// Statements that take many rows at once, each row's values bound by position in a
/// multi-row VALUES list: cheaper than writing a batch as JSON for json_each to unpack, which
/// parses each row again for every column.
enum MultiRow {
    /// Rows per statement: a claim's batch, and far below SQLite's limit on parameters.
    static let limit = 64

    /// `row` written `count` times, separated by commas.
    static func values(_ row: String, count: Int) -> String {
        Array(repeating: row, count: count).joined(separator: ", ")
    }

    /// One statement's text for each number of rows from 1 to ``limit``, made once.
    struct Statements: Sendable {
        private let sql: [String]
        /// The values each row binds, which a run's list of values is made room for at once.
        private let valuesPerRow: Int

        init(valuesPerRow: Int, _ sql: (Int) -> String) {
            self.valuesPerRow = valuesPerRow
            self.sql = (1...MultiRow.limit).map(sql)
        }

        /// Runs a statement per run of at most ``limit`` rows, in order, with `leading` bound
        /// first (the values every row shares) and then each row's values as `values` appends
        /// them; `read` sees each row a statement returns.
        func run<Row>(
            _ db: Database, leading: [SQLValue], _ rows: [Row], values: (Row, inout [SQLValue]) -> Void,
            read: (RawStatement) -> Void = { _ in }
        ) throws {
            for start in stride(from: 0, to: rows.count, by: MultiRow.limit) {
                let run = rows[start..<min(start + MultiRow.limit, rows.count)]
                var bound: [SQLValue] = []
                bound.reserveCapacity(leading.count + run.count * valuesPerRow)
                bound.append(contentsOf: leading)
                for row in run { values(row, &bound) }
                let statement = try RawStatement(db, sql[run.count - 1], bound)
                while try statement.step() { read(statement) }
            }
        }
    }
}
