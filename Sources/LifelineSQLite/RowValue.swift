import GRDB

extension Row {
    /// The column's value. One that does not fit its type (NULL where the schema forbids it)
    /// can only come of a damaged file: it throws as SQLite's own corruption errors do, where
    /// GRDB's subscript would stop the process.
    func value<Value: DatabaseValueConvertible & StatementColumnConvertible>(_ column: String) throws -> Value {
        do {
            return try decode(Value.self, forColumn: column)
        } catch {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "column \(column) holds a value its type forbids")
        }
    }

    /// The value at `index`, as ``value(_:)``.
    func value<Value: DatabaseValueConvertible & StatementColumnConvertible>(at index: Int) throws -> Value {
        do {
            return try decode(Value.self, atIndex: index)
        } catch {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "column \(index) holds a value its type forbids")
        }
    }
}
