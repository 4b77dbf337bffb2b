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
}
