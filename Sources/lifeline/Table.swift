/// A plain-text table for people: columns padded to their widest cell; on a terminal the
/// last column is cut to fit the width.
struct Table {
    var headers: [String]
    var rows: [[String]]

    func render(width: Int?) -> [String] {
        let columns = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        return ([headers] + rows).map { cells in
            var line = ""
            for (column, cell) in cells.enumerated() {
                let isLast = column == cells.count - 1
                line += isLast ? cell : cell.padding(toLength: columns[column] + 2, withPad: " ", startingAt: 0)
            }
            return Self.cut(line, to: width)
        }
    }

    static func cut(_ text: String, to width: Int?) -> String {
        guard let width, text.count > width else { return text }
        return String(text.prefix(max(width - 1, 0))) + "…"
    }
}
