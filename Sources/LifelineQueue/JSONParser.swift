/// Parses JSON text (RFC 8259) into a ``JSONValue``, saying where a document goes wrong by
/// line and column. Integers are 64-bit (a larger one is refused: it would not read back
/// exactly); other numbers are doubles.
struct JSONParser {
    /// Deeper documents are refused rather than risking the stack.
    static let maximumDepth = 512

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func parse(_ bytes: [UInt8]) throws(JSONValueError) -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected \(parser.found) after the document") }
        return value
    }

    private mutating func value() throws(JSONValueError) -> JSONValue {
        guard index < bytes.count else { throw error("the text ends where a value should be") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try nested { (parser: inout JSONParser) throws(JSONValueError) in try parser.object() }
        case UInt8(ascii: "["): return try nested { (parser: inout JSONParser) throws(JSONValueError) in try parser.array() }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("expected a value, found \(found)")
        }
    }

    private mutating func nested(_ body: (inout JSONParser) throws(JSONValueError) -> JSONValue) throws(JSONValueError) -> JSONValue {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
        defer { depth -= 1 }
        return try body(&self)
    }

    private mutating func object() throws(JSONValueError) -> JSONValue {
        index += 1
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(fields) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a field name in quotes, found \(found)") }
            let keyStart = index
            let key = try string()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw error("expected ':' after the field name, found \(found)") }
            skipWhitespace()
            // Refused, not resolved: readers disagree on which of two values counts (the first,
            // the last, either), so a document that one checks and another runs must have one.
            guard fields.updateValue(try value(), forKey: key) == nil else {
                index = keyStart
                // Swift's dictionary, as Unicode, takes two spellings of one text for one key.
                let first = fields.keys[fields.index(forKey: key)!]
                let spelling = first.utf8.elementsEqual(key.utf8) ? "" : ", spelt two ways in Unicode (composed and decomposed); use one"
                throw error("field '\(key)' appears twice in one object\(spelling)")
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return .object(fields) }
            throw error("expected ',' or '}' in an object, found \(found)")
        }
    }

    private mutating func array() throws(JSONValueError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try value())
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            throw error("expected ',' or ']' in an array, found \(found)")
        }
    }

    /// Bytes between escapes are taken a run at a time; a string without escapes, the usual
    /// kind, is made straight from its bytes.
    private mutating func string() throws(JSONValueError) -> String {
        let start = index
        index += 1
        // The unescaped text so far, up to `runStart`; an escape always adds to it, so while it
        // is empty the string has none.
        var text: [UInt8] = []
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                let run = bytes[runStart..<index]
                index += 1
                let string = text.isEmpty ? String(validating: run, as: UTF8.self) : String(validating: text + run, as: UTF8.self)
                guard let string else {
                    index = start
                    throw error("a string that is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                text += bytes[runStart..<index]
                index += 1
                try escape(into: &text)
                runStart = index
            case 0..<0x20:
                throw error("a control character in a string must be escaped (e.g. \\n)")
            default:
                index += 1
            }
        }
        index = start
        throw error("a string that is never closed")
    }

    private mutating func escape(into text: inout [UInt8]) throws(JSONValueError) {
        guard index < bytes.count else { throw error("the text ends inside an escape") }
        let simple: UInt8? = switch bytes[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes[index]
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
        if let byte = simple {
            text.append(byte)
            index += 1
            return
        }
        guard bytes[index] == UInt8(ascii: "u") else { throw error("unknown escape '\\\(Character(Unicode.Scalar(bytes[index])))'") }
        index += 1
        var scalar = try hex4()
        if (0xD800..<0xDC00).contains(scalar) {
            guard bytes[index...].starts(with: Array("\\u".utf8)) else { throw error("a lone surrogate \\u escape") }
            index += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("a lone surrogate \\u escape") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw error("a lone surrogate \\u escape") }
        text += Array(String(Character(unicode)).utf8)
    }

    private mutating func hex4() throws(JSONValueError) -> UInt32 {
        let isHex = { (byte: UInt8) in (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte) }
        guard index + 4 <= bytes.count, bytes[index..<index + 4].allSatisfy(isHex),
              let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else {
            throw error("\\u must be followed by four hex digits")
        }
        index += 4
        return value
    }

    private mutating func number() throws(JSONValueError) -> JSONValue {
        let start = index
        var integral = true
        _ = consume(UInt8(ascii: "-"))
        let firstDigit = index
        guard digits() > 0 else { throw error("a number needs digits after '-'") }
        if bytes[firstDigit] == UInt8(ascii: "0") && index - firstDigit > 1 {
            index = firstDigit
            throw error("a number must not start with 0")
        }
        if consume(UInt8(ascii: ".")) {
            integral = false
            guard digits() > 0 else { throw error("a number needs digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard digits() > 0 else { throw error("a number needs digits in its exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if integral {
            // As a double it would read back as another number: refused, not rounded.
            guard let value = Int64(text) else {
                index = start
                throw error("the integer \(text) does not fit in 64 bits; pass it as a string")
            }
            return .int(value)
        }
        guard let value = Double(text), value.isFinite else {
            index = start
            throw error("the number \(text) is too large")
        }
        // Nor does one too small for a double read back as 0: refused, as one too large is.
        if value == 0, bytes[start..<index].prefix(while: { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }).contains(where: { (UInt8(ascii: "1")...UInt8(ascii: "9")).contains($0) }) {
            index = start
            throw error("the number \(text) is too small: it would read back as 0")
        }
        return .double(value)
    }

    /// Skips digits; returns how many.
    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index - start
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws(JSONValueError) -> JSONValue {
        guard bytes[index...].starts(with: Array(word.utf8)) else { throw error("expected a value, found \(found)") }
        index += word.utf8.count
        return value
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    /// What stands at the current position, for messages.
    private var found: String {
        guard index < bytes.count else { return "the end of the text" }
        let byte = bytes[index]
        return byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    private func error(_ message: String) -> JSONValueError {
        let before = bytes[..<min(index, bytes.count)]
        let line = before.count { $0 == 0x0A } + 1
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = String(decoding: bytes[lineStart..<min(index, bytes.count)], as: UTF8.self).count + 1
        return .syntax(line: line, column: column, message: message)
    }
}
