/// The parser writes a command's synopsis on one line, however many options it has: a terminal
/// then breaks it mid-option. Laid out here on lines of at most `columns`, broken only between
/// whole options (`[--queue <queue>]`), each line after the first indented under the first
/// word after `USAGE:`.
enum UsageLayout {
    static func wrapped(_ help: String, columns: Int) -> String {
        help.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("USAGE: "), line.count > columns else { return String(line) }
            let indent = String(repeating: " ", count: "USAGE: ".count)
            var lines: [String] = []
            var current = "USAGE:"
            for (index, unit) in units(line.dropFirst("USAGE: ".count)).enumerated() {
                if index > 0 && current.count + 1 + unit.count > columns {
                    lines.append(current)
                    current = indent + unit
                } else {
                    current += " " + unit
                }
            }
            lines.append(current)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// The synopsis's words, a bracketed option with what it holds counting as one.
    static func units(_ synopsis: Substring) -> [String] {
        var units: [String] = []
        var unit = ""
        var depth = 0
        for character in synopsis {
            if character == " " && depth == 0 {
                if !unit.isEmpty { units.append(unit) }
                unit = ""
                continue
            }
            if character == "[" || character == "<" { depth += 1 }
            if character == "]" || character == ">" { depth = max(depth - 1, 0) }
            unit.append(character)
        }
        if !unit.isEmpty { units.append(unit) }
        return units
    }
}
