/// The bytes of one message between a pool's writer and a runner process: its length (four
/// bytes), then fixed-width integers and length-prefixed strings, all little-endian. Both ends
/// are the same binary, so the format needs no version. Writing and reading it copies bytes;
/// JSON text, which it replaced, cost the writer more per attempt than a no-op handler.
struct FrameWriter {
    private var bytes: [UInt8]
    /// Where the frame's length goes.
    private let start: Int

    /// Starts a frame at the end of `bytes`, which it takes until ``finish(into:)``: frames
    /// are written where they are queued, not each into an array of its own and then copied.
    /// (No room is reserved: reserving exactly what a frame needs after those queued before it
    /// would copy the queue at every frame, where appending grows it by doubling.)
    init(appendingTo bytes: inout [UInt8]) {
        self.bytes = []
        swap(&self.bytes, &bytes)
        start = self.bytes.count
        int32(0)
    }

    /// Fills in the frame's length, and gives the bytes back to `bytes`.
    mutating func finish(into bytes: inout [UInt8]) {
        let length = UInt32(self.bytes.count - start - 4).littleEndian
        withUnsafeBytes(of: length) { length in
            for index in 0..<4 { self.bytes[start + index] = length[index] }
        }
        swap(&self.bytes, &bytes)
    }

    mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func int(_ value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { append($0) }
    }

    private mutating func int32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { append($0) }
    }

    /// As typed bytes, which are appended with one copy (raw ones go byte by byte).
    private mutating func append(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw.assumingMemoryBound(to: UInt8.self))
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
            int32(UInt32(utf8.count))
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

/// Reads the fields of one frame (without its length) in the order they were written, from
/// bytes valid while it reads (see ``RunnerMessage/init(frame:)``).
struct FrameReader {
    struct Malformed: Error, CustomStringConvertible {
        var reason: String
        var description: String { "malformed message from the other end of a pool: \(reason)" }
    }

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The length of the frame that starts at `start`, if its four length bytes are there.
    static func length(in bytes: UnsafeRawBufferPointer, at start: Int) -> Int? {
        guard bytes.count - start >= 4 else { return nil }
        return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
    }

    var isAtEnd: Bool { index == bytes.count }

    /// Where the next `count` bytes start; they are read past.
    private mutating func take(_ count: Int) throws(Malformed) -> Int {
        guard count >= 0, bytes.count - index >= count else { throw Malformed(reason: "it ends inside a field") }
        defer { index += count }
        return index
    }

    mutating func byte() throws(Malformed) -> UInt8 {
        bytes[try take(1)]
    }

    mutating func int() throws(Malformed) -> Int64 {
        Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8), as: Int64.self))
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
        let count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)))
        let start = try take(count)
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<start + count]).assumingMemoryBound(to: UInt8.self), as: UTF8.self)
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
