/// Decodes a typed value, such as a job kind's arguments, straight from a ``JSONValue``.
/// Going through text and `JSONDecoder` instead cost a batch enqueue a tenth of its time:
/// arguments are checked at every enqueue and decoded again at every run. It throws the
/// errors `JSONDecoder` throws for the same document, at the same coding paths, so messages
/// built from them read the same; a number that does not fit is the one exception (below).
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    /// Set when decoding strictly: the objects opened, and the fields asked about.
    var reads: FieldReads? = nil
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let fields) = value else { throw mismatch([String: Any].self) }
        let object = reads?.opened(fields, at: codingPath)
        return KeyedDecodingContainer(KeyedContainer(fields: fields, codingPath: codingPath, reads: reads, object: object))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([Any].self) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath, reads: reads)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    /// What `JSONDecoder` throws when the value is not of the type asked for.
    fileprivate func mismatch(_ type: Any.Type) -> DecodingError {
        if value == .null {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "Expected to decode \(type) but found \(value.kindName) instead."))
    }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let exact: T?
        switch value {
        case .int(let number): exact = T(exactly: number)
        case .double(let number): exact = T(exactly: number)
        default: throw mismatch(type)
        }
        // JSONDecoder calls the whole document invalid here; the field and the range say more.
        guard let exact else {
            let whole = if case .double(let number) = value { number.rounded() == number } else { true }
            let why = whole ? "is out of range (\(T.min) to \(T.max))" : "is not a whole number"
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(value.canonicalText) \(why)"))
        }
        return exact
    }

    private func floatingPoint<T: BinaryFloatingPoint>(_ type: T.Type) throws -> T {
        switch value {
        case .int(let number): T(number)
        case .double(let number): T(number)
        default: throw mismatch(type)
        }
    }
}

extension JSONValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let flag) = value else { throw mismatch(type) }
        return flag
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let text) = value else { throw mismatch(type) }
        return text
    }

    func decode(_ type: Double.Type) throws -> Double { try floatingPoint(type) }
    func decode(_ type: Float.Type) throws -> Float { try floatingPoint(type) }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard let reads else { return try T(from: self) }
        // A value that fails may be caught and replaced (`try?`): what its objects asked for
        // says nothing of the document's fields.
        let mark = reads.mark
        do {
            return try T(from: self)
        } catch {
            reads.forget(since: mark)
            throw error
        }
    }
}

