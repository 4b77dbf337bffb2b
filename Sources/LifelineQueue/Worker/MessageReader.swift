#if canImport(Glibc)
import Glibc
#endif

/// Reads one end of a pool's socket and cuts what it reads into ``RunnerMessage``s as their
/// frames complete (a read may end inside a frame).
struct MessageReader {
    static let otherEndClosed = "the other end closed the channel"
    /// A longer frame is garbage, not a message (a job's arguments are capped at 1 MiB).
    private static let largestFrame = 1 << 30
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 65536)
    private var pending: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
    }

    /// Reads what the socket has (call it once `poll` says there is something), appends the
    /// messages completed to `messages`, and returns why the other end is done with, if it is:
    /// it closed the socket, or sent something unreadable after those messages. The caller
    /// keeps `messages` from read to read: its room is made once, not at every batch.
    mutating func read(appendingTo messages: inout [RunnerMessage]) -> String? {
        read { messages.append($0) }
    }

    /// Reads what the socket has, as ``read(appendingTo:)`` does, handing each message to
    /// `each` as its frame completes: a message kept in an array is copied out of it to be
    /// handled, each of its job's strings retained and released again.
    mutating func read(_ each: (consuming RunnerMessage) -> Void) -> String? {
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { return nil }
        guard count > 0 else { return Self.otherEndClosed }
        pending += buffer[..<count]
        var start = 0
        defer { pending.removeSubrange(..<start) }
        return pending.withUnsafeBytes { pending -> String? in
            while let length = FrameReader.length(in: pending, at: start) {
                guard length <= Self.largestFrame else { return "\(FrameReader.Malformed(reason: "a frame of \(length) bytes"))" }
                guard pending.count - start - 4 >= length else { break }
                let message: RunnerMessage
                do {
                    message = try RunnerMessage(frame: UnsafeRawBufferPointer(rebasing: pending[start + 4..<start + 4 + length]))
                } catch {
                    return "\(error)"
                }
                start += 4 + length
                each(message)
            }
            return nil
        }
    }
}
