import Foundation
import LifelineQueue

/// A queue's files belong to one user, the one whose commands write to it. A write by root
/// to another user's queue (no one else can write into an owner-only home) would leave files
/// the owner can no longer open, and would follow any link the owner made in place of a disk
/// image or a lock: root's worker wrote a disk through such a link into a file of root's.
/// Refused before anything is opened; reads are not. Other users are left to the file
/// modes: a home such as /tmp, root's, is not refused to them.
enum QueueOwner {
    /// ``check(_:)`` of a database file and of the directory it is in: one of root's in another
    /// user's directory is theirs to replace, by a link as well, and root's files made beside
    /// it (its WAL, its index, its lock) would be left there for them.
    /// The directory's name is worked out only for root, whose writes alone are refused.
    /// A directory yet to be made is checked as the one it would be made in.
    static func check(database path: String, in directory: @autoclosure () -> String) throws {
        guard geteuid() == 0 else { return }
        try check(path)
        var existing = directory()
        var info = stat()
        while !["/", ".", ""].contains(existing), lstat(existing, &info) != 0, errno == ENOENT {
            existing = PathText.directory(of: existing)
        }
        try check(existing.isEmpty ? "." : existing)
    }

    /// Refuses root's write unless `path` (the database, or the home under which stages keep
    /// their files) is missing or root's. A new database is its maker's. A link is its
    /// maker's too: one another user made is not written through, wherever it points.
    static func check(_ path: String) throws {
        guard geteuid() == 0 else { return }
        var link = stat(), file = stat()
        let uid = lstat(path, &link) == 0 && link.st_uid != 0 ? link.st_uid : stat(path, &file) == 0 ? file.st_uid : 0
        guard uid != 0 else { return }
        let owner = name(uid)
        let them = owner ?? "user id \(uid)"
        let how = owner.map { " (runuser -u \($0) -- lifeline …)" } ?? ""
        throw CLIFailure(
            .runtime, "\(path) belongs to \(them), not root: run commands that write to it as \(them)\(how), so that its files stay theirs",
            cause: Refusal()
        )
    }

    /// The cause of the refusal, for a caller that reads instead.
    struct Refusal: Error {}

    private static func name(_ uid: uid_t) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
