import Foundation
import Synchronization

/// Reads a database file's header, without opening it through SQLite, to refuse files that
/// are not Lifeline's before anything writes to them.
public enum DatabaseFileCheck {
    /// The descriptor each file was read through, kept open for the life of the process: the
    /// file's POSIX locks belong to the process, and closing any descriptor of it releases them
    /// all, SQLite's included. SQLite holds a shared lock on the file for as long as a
    /// connection is open; without it, the last connection of another process (the `sqlite3`
    /// CLI) would take itself for the last one anywhere, checkpoint, and delete the WAL that
    /// this process goes on writing to. A list, not a dictionary: a process keeps one or two,
    /// and the first dictionary of a key type costs each start a scan of the runtime's
    /// conformance records (about 4% of an `enqueue`'s processor time, by perf).
    private static let descriptors = Mutex<[(file: DatabaseFileIdentity, fd: Int32)]>([])

    /// Throws when the file at `path` must not be opened as a Lifeline database; one of a
    /// newer schema only unless `acceptingNewer` (see ``SQLiteDatabase/openReadOnly(path:acceptingNewer:)``).
    /// Returns the file's status, for a caller that looks at its owner or mode.
    @discardableResult
    static func check(path: String, acceptingNewer: Bool = false) throws(DatabaseOpenError) -> stat {
        // POSIX calls, not FileManager and FileHandle: every command that opens the queue
        // runs this, and Foundation's file types cost more to set up than the read.
        var status = stat()
        let found = stat(path, &status) == 0
        if found {
            if status.st_mode & S_IFMT == S_IFDIR { throw .directory(path: path) }
            if status.st_mode & S_IFMT != S_IFREG { throw .notRegularFile(path: path) }
        }
        guard let fd = descriptor(path) else { throw .unreadable(path: path, reason: String(cString: strerror(errno)).lowercased()) }
        if !found { fstat(fd, &status) }
        var header = [UInt8](repeating: 0, count: 100)
        let count = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 100, 0) }
        if count <= 0 { throw .emptyFile(path: path) }
        guard count == 100, header.prefix(16).elementsEqual("SQLite format 3\0".utf8) else {
            throw .notSQLite(path: path)
        }
        let applicationID = Int32(bitPattern: bigEndian(header, at: 68))
        let userVersion = Int(Int32(bitPattern: bigEndian(header, at: 60)))
        guard applicationID == SchemaMigrations.applicationID else {
            throw .foreign(path: path, applicationID: applicationID)
        }
        guard acceptingNewer || userVersion <= SchemaMigrations.version else {
            throw .newerSchema(path: path, version: userVersion, known: SchemaMigrations.version)
        }
        if shorterThanHeader(header, bytes: Int64(status.st_size)) != nil { try checkLength(path: path, fd: fd) }
        return status
    }

    /// A file cut short (a copy that stopped, a disk's damage) passes the header's checks, and
    /// a read of it, failing, would leave a WAL and its index beside it. Its header says how
    /// many pages it has, when its "valid for" counter matches its change counter (as SQLite
    /// reads it); a WAL with frames may hold pages the file lacks until a checkpoint.
    ///
    /// Looked at again in the order a checkpoint makes them true, the WAL first: a checkpoint
    /// writes the header's page first and the file's end last, and empties the WAL after. A
    /// file that looked short may have been read mid-checkpoint, or its length read before a
    /// checkpoint that its header was read after: one that is truly short stays so.
    private static func checkLength(path: String, fd: Int32) throws(DatabaseOpenError) {
        for look in 1...3 {
            var wal = stat()
            if stat(path + "-wal", &wal) == 0 && wal.st_size > 0 { return }
            var header = [UInt8](repeating: 0, count: 100)
            var status = stat()
            guard header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 100, 0) }) == 100, fstat(fd, &status) == 0,
                  let expected = shorterThanHeader(header, bytes: Int64(status.st_size)) else { return }
            if look == 3 { throw .truncated(path: path, bytes: Int64(status.st_size), expected: expected) }
            usleep(20_000)
        }
    }

    /// The length the header gives the file, if the file is shorter and the header's count is valid.
    private static func shorterThanHeader(_ header: [UInt8], bytes: Int64) -> Int64? {
        let pageSize = Int64(header[16]) << 8 | Int64(header[17])
        let expected = Int64(bigEndian(header, at: 28)) * (pageSize == 1 ? 65536 : pageSize)
        return bigEndian(header, at: 92) == bigEndian(header, at: 24) && expected > bytes ? expected : nil
    }

    /// Why the file at `path` is no longer a Lifeline database (overwritten in place, say),
    /// or nil while it is: a health check's look at the file, which reads served from SQLite's
    /// cache would not notice.
    public static func problem(path: String) -> String? {
        do {
            try check(path: path)
            return nil
        } catch {
            return error.description
        }
    }

    /// A descriptor of the file at `path`: the one kept for it, or a new one, kept from now on.
    private static func descriptor(_ path: String) -> Int32? {
        if let file = DatabaseFileIdentity(path: path), let kept = descriptors.withLock({ $0.first { $0.file == file }?.fd }) {
            return kept
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        // Kept even when another descriptor of the file came first (the file was put back at
        // its path meanwhile): closing this one would release the locks all the same.
        if let file = DatabaseFileIdentity(descriptor: fd) { descriptors.withLock { kept in
            if !kept.contains(where: { $0.file == file }) { kept.append((file, fd)) }
        } }
        return fd
    }

    private static func bigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
