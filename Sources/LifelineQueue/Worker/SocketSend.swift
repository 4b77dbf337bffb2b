#if canImport(Glibc)
import Glibc
#endif

enum SocketSend {
    /// Sends all of `bytes` on the stream socket `fd`, waiting for room; false once the other
    /// end is gone. MSG_NOSIGNAL: a process whose other end died must not die of SIGPIPE.
    static func all(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Sends what the socket has room for now, and takes it off the front of `bytes`; false
    /// once the other end is gone.
    static func some(_ bytes: inout [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return false
            }
            offset += written
        }
        bytes.removeFirst(offset)
        return true
    }
}
