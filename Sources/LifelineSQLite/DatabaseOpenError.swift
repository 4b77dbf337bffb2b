/// Why a database file was refused. Each case leaves the file as it was.
public enum DatabaseOpenError: Error, Equatable, CustomStringConvertible {
    case emptyFile(path: String)
    case directory(path: String)
    /// A device, pipe or socket: SQLite would make `/dev/null` another mode, and a pipe's open waits for a writer.
    case notRegularFile(path: String)
    case notSQLite(path: String)
    case foreign(path: String, applicationID: Int32)
    case newerSchema(path: String, version: Int, known: Int)
    case olderSchema(path: String, version: Int, known: Int)
    case sqliteTooOld(found: String, needed: String)
    case cannotCreate(path: String, reason: String)
    /// The file is there to be opened (or was), but cannot be read: gone, or not permitted.
    case unreadable(path: String, reason: String)
    /// Shorter than its header says, with no WAL that could hold the rest: cut off.
    case truncated(path: String, bytes: Int64, expected: Int64)
    /// SQLite's limit on a path, `bytes` long in full (from `/`), passed.
    case pathTooLong(path: String, bytes: Int, limit: Int)

    public var description: String {
        description(flag: "--db")
    }

    /// The message, naming `flag` as the option that gave the path (`store copy`'s `--from`).
    public func description(flag: String) -> String {
        switch self {
        case .emptyFile(let path):
            "\(path) is an empty file, not a Lifeline database; move it away or pass another \(flag)"
        case .directory(let path):
            "\(path) is a directory; \(flag) takes the database file's path (e.g. \(path.hasSuffix("/") ? path : path + "/")lifeline.db)"
        case .notRegularFile(let path):
            "\(path) is not a regular file (a device, pipe or socket); \(flag) takes a database file's path"
        case .notSQLite(let path):
            "\(path) is not a SQLite database; move it away or pass another \(flag)"
        case .foreign(let path, let id):
            "\(path) is a SQLite database of another program (application_id \(id)); refusing to touch it"
        case .newerSchema(let path, let version, let known):
            "\(path) has schema version \(version), newer than this lifeline knows (\(known)); upgrade lifeline"
        case .olderSchema(let path, let version, let known):
            "\(path) has schema version \(version), older than this lifeline's (\(known))"
        case .sqliteTooOld(let found, let needed):
            "SQLite \(found) is too old: lifeline needs \(needed) or newer"
        case .cannotCreate(let path, let reason):
            "cannot create \(path): \(reason)"
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        case .truncated(let path, let bytes, let expected):
            "\(path) is damaged: it holds \(bytes) bytes where its header says \(expected); restore it from a copy or move it away"
        case .pathTooLong(let path, let bytes, let limit):
            "\(path) is too long a path for SQLite: \(bytes) bytes from /, and it takes \(limit) at most; pass a shorter \(flag) or LIFELINE_HOME"
        }
    }
}
