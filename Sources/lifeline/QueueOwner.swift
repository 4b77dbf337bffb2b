import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A queue's files belong to one user, the one whose commands write to it. A write by
/// another user (root, in practice: no one else can write into an owner-only home) would
/// leave files the owner can no longer open, and would follow any link the owner made in
/// place of a disk image or a lock: root's worker wrote a disk through such a link into a
/// file of root's. Refused before anything is opened; reads are not.
enum QueueOwner {
    /// Refuses the write unless `path` (the database, or where it will be made, or the home
    /// under which stages keep their files) is missing or belongs to this process's user.
    static func check(_ path: String) throws {
        var info = stat()
        let me = geteuid()
        guard stat(path, &info) == 0, info.st_uid != me else { return }
        let owner = name(info.st_uid)
        let (them, you) = (owner ?? "user id \(info.st_uid)", name(me) ?? "user id \(me)")
        let how = owner.map { " (runuser -u \($0) -- lifeline …)" } ?? ""
        throw CLIFailure(.runtime, "\(path) belongs to \(them), not \(you): run commands that write to it as \(them)\(how), so that its files stay theirs")
    }

    /// A database's file, or when it does not exist yet, the directory it will be made in.
    static func checkDatabase(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try check(FileManager.default.fileExists(atPath: path) ? path : directory.isEmpty ? "." : directory)
    }

    private static func name(_ uid: uid_t) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
