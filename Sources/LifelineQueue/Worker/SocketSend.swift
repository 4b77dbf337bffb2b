#if canImport(Glibc)
import Glibc
#endif

/// MSG_NOSIGNAL throughout: a process whose other end died must not die of SIGPIPE.
enum SocketSend {
    /// Sends all of `bytes` on the stream socket `fd`, waiting for room; false once the other
    /// end is gone.
    static func all(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var rest = bytes
        return send(&rest, to: fd, flags: Int32(MSG_NOSIGNAL))
    }

    /// Sends what the socket has room for now, and takes it off the front of `bytes`; false
    /// once the other end is gone.
    static func some(_ bytes: inout [UInt8], to fd: Int32) -> Bool {
        send(&bytes, to: fd, flags: Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
    }

    /// Sends until `bytes` is empty or, with MSG_DONTWAIT, until the socket has no room.
    private static func send(_ bytes: inout [UInt8], to fd: Int32, flags: Int32) -> Bool {
        var offset = 0
        defer { bytes.removeFirst(offset) }
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, flags) }
            if written < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
            offset += written
        }
        return true
    }
}
