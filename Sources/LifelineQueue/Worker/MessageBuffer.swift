/// The bytes read from one end of a pool's socket, cut into ``RunnerMessage``s as their
/// frames complete (a read may end inside a frame).
struct MessageBuffer {
    /// A longer frame is garbage, not a message (a job's arguments are capped at 1 MiB).
    private static let largestFrame = 1 << 30
    private var pending: [UInt8] = []

    /// Adds what was read; returns the messages it completed, and what was unreadable after
    /// them (the other end is then not to be trusted with anything more).
    mutating func add(_ bytes: UnsafeRawBufferPointer) -> (messages: [RunnerMessage], malformed: FrameReader.Malformed?) {
        pending.append(contentsOf: bytes)
        var start = pending.startIndex
        var messages: [RunnerMessage] = []
        defer { pending.removeSubrange(..<start) }
        while let length = FrameReader.length(in: pending, at: start) {
            guard length <= Self.largestFrame else { return (messages, FrameReader.Malformed(reason: "a frame of \(length) bytes")) }
            guard pending.count - start - 4 >= length else { break }
            do {
                messages.append(try RunnerMessage(frame: pending[start + 4..<start + 4 + length]))
            } catch {
                return (messages, error)
            }
            start += 4 + length
        }
        return (messages, nil)
    }
}
