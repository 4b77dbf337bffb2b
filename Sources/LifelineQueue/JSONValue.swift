import Foundation

/// A JSON document: job arguments, progress checkpoints, results and event data.
///
/// Integers and floating-point numbers are kept apart so that 64-bit ids and counters
/// read back exactly.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value) where value.rounded() == value && abs(value) < 9e15: Int64(value)
        default: nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// How many arrays and objects deep it nests: 0 for a scalar, 1 for `{}`.
    public var depth: Int {
        switch self {
        case .array(let values): 1 + (values.lazy.map(\.depth).max() ?? 0)
        case .object(let fields): 1 + (fields.values.lazy.map(\.depth).max() ?? 0)
        default: 0
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

extension JSONValue {
    /// Strings and field names are equal byte for byte. Swift's `==` takes two Unicode
    /// spellings of one text (`é` as one code point, or `e` and a combining accent) for equal,
    /// where the programs a job runs see two names: `touch` makes two different files.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a.utf8.elementsEqual(b.utf8)
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count
                && a.allSatisfy { key, value in
                    guard let index = b.index(forKey: key) else { return false }
                    return b.keys[index].utf8.elementsEqual(key.utf8) && b.values[index] == value
                }
        default: false
        }
    }

    /// Whether the two are the same document as stored: their canonical texts, byte for byte.
    public func isSameText(as other: JSONValue) -> Bool {
        canonicalText.utf8.elementsEqual(other.canonicalText.utf8)
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue {
    /// Parses JSON text. Top-level scalars are accepted.
    public init(parsing text: String) throws(JSONValueError) {
        self = try Self.parse(text.utf8)
    }

    public init(parsing data: Data) throws(JSONValueError) {
        self = try Self.parse(data)
    }

    private static func parse(_ bytes: some Collection<UInt8>) throws(JSONValueError) -> JSONValue {
        // Most stored documents are empty; they need no parser, nor a copy of their bytes.
        if bytes.count == 2, bytes.first == UInt8(ascii: "{"), bytes.dropFirst().first == UInt8(ascii: "}") {
            return .object([:])
        }
        return try JSONParser.parse(Array(bytes))
    }

    /// The canonical text: keys sorted, no insignificant white space. Two equal documents
    /// always have the same canonical text, which is what idempotency keys compare. Written by
    /// hand, as bytes (a String grows by small appends far more slowly): it runs for every
    /// event and job on the hot path.
    public var canonicalText: String {
        // Most job's arguments are empty; their text needs no buffer.
        if case .object(let fields) = self, fields.isEmpty { return "{}" }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        write(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func write(to bytes: inout [UInt8]) {
        switch self {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): Self.writeInteger(value, to: &bytes)
        case .double(let value):
            let text = value.isFinite ? (value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)") : "null"
            bytes.append(contentsOf: text.utf8)
        case .string(let value): Self.writeString(value, to: &bytes)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                value.write(to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let fields):
            bytes.append(UInt8(ascii: "{"))
            // Sorted as pairs: looking each value up again by its key would hash every key twice more.
            for (index, field) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.writeString(field.key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                field.value.write(to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Digits straight into the buffer, without a String for each number.
    static func writeInteger(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }

    /// Every byte of a multi-byte UTF-8 sequence is 0x80 or more, so only ASCII bytes are
    /// ever escaped. The runs between them are copied whole: a nested document, such as an
    /// event's data inside a batch of events, is mostly such runs between its quotes.
    static func writeString(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            var runStart = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: utf8[runStart..<index])
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(contentsOf: "u00".utf8)
                    bytes.append(hexDigits[Int(byte >> 4)])
                    bytes.append(hexDigits[Int(byte & 0xF)])
                }
            }
            bytes.append(contentsOf: utf8[runStart...])
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Decodes the document into a typed value, e.g. a job kind's arguments.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try T(from: JSONValueDecoder(value: self, codingPath: []))
    }

    /// Decodes like ``decode(_:)``, and throws ``UnknownField`` for a field of an object that
    /// the type never asked about.
    ///
    /// A missing field beside an unknown one within two edits of its name is that field
    /// misspelt (`{"msx": 5}` for `ms`), and is reported as the unknown field.
    public func decodeStrictly<T: Decodable>(_ type: T.Type) throws -> T {
        let reads = FieldReads()
        let value: T
        do {
            value = try T(from: JSONValueDecoder(value: self, codingPath: [], reads: reads))
        } catch DecodingError.keyNotFound(let key, let context) {
            if let unknown = reads.firstUnknown(), let name = unknown.codingPath.last?.stringValue,
               unknown.codingPath.dropLast().map(\.stringValue) == context.codingPath.map(\.stringValue),
               EditDistance.between(name, key.stringValue) <= 2
            {
                throw UnknownField(path: unknown.codingPath, known: unknown.known, standsFor: key.stringValue)
            }
            throw DecodingError.keyNotFound(key, context)
        }
        if let unknown = reads.firstUnknown() { throw unknown }
        return value
    }

    /// The document of an encodable value, in Lifeline's dialect (times as text).
    public init<T: Encodable>(encoding value: T) throws {
        self = try JSONValue(parsing: LifelineJSON.encoder().encode(value))
    }
}

public enum JSONValueError: Error, CustomStringConvertible, Equatable {
    /// The text is not JSON: what is wrong, and where (lines and columns count from 1).
    case syntax(line: Int, column: Int, message: String)

    public var description: String {
        switch self {
        case .syntax(let line, let column, let message): "invalid JSON at line \(line), column \(column): \(message)"
        }
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByBooleanLiteral
{
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
