#if canImport(Glibc)
import Glibc
#endif

/// Which file a path names (device and inode). A worker compares it with the file it opened,
/// to notice a database deleted or replaced under it instead of working on a ghost.
public struct DatabaseFileIdentity: Sendable, Hashable {
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now; `nil` when there is none.
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    /// The file open on `descriptor`.
    init?(descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        self.init(info)
    }

    private init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
