import Foundation
import PostgresNIO

/// Brings the `lifeline` schema up to date through its frozen migrations
/// (``PostgresMigrations``), with the version in `lifeline.schema_version`. Processes that
/// start at once take turns through an advisory lock.
enum PostgresSchema {
    static let migrations = PostgresMigrations.all

    static var version: Int { migrations.count }

    /// The key of the advisory lock that serializes migrations.
    private static let migrationLock: Int64 = 0x4C46_4C4E_0001

    /// The database's schema version: 0 when it has no Lifeline tables.
    static func currentVersion(_ connection: BlockingConnection) throws -> Int {
        let exists = try connection.query("SELECT to_regclass('lifeline.schema_version') IS NOT NULL").first?.decode(Bool.self) ?? false
        guard exists else { return 0 }
        return try connection.query("SELECT version FROM lifeline.schema_version").first?.decode(Int.self) ?? 0
    }

    /// Brings the schema up to date; a newer one is refused untouched. Each migration commits
    /// on its own, unless `withinTransaction`: then all of them go into the transaction the
    /// connection is in, and stand or fall with it (a copy into an empty database that fails
    /// leaves no schema behind).
    static func migrate(_ connection: BlockingConnection, withinTransaction: Bool = false) throws {
        guard try pending(connection) > 0 else { return }
        if withinTransaction {
            // Held until the transaction ends.
            try connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))")
            return try apply(connection) { try $0() }
        }
        try connection.query("SELECT pg_advisory_lock(\(migrationLock))")
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(migrationLock))") }
        try apply(connection) { migration in
            try connection.query("BEGIN")
            do {
                try migration()
                try connection.query("COMMIT")
            } catch {
                _ = try? connection.query("ROLLBACK")
                throw error
            }
        }
    }

    /// How many migrations the database lacks; a newer schema is refused.
    private static func pending(_ connection: BlockingConnection) throws -> Int {
        let found = try currentVersion(connection)
        guard found <= version else {
            throw PostgresStoreError.newerSchema(connection.location.description, version: found, known: version)
        }
        return version - found
    }

    /// Runs each migration the database lacks, as `each` wraps it (in a transaction of its own,
    /// or not). Looked up under the lock: another process may have migrated while this one
    /// waited for it.
    private static func apply(_ connection: BlockingConnection, each: (() throws -> Void) throws -> Void) throws {
        for (index, migration) in migrations.enumerated().suffix(try pending(connection)) {
            try each {
                for statement in statements(migration) { try connection.query(PostgresQuery(unsafeSQL: statement)) }
                try connection.query("UPDATE lifeline.schema_version SET version = \(index + 1)")
            }
        }
    }

    /// A migration's statements: the extended protocol runs one at a time. Each ends with a
    /// semicolon at the end of a line; inside a `$$`-quoted function body, such a semicolon
    /// ends a statement of the function instead.
    static func statements(_ migration: String) -> [String] {
        var statements: [String] = []
        var current = ""
        for (index, part) in migration.components(separatedBy: "$$").enumerated() {
            if index > 0 { current += "$$" }
            guard index.isMultiple(of: 2) else {
                current += part
                continue
            }
            var pieces = part.components(separatedBy: ";\n")
            current += pieces.removeFirst()
            for piece in pieces {
                statements.append(current)
                current = piece
            }
        }
        statements.append(current)
        return statements.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}
