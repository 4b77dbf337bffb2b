#if canImport(Glibc)
import Glibc
#endif

/// Sending on a pool's sockets, which never waits for room: a side that stops reading
/// (stopped, or starved) must not stop the other.
enum SocketSend {
    /// Sends what the stream socket `fd` has room for now, and takes it off the front of
    /// `bytes`; false once the other end is gone. MSG_NOSIGNAL: a process whose other end
    /// died must not die of SIGPIPE.
    static func some(_ bytes: inout [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        defer { bytes.removeFirst(offset) }
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if written < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
            offset += written
        }
        return true
    }
}
