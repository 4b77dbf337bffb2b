import Foundation

/// The PostgreSQL server tests run against: `LIFELINE_TEST_POSTGRES_URL`, set by
/// `Scripts/postgres.sh`, with its password in `PGPASSWORD`. Tests that need it are enabled
/// only when it is set, so they show as skipped elsewhere.
public enum TestPostgres {
    public static var url: String? {
        ProcessInfo.processInfo.environment["LIFELINE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var available: Bool { url != nil }

    /// The URL of a new, empty database on the test server, for one test.
    public static func freshDatabase() async throws -> String {
        guard let url, let slash = url.lastIndex(of: "/") else { throw TestPostgresError(message: "LIFELINE_TEST_POSTGRES_URL is not set") }
        let name = "lifeline_test_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await psql(url, "CREATE DATABASE \(name)")
        return String(url[...slash]) + name
    }

    /// Runs one SQL command with `psql` against `url`, and returns what it prints, unaligned
    /// and without headers.
    @discardableResult
    public static func psql(_ url: String, _ sql: String) async throws -> String {
        let arguments = ["psql", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]
        let psql = try await BackgroundCommand.run("/usr/bin/env", arguments, environment: ProcessInfo.processInfo.environment)
        guard psql.terminationStatus == 0 else { throw TestPostgresError(message: "psql failed: \(psql.stderr)") }
        return psql.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