/// A key of an array element or of `super`, as `JSONDecoder` names them in coding paths.
private struct PathKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }

    init(intValue: Int) {
        stringValue = "Index \(intValue)"
        self.intValue = intValue
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [String: JSONValue]
    let codingPath: [any CodingKey]
    let reads: FieldReads?
    /// This container's record among `reads`.
    let object: FieldReads.Object?

    /// A type that lists the keys (a dictionary) takes every field that is one of its keys.
    var allKeys: [Key] {
        let keys = fields.keys.compactMap { Key(stringValue: $0) }
        object?.asked += keys.map(\.stringValue)
        return keys
    }

    func contains(_ key: Key) -> Bool {
        object?.asked.append(key.stringValue)
        return fields[key.stringValue] != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool { try decoder(for: key).decodeNil() }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decoder(for: key).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder(for: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(for: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        object?.asked.append("super")
        return JSONValueDecoder(value: fields["super"] ?? .null, codingPath: codingPath + [PathKey(stringValue: "super")], reads: reads)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        object?.asked.append(key.stringValue)
        return JSONValueDecoder(value: fields[key.stringValue] ?? .null, codingPath: codingPath + [key], reads: reads)
    }

    private func decoder(for key: Key) throws -> JSONValueDecoder {
        object?.asked.append(key.stringValue)
        guard let value = fields[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return JSONValueDecoder(value: value, codingPath: codingPath + [key], reads: reads)
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    let reads: FieldReads?
    private(set) var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey], reads: FieldReads?) {
        self.elements = elements
        self.codingPath = codingPath
        self.reads = reads
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func decodeNil() throws -> Bool {
        guard try next(Never?.self).decodeNil() else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try next(type).decode(type)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try next(KeyedDecodingContainer<NestedKey>.self).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try next((any UnkeyedDecodingContainer).self).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = try next((any Decoder).self)
        currentIndex += 1
        return decoder
    }

    /// The decoder of the element at the current index, which the caller passes once it has read it.
    private func next(_ type: Any.Type) throws -> JSONValueDecoder {
        let path = codingPath + [PathKey(intValue: currentIndex)]
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Unkeyed container is at end."))
        }
        return JSONValueDecoder(value: elements[currentIndex], codingPath: path, reads: reads)
    }
}

/// The fields of each object a strict decoding opened, and those its type asked about
/// (whether or not they were there): the others are fields the type does not know. Each
/// container opened has a record; an object opened twice is judged by both together. Kept in
/// arrays, not sets or dictionaries keyed by text: a document has a few objects of a few
/// fields, and the first such generic type a process makes costs a one-job enqueue a third
/// more instructions (the runtime looks up its conformances).
final class FieldReads {
    final class Object {
        let path: [any CodingKey]
        let fields: [String: JSONValue]
        var asked: [String] = []

        init(path: [any CodingKey], fields: [String: JSONValue]) {
            self.path = path
            self.fields = fields
        }
    }

    private var objects: [Object] = []

    func opened(_ fields: [String: JSONValue], at path: [any CodingKey]) -> Object {
        let object = Object(path: path, fields: fields)
        objects.append(object)
        return object
    }

    var mark: Int { objects.count }

    /// Drops the records of the objects opened since `mark`.
    func forget(since mark: Int) {
        objects.removeSubrange(mark...)
    }

    /// The first field no type asked about, by the path of its object, then by name.
    func firstUnknown() -> UnknownField? {
        let ordered = objects.sorted { Self.precedes($0.path, $1.path) }
        var start = 0
        while start < ordered.count {
            var end = start + 1
            while end < ordered.count, Self.same(ordered[end].path, ordered[start].path) { end += 1 }
            let group = ordered[start..<end]
            let asked = group.flatMap(\.asked).sorted()
            // Both sorted: one pass finds the first field that was never asked about.
            var candidate = 0
            for field in group.flatMap(\.fields.keys).sorted() {
                while candidate < asked.count, asked[candidate] < field { candidate += 1 }
                if candidate == asked.count || asked[candidate] != field {
                    var known: [String] = []
                    for name in asked where known.last != name { known.append(name) }
                    return UnknownField(path: group.first!.path + [PathKey(stringValue: field)], known: known)
                }
            }
            start = end
        }
        return nil
    }

    /// Paths in document order: an array's elements by index, an object's fields by name.
    private static func precedes(_ left: [any CodingKey], _ right: [any CodingKey]) -> Bool {
        for (a, b) in zip(left, right) {
            if let i = a.intValue, let j = b.intValue, i != j { return i < j }
            if a.stringValue != b.stringValue { return a.stringValue < b.stringValue }
        }
        return left.count < right.count
    }

    private static func same(_ left: [any CodingKey], _ right: [any CodingKey]) -> Bool {
        left.count == right.count && zip(left, right).allSatisfy { $0.stringValue == $1.stringValue }
    }
}

/// A field of a document that the type decoded from it does not have: a misspelt name, or
/// one of another version.
public struct UnknownField: Error {
    /// Where it is, its own name last.
    public let codingPath: [any CodingKey]
    /// The names the type asked about in the same object.
    public let known: [String]
    /// The field it stands for, misspelt: one the type needs and found missing beside it. The
    /// type asks for its fields one by one and stops at the missing one, so `known` is not
    /// all of them then.
    public let standsFor: String?

    init(path: [any CodingKey], known: [String], standsFor: String? = nil) {
        codingPath = path
        self.known = known
        self.standsFor = standsFor
    }
}

extension JSONValue {
    /// The kind of value, as `JSONDecoder`'s messages name it.
    fileprivate var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "bool"
        case .int, .double: "number"
        case .string: "a string"
        case .array: "an array"
        case .object: "a dictionary"
        }
    }
}
