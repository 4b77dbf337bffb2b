/// The bytes of one message between a pool's writer and a runner process: its length (four
/// bytes), then fixed-width integers and length-prefixed strings, all little-endian. Both ends
/// are the same binary, so the format needs no version. Writing and reading it copies bytes;
/// JSON text, which it replaced, cost the writer more per attempt than a no-op handler.
struct FrameWriter {
    /// Where a frame's fields are gathered before they join the queue, a few at a time: an
    /// append to an array costs more than the copy of the few bytes it appends, and a frame has
    /// some thirty fields.
    private static let scratchSize = 512

    private var bytes: [UInt8]
    private let scratch: UnsafeMutableBufferPointer<UInt8>
    /// How much of `scratch` holds fields not yet appended to `bytes`.
    private var used = 0

    /// Appends one frame to `bytes` (frames are written where they are queued, not each into
    /// an array of its own and then copied), its fields written by `body`, its length first.
    static func append(to bytes: inout [UInt8], _ body: (inout FrameWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: scratchSize) { scratch in
            var writer = FrameWriter(scratch: scratch)
            // The queue is taken, not copied, while the frame is written.
            swap(&writer.bytes, &bytes)
            let start = writer.bytes.count
            writer.int32(0)
            body(&writer)
            writer.flush()
            let length = UInt32(writer.bytes.count - start - 4).littleEndian
            withUnsafeBytes(of: length) { length in
                for index in 0..<4 { writer.bytes[start + index] = length[index] }
            }
            swap(&writer.bytes, &bytes)
        }
    }

    private init(scratch: UnsafeMutableBufferPointer<UInt8>) {
        bytes = []
        self.scratch = scratch
    }

    /// Appends what was gathered to the queue.
    private mutating func flush() {
        guard used > 0 else { return }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[..<used]))
        used = 0
    }

    private mutating func store<T: FixedWidthInteger>(_ value: T) {
        if scratch.count - used < MemoryLayout<T>.size { flush() }
        UnsafeMutableRawBufferPointer(scratch).storeBytes(of: value.littleEndian, toByteOffset: used, as: T.self)
        used += MemoryLayout<T>.size
    }

    mutating func byte(_ value: UInt8) {
        store(value)
    }

    mutating func int(_ value: Int64) {
        store(value)
    }

    private mutating func int32(_ value: UInt32) {
        store(value)
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
            if scratch.count - used < utf8.count { flush() }
            // One too long for the scratch goes straight to the queue.
            if utf8.count > scratch.count {
                bytes.append(contentsOf: utf8)
            } else if let source = utf8.baseAddress {
                (scratch.baseAddress! + used).update(from: source, count: utf8.count)
                used += utf8.count
            }
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
