import Foundation

/// Reads a database file's header, without opening it through SQLite, to refuse files that
/// are not Lifeline's before anything writes to them.
enum DatabaseFileCheck {
    /// Throws when the file at `path` must not be opened as a Lifeline database.
    static func check(path: String) throws(DatabaseOpenError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw .directory(path: path)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .cannotCreate(path: path, reason: "the file cannot be read")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 100)) ?? Data()
        if header.isEmpty { throw .emptyFile(path: path) }
        guard header.count == 100, header.prefix(16) == Data("SQLite format 3\0".utf8) else {
            throw .notSQLite(path: path)
        }
        let applicationID = Int32(bitPattern: bigEndian(header, at: 68))
        let userVersion = Int(Int32(bitPattern: bigEndian(header, at: 60)))
        guard applicationID == SchemaMigrations.applicationID else {
            throw .foreign(path: path, applicationID: applicationID)
        }
        guard userVersion <= SchemaMigrations.version else {
            throw .newerSchema(path: path, version: userVersion, known: SchemaMigrations.version)
        }
    }

    private static func bigEndian(_ data: Data, at offset: Int) -> UInt32 {
        data[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
