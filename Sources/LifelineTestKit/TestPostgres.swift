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
        try psql(url, "CREATE DATABASE \(name)")
        return String(url[...slash]) + name
    }

    /// Runs one SQL command with `psql` against `url`, and returns what it prints, unaligned
    /// and without headers.
    @discardableResult
    public static func psql(_ url: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]
        let errors = Pipe()
        let output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestPostgresError(message: "psql failed: \(String(decoding: message, as: UTF8.self))")
        }
        return String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
