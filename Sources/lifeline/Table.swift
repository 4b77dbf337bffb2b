/// A plain-text table for people: columns padded to their widest cell; given a width, the
/// `narrowable` columns give way to the last (``leaveRoomForLast``), cut at their start, and
/// the last is cut to fit. `style` may colour a cell (e.g. a state) after padding, so
/// colour never shifts the columns.
struct Table {
    var headers: [String]
    var rows: [[String]]
    var styledColumn: Int?
    var style: (String) -> String = { $0 }
    /// Columns of free-form names (a kind, a queue, a server) that may be cut on a narrow
    /// terminal; ids, states and times never are.
    var narrowable: Set<Int>

    init(
        headers: [String], rows: [[String]], styledColumn: Int? = nil, narrowable: Set<Int> = [], style: @escaping (String) -> String = { $0 }
    ) {
        self.headers = headers
        self.rows = rows
        self.styledColumn = styledColumn
        self.narrowable = narrowable
        self.style = style
    }

    func render(width: Int?) -> [String] {
        var columns = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        if let width { leaveRoomForLast(&columns, width: width) }
        return ([headers] + rows).enumerated().map { index, cells in
            var prefix = ""
            var styledPrefix = ""
            for (column, cell) in cells.enumerated().dropLast() {
                let shown = narrowable.contains(column) ? Self.cutFront(cell, to: columns[column]) : Self.cut(cell, to: columns[column])
                let padded = shown.padding(toLength: columns[column] + 2, withPad: " ", startingAt: 0)
                prefix += padded
                styledPrefix += index > 0 && column == styledColumn ? style(shown) + padded.dropFirst(shown.count) : padded
            }
            let plain = Self.cut(prefix + (cells.last ?? ""), to: width)
            // Cut into the padded columns: too narrow for colour to matter.
            guard plain.count > prefix.count else { return plain }
            return styledPrefix + plain.dropFirst(prefix.count)
        }
    }

    /// Narrows the widest `narrowable` column, a character at a time, until the last (the one
    /// read for, such as a job's last error) has 24 characters, or all its cells need, or those
    /// columns are down to 10: on an 80-column terminal a long kind or server name is cut, not
    /// the error.
    func leaveRoomForLast(_ columns: inout [Int], width: Int) {
        let room = min(rows.map { $0.last?.count ?? 0 }.max() ?? 0, 24)
        while columns.dropLast().reduce(0, { $0 + $1 + 2 }) + room > width,
              let widest = narrowable.filter({ $0 < columns.count - 1 }).max(by: { columns[$0] < columns[$1] }), columns[widest] > 10 {
            columns[widest] -= 1
        }
    }

    /// A name cut at its start: its end tells it from its neighbours (`…start-vm` and
    /// `…finalize`, where `recovery.…` named every stage job alike).
    static func cutFront(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        return "…" + String(text.suffix(max(width - 1, 0)))
    }

    static func cut(_ text: String, to width: Int?) -> String {
        guard let width, text.count > width else { return text }
        return String(text.prefix(max(width - 1, 0))) + "…"
    }
}
