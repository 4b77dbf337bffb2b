import GRDB
import GRDBSQLite

/// A value bound to a statement parameter.
enum SQLValue {
    case int(Int64)
    case double(Double)
    case text(String)
    case null

    static func int(_ value: Int) -> SQLValue { .int(Int64(value)) }
    static func int(_ value: Int64?) -> SQLValue { value.map { .int($0) } ?? .null }
    static func text(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
}

/// Where ``RawStatement`` gets its prepared statements: GRDB's statement cache, or a
/// ``DirectConnection``'s. The code that inserts a job runs on either.
protocol StatementSource {
    /// The connection's handle: its errors, changes and row ids.
    var connectionHandle: OpaquePointer { get }
    /// The prepared statement for `sql`, and what keeps it alive while it is used.
    func preparedStatement(_ sql: String) throws -> (handle: OpaquePointer, owner: AnyObject?)
}

extension StatementSource {
    /// Rows the last statement inserted, changed or deleted.
    var changedRowCount: Int { Int(sqlite3_changes(connectionHandle)) }

    var insertedRowID: Int64 { sqlite3_last_insert_rowid(connectionHandle) }

    /// Runs statements that return no rows, as they are (no cache, no values).
    func exec(_ sql: String) throws {
        let code = sqlite3_exec(connectionHandle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw DatabaseError.last(code, of: connectionHandle, sql: sql) }
    }
}

extension Database: StatementSource {
    var connectionHandle: OpaquePointer { sqliteConnection! }

    func preparedStatement(_ sql: String) throws -> (handle: OpaquePointer, owner: AnyObject?) {
        let statement = try cachedStatement(sql: sql)
        return (statement.sqliteStatement, statement)
    }
}

/// Binding, stepping and reading cached statements straight through SQLite's C API, for the
/// statements run once per job: there GRDB's general argument and row types cost more than
/// the SQL itself. A statement from GRDB's cache is reset by GRDB before its own use.
struct RawStatement {
    let handle: OpaquePointer
    /// Keeps the statement alive while it is used, whatever its cache does.
    private let owner: AnyObject?
    private let connection: OpaquePointer
    private let sql: String

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// The cached statement for `sql`, with `values` bound by position.
    init(_ db: some StatementSource, _ sql: String, _ values: [SQLValue]) throws {
        self.sql = sql
        connection = db.connectionHandle
        (handle, owner) = try db.preparedStatement(sql)
        sqlite3_reset(handle)
        // Every parameter is bound below, so none keeps a value from the last use.
        precondition(Int32(values.count) == sqlite3_bind_parameter_count(handle), "\(values.count) values for the parameters of: \(sql)")
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .int(let number): sqlite3_bind_int64(handle, index, number)
            case .double(let number): sqlite3_bind_double(handle, index, number)
            case .null: sqlite3_bind_null(handle, index)
            case .text(var text):
                text.withUTF8 { bytes in
                    // An empty string has no storage to point at; bind a literal one.
                    guard let base = bytes.baseAddress else { return _ = sqlite3_bind_text(handle, index, "", 0, Self.transient) }
                    _ = sqlite3_bind_text(handle, index, base, Int32(bytes.count), Self.transient)
                }
            }
        }
    }

    /// The cached statement for `sql`, with GRDB's arguments bound.
    init(_ db: Database, _ sql: String, arguments: StatementArguments) throws {
        self.sql = sql
        connection = db.connectionHandle
        let statement = try db.cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        handle = statement.sqliteStatement
        owner = statement
    }

    /// Runs a statement that returns no rows.
    func execute() throws {
        while try step() {}
    }

    /// Advances to the next row; false when there is none (the statement is then reset).
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            sqlite3_reset(handle)
            return false
        case let code:
            let error = DatabaseError.last(code, of: connection, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    func reset() {
        sqlite3_reset(handle)
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// The column's text as bytes, valid until the statement steps again or is reset: for
    /// matching a value without making a `String` of it.
    func utf8(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let bytes = sqlite3_column_text(handle, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column)))
    }
}

extension DatabaseError {
    /// The error a call on `connection` just returned `code` for, with SQLite's message.
    static func last(_ code: Int32, of connection: OpaquePointer, sql: String? = nil) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}
