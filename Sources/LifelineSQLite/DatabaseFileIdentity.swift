#if canImport(Glibc)
import Glibc
#endif

/// Which file a path names (device and inode). A worker compares it with the file it opened,
/// to notice a database deleted or replaced under it instead of working on a ghost.
public struct DatabaseFileIdentity: Sendable, Equatable {
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now; `nil` when there is none.
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
