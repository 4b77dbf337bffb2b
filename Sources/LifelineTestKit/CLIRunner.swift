import Foundation
import LifelineQueue

/// Runs the built `lifeline` binary against a temporary `LIFELINE_HOME`, for end-to-end
/// tests.
public struct CLIRunner: Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String

        public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    public let home: URL
    public let binary: URL
    /// The PostgreSQL queue every command uses (`LIFELINE_DATABASE_URL`); `nil` for SQLite
    /// under the home.
    public let databaseURL: String?

    /// A runner with a fresh, empty home directory, on SQLite unless given a database URL.
    public init(databaseURL: String? = nil) throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("lifeline-test-\(UUID().uuidString)")
        binary = Self.locateBinary()
        self.databaseURL = databaseURL
    }

    public var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["LIFELINE_HOME"] = home.path
        env["LIFELINE_DATABASE_URL"] = databaseURL
        env["NO_COLOR"] = "1"
        return env
    }

    /// The binary beside the test bundle, or `LIFELINE_BIN`.
    public static func locateBinary() -> URL {
        if let path = ProcessInfo.processInfo.environment["LIFELINE_BIN"] { return URL(fileURLWithPath: path) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        // swift test runs .build/<triple>/debug/<Package>PackageTests.xctest.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("lifeline").path),
              directory.path != "/"
        {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("lifeline")
    }

    /// Runs `lifeline ARGS` to its end, with the file `input` on its standard input.
    @discardableResult
    public func run(_ arguments: [String], extraEnvironment: [String: String] = [:], input: String? = nil) async throws -> Result {
        let command = try BackgroundCommand(binary.path, arguments, environment: environment.merging(extraEnvironment) { $1 }, input: input)
        await command.ended()
        return Result(status: command.terminationStatus, stdout: command.stdout, stderr: command.stderr)
    }

    /// Starts `lifeline ARGS` in the background; its output is read as it comes.
    public func start(_ arguments: [String], extraEnvironment: [String: String] = [:], directory: URL? = nil) throws -> BackgroundCommand {
        try BackgroundCommand(binary.path, arguments, environment: environment.merging(extraEnvironment) { $1 }, directory: directory?.path)
    }

    /// Writes a file under the home's parent scratch area and returns its path.
    public func writeFile(_ name: String, _ contents: String) throws -> String {
        let directory = home.deletingLastPathComponent().appendingPathComponent(home.lastPathComponent + "-files")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: false, encoding: .utf8)
        return url.path
    }

    public func removeAll() {
        try? FileManager.default.removeItem(at: home)
        try? FileManager.default.removeItem(at: home.deletingLastPathComponent().appendingPathComponent(home.lastPathComponent + "-files"))
    }
}

extension CLIRunner {
    /// Runs a command that prints JSON lines and parses them.
    public func json(_ arguments: [String]) async throws -> [JSONValue] {
        let result = try await run(arguments)
        guard result.status == 0 else {
            throw CLIFailure(arguments: arguments, result: result)
        }
        return try result.lines.map { try JSONValue(parsing: $0) }
    }

    /// The job as `jobs show --json` prints it.
    public func job(_ id: Int64) async throws -> JSONValue {
        try await json(["jobs", "show", "\(id)", "--json"])[0]
    }

    /// Enqueues and returns the new job's id.
    public func enqueue(_ arguments: [String]) async throws -> Int64 {
        guard let id = try await json(["enqueue"] + arguments + ["--json"]).first?["id"]?.intValue else {
            throw CLIFailure(arguments: arguments, result: Result(status: -1, stdout: "", stderr: "no id"))
        }
        return id
    }

    /// Enqueues `count` jobs alike and returns their ids.
    public func enqueue(_ arguments: [String], count: Int) async throws -> [Int64] {
        var ids: [Int64] = []
        for _ in 0..<count { ids.append(try await enqueue(arguments)) }
        return ids
    }

    public func jobCount() async throws -> Int {
        try await json(["jobs", "list", "--limit", "1000000", "--json"]).count
    }
}

public struct CLIFailure: Error, CustomStringConvertible {
    public var arguments: [String]
    public var result: CLIRunner.Result

    public var description: String {
        "lifeline \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)"
    }
}

extension CLIRunner {
    /// The server as `server show --json` prints it, or nil when there is none.
    public func server(_ name: String) async throws -> JSONValue? {
        let result = try await run(["server", "show", name, "--json"])
        guard result.status == 0 else { return nil }
        return try JSONValue(parsing: result.stdout)
    }

    /// The server's states in its history, in order.
    public func history(_ name: String) async throws -> [String] {
        try await json(["server", "history", name, "--json"]).map { $0["to"]?.stringValue ?? "(removed)" }
    }

    /// A path under the home's simulated infrastructure.
    public func infra(_ path: String) -> URL {
        home.appendingPathComponent("infra").appendingPathComponent(path)
    }
}
