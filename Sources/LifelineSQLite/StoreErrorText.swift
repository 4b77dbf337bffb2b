import GRDB
import LifelineQueue

/// One line for a storage error, without SQL or GRDB's wording, for people at a terminal.
public enum StoreErrorText {
    /// The message of a SQLite error, or nil for errors of other kinds.
    public static func describe(_ error: any Error) -> String? {
        guard let error = error as? DatabaseError else { return nil }
        // The WAL's shared-memory index could not grow: on a full disk (a tmpfs, where it is
        // written as a file), SQLite says an I/O error where a write would say the disk is full.
        if error.extendedResultCode == .SQLITE_IOERR_SHMSIZE { return describe(DatabaseError(resultCode: .SQLITE_FULL)) }
        switch error.resultCode {
        case .SQLITE_FULL: return "the disk is full: free some space and try again (nothing was written)"
        case .SQLITE_READONLY: return "the database is read-only here (nothing was written)"
        case .SQLITE_BUSY, .SQLITE_LOCKED: return DatabaseLocked().description
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: return "the database file is damaged: \(error.message ?? "corrupt")"
        default: return "database error: \(error.message ?? "\(error.resultCode)")"
        }
    }
}

extension StoreErrorText {
    /// Whether `error` says the database file itself is damaged, which no retry mends.
    public static func isDamage(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB
    }
}

/// SQLite's own lock held past the lock timeout by a process that is no Lifeline writer (the
/// `sqlite3` CLI, a backup tool): a ``StoreBusy``, said by the API as by the CLI, like the
/// writer lock's timeout.
public struct DatabaseLocked: StoreBusy {
    public var description: String {
        "the database stayed locked by another process for longer than the lock timeout (LIFELINE_LOCK_TIMEOUT); try again"
    }
}
