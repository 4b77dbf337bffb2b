import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// `lifeline store copy` keeps all of a copy or none of it. The PostgreSQL target's half is in
/// ``PostgresCLITests``.
@Suite("store copy")
struct StoreCopyCLITests {
    /// Enough jobs that a copy, in a debug build, says how far it is (once a second) well
    /// before it ends.
    static let jobs: Int64 = 8_000

    /// Fills `cli`'s queue with ``jobs`` jobs and returns its file.
    static func filledQueue(_ cli: CLIRunner) async throws -> String {
        let batch = try cli.writeFile("batch.jsonl", String(repeating: "{}\n", count: Int(jobs)))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        return cli.home.appendingPathComponent("lifeline.db").path
    }

    /// Starts a copy, and SIGKILLs it once it has said it copied some jobs.
    static func killMidway(_ cli: CLIRunner, from source: String, to target: String) async throws {
        let copy = try cli.start(["store", "copy", "--from", source, "--to", target])
        try await waitUntil("the copy to say how far it is", timeout: .seconds(60)) { copy.stderr.contains("jobs") || !copy.isRunning }
        copy.signal(SIGKILL)
        #expect(try await copy.waitForExit() == SIGKILL, "killed mid-way: \(copy.stderr)")
    }

    @Test("a copy into a file that is killed leaves no file there, the next copy makes it whole, and a file that exists is refused")
    func killedIntoFile() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let source = try await Self.filledQueue(cli)
        let target = cli.home.appendingPathComponent("copy.db").path
        try await Self.killMidway(cli, from: source, to: target)
        #expect(!FileManager.default.fileExists(atPath: target), "no half-made queue at the target's path")
        #expect(try await cli.run(["jobs", "list", "--db", target]).status == 4)

        let copy = try await cli.run(["store", "copy", "--from", source, "--to", target, "--json"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try JSONValue(parsing: copy.stdout)["jobs"]?.intValue == Self.jobs)
        #expect(try await cli.json(["jobs", "list", "--json", "--limit", "1", "--db", target]).first?["id"]?.intValue == Self.jobs)
        let left = try FileManager.default.contentsOfDirectory(atPath: cli.home.path).filter { $0.contains(".partial-") }
        #expect(left.isEmpty, "the killed copy's files are gone: \(left)")
        let attributes = try FileManager.default.attributesOfItem(atPath: target)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        let again = try await cli.run(["store", "copy", "--from", source, "--to", target])
        #expect(again.status == 3 && again.stderr == "lifeline: \(target) already exists; copy into a new file\n", "\(again.stderr)")
        let onto = try await cli.run(["store", "copy", "--from", source, "--to", source])
        #expect(onto.status == 3, "a queue is not copied onto itself: \(onto.stderr)")
        let empty = try await cli.run(["store", "copy", "--from", source, "--to", ""])
        #expect(empty.status == 64 && empty.stderr.hasPrefix("lifeline: --to is empty"), "\(empty.stderr)")
    }
}
