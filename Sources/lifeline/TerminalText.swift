import LifelineQueue

/// Text from users, jobs and stage programs, made safe for a terminal line.
enum TerminalText {
    /// Control characters (a newline or an escape sequence in the user's input, or in a
    /// program's error output) are shown escaped, never acted on by the terminal.
    static func escaped(_ text: String) -> String {
        // Most text is printable ASCII, which needs no look at each character's category.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            case _ where scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format:
                escaped += hexEscape(scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// `\x1b`, `\u202e`, `\U000e0001`: as a shell's `$'…'`, C and Python write them.
    private static func hexEscape(_ value: UInt32) -> String {
        let (prefix, width) = value <= 0xFF ? ("\\x", 2) : value <= 0xFFFF ? ("\\u", 4) : ("\\U", 8)
        let digits = String(value, radix: 16)
        return prefix + String(repeating: "0", count: width - digits.count) + digits
    }

    /// A JSON value's canonical text, each control or format character in it (C1's, a bidi
    /// override) escaped as JSON writes one (`\u009b`, `\u202e`): the same JSON, read, and
    /// nothing a terminal acts on. JSON itself escapes only those below U+0020.
    static func json(_ value: JSONValue) -> String {
        let text = value.canonicalText
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            let category = scalar.properties.generalCategory
            guard category == .control || category == .format else {
                escaped.unicodeScalars.append(scalar)
                continue
            }
            for unit in String(scalar).utf16 {
                let digits = String(unit, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            }
        }
        return escaped
    }

    /// Lines joined with spaces, then escaped: for table cells and one-line summaries.
    static func oneLine(_ text: String) -> String {
        escaped(text.split(whereSeparator: \.isNewline).joined(separator: " "))
    }
}
