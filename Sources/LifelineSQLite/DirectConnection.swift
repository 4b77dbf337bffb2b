import GRDB
import GRDBSQLite

/// A connection to an existing database file through SQLite's C API alone, with Lifeline's
/// busy handler (``BusyWait``), and its statements cached by their SQL: for a command that
/// writes once and exits (``DirectInsert``, which sets the WAL and sync settings of
/// Lifeline's connections), where GRDB's connection set-up costs more than the write. GRDB's
/// own defaults (foreign keys on, extended result codes) are not set: the schema has no
/// foreign keys, and errors are told apart by their primary code.
final class DirectConnection: StatementSource {
    let connectionHandle: OpaquePointer
    /// A list, not a dictionary: a one-job write prepares a handful, and the first dictionary
    /// keyed by `String` costs a process a scan of every conformance record in the binary
    /// (see ``JobRegistry``).
    private var statements: [(sql: String, handle: OpaquePointer)] = []

    /// Opens the file at `path` for reading and writing; nil when SQLite cannot (it creates
    /// nothing).
    init?(path: String, lockTimeout: Duration) {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(SQLiteDatabase.fileName(path), &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let handle else {
            sqlite3_close_v2(handle)
            return nil
        }
        connectionHandle = handle
        BusyWait.install(on: handle, timeout: lockTimeout)
    }

    func preparedStatement(_ sql: String) throws -> (handle: OpaquePointer, owner: AnyObject?) {
        if let cached = statements.first(where: { $0.sql == sql }) { return (cached.handle, nil) }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(connectionHandle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw DatabaseError.last(code, of: connectionHandle, sql: sql) }
        statements.append((sql, statement))
        return (statement, nil)
    }

    /// Finalizes the statements and closes the connection; the last connection to close
    /// checkpoints the WAL file and empties it.
    func close() {
        for statement in statements { sqlite3_finalize(statement.handle) }
        statements = []
        sqlite3_close_v2(connectionHandle)
    }
}
