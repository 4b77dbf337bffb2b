/// How `--db` and `LIFELINE_DATABASE_URL` are told apart from a file path before anything is
/// opened. They scan bytes by hand: every command that opens the queue makes them, and a
/// regular expression's first use cost a start more than the rest of the look.
extension StoreSelection {
    /// The scheme `text` starts with (`NAME://`, an ASCII letter and then letters, digits, `+`,
    /// `.` or `-`), if it does.
    static func scheme(of text: String) -> Substring? {
        let utf8 = text.utf8
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")), utf8[colon...].starts(with: "://".utf8) else { return nil }
        let name = utf8[..<colon]
        guard let first = name.first, isLetter(first),
              name.allSatisfy({ isLetter($0) || (0x30...0x39).contains($0) || "+.-".utf8.contains($0) }) else { return nil }
        return Substring(name)
    }

    /// Whether `text` starts like a PostgreSQL URL (whatever the spaces and case before the
    /// scheme's colon), or holds a `USER:PASSWORD@HOST` part, as no file path Lifeline makes
    /// does: a colon after a character other than `/`, `:`, `@` or a space, then an `@` with
    /// no `/` or space between, and a character other than `/` after it. Spaces are ASCII's.
    static func looksLikePostgres(_ text: String) -> Bool {
        let start = text.drop(while: \.isWhitespace).lowercased()
        if start.hasPrefix("postgres:") || start.hasPrefix("postgresql:") { return true }
        let bytes = Array(text.utf8)
        for colon in bytes.indices where bytes[colon] == UInt8(ascii: ":") && colon > 0 {
            let before = bytes[colon - 1]
            guard before != UInt8(ascii: "/"), before != UInt8(ascii: ":"), before != UInt8(ascii: "@"), !isSpace(before) else { continue }
            guard let at = bytes[(colon + 1)...].firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "@") || isSpace($0) }),
                  bytes[at] == UInt8(ascii: "@"), at + 1 < bytes.count, bytes[at + 1] != UInt8(ascii: "/") else { continue }
            return true
        }
        return false
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}
