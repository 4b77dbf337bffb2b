/// The bytes of one message between a pool's writer and a runner process: its length (four
/// bytes), then fixed-width integers and length-prefixed strings, all little-endian. Both ends
/// are the same binary, so the format needs no version. Writing and reading it copies bytes;
/// JSON text, which it replaced, cost the writer more per attempt than a no-op handler.
struct FrameWriter {
    private var bytes: [UInt8]

    init() {
        bytes = [0, 0, 0, 0]
        bytes.reserveCapacity(256)
    }

    /// The frame, its length filled in.
    mutating func finish() -> [UInt8] {
        withUnsafeBytes(of: UInt32(bytes.count - 4).littleEndian) { length in
            for index in 0..<4 { bytes[index] = length[index] }
        }
        return bytes
    }

    mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func int(_ value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func double(_ value: Double) {
        int(Int64(bitPattern: value.bitPattern))
    }

    mutating func bool(_ value: Bool) {
        byte(value ? 1 : 0)
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
    }

    /// A document as its canonical text.
    mutating func json(_ value: JSONValue) {
        string(value.canonicalText)
    }

    /// A presence byte, then the value if there is one.
    mutating func optional<T>(_ value: T?, _ write: (inout FrameWriter, T) -> Void) {
        bool(value != nil)
        if let value { write(&self, value) }
    }
}

/// Reads the fields of one frame (without its length) in the order they were written.
struct FrameReader {
    struct Malformed: Error, CustomStringConvertible {
        var reason: String
        var description: String { "malformed message from the other end of a pool: \(reason)" }
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    /// The length of the frame that starts at `start`, if its four length bytes are there.
    static func length(in bytes: [UInt8], at start: Int) -> Int? {
        guard bytes.count - start >= 4 else { return nil }
        return Int(bytes[start..<start + 4].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
    }

    var isAtEnd: Bool { index == bytes.endIndex }

    private mutating func take(_ count: Int) throws(Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.endIndex - index >= count else { throw Malformed(reason: "it ends inside a field") }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func byte() throws(Malformed) -> UInt8 {
        try take(1).first!
    }

    mutating func int() throws(Malformed) -> Int64 {
        try take(8).withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
    }

    mutating func double() throws(Malformed) -> Double {
        Double(bitPattern: UInt64(bitPattern: try int()))
    }

    mutating func bool() throws(Malformed) -> Bool {
        switch try byte() {
        case 0: false
        case 1: true
        case let other: throw Malformed(reason: "\(other) is not a truth value")
        }
    }

    mutating func string() throws(Malformed) -> String {
        let count = try take(4).withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        return String(decoding: try take(count), as: UTF8.self)
    }

    mutating func json() throws(Malformed) -> JSONValue {
        let text = try string()
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw Malformed(reason: "\(error)")
        }
    }

    /// Whether an optional value follows (see ``FrameWriter/optional(_:_:)``).
    mutating func present() throws(Malformed) -> Bool {
        try bool()
    }
}
