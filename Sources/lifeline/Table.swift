/// A plain-text table for people: columns padded to their widest cell; given a width, the
/// last column is cut to fit it. `style` may colour a cell (e.g. a state) after padding, so
/// colour never shifts the columns.
struct Table {
    var headers: [String]
    var rows: [[String]]
    var styledColumn: Int?
    var style: (String) -> String = { $0 }

    init(headers: [String], rows: [[String]], styledColumn: Int? = nil, style: @escaping (String) -> String = { $0 }) {
        self.headers = headers
        self.rows = rows
        self.styledColumn = styledColumn
        self.style = style
    }

    func render(width: Int?) -> [String] {
        let columns = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        return ([headers] + rows).enumerated().map { index, cells in
            var prefix = ""
            var styledPrefix = ""
            for (column, cell) in cells.enumerated().dropLast() {
                let padded = cell.padding(toLength: columns[column] + 2, withPad: " ", startingAt: 0)
                prefix += padded
                styledPrefix += index > 0 && column == styledColumn ? style(cell) + padded.dropFirst(cell.count) : padded
            }
            let plain = Self.cut(prefix + (cells.last ?? ""), to: width)
            // Cut into the padded columns: too narrow for colour to matter.
            guard plain.count > prefix.count else { return plain }
            return styledPrefix + plain.dropFirst(prefix.count)
        }
    }

    static func cut(_ text: String, to width: Int?) -> String {
        guard let width, text.count > width else { return text }
        return String(text.prefix(max(width - 1, 0))) + "…"
    }
}
