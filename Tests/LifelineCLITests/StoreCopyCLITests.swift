import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// `lifeline store copy` keeps all of a copy or none of it. The PostgreSQL target's half is in
/// ``PostgresCLITests``.
@Suite("store copy")
struct StoreCopyCLITests {
    /// Enough jobs that a copy's first batch (2,000 rows) is an eighth of it, jobs and events.
    static let jobs: Int64 = 8_000

    /// Fills `cli`'s queue with ``jobs`` jobs and returns its file.
    static func filledQueue(_ cli: CLIRunner) async throws -> String {
        let batch = try cli.writeFile("batch.jsonl", String(repeating: "{}\n", count: Int(jobs)))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        return cli.home.appendingPathComponent("lifeline.db").path
    }

    /// Starts a copy into the file `target`, and sends it `signal` once it is writing its
    /// first batch, a small part of the whole; returns what it wrote to stderr. (Not once it says
    /// how far it is: an idle machine copies all the jobs in less than the second before that.)
    @discardableResult
    private static func killMidway(_ cli: CLIRunner, from source: String, to target: String, signal: Int32 = SIGKILL) async throws -> String {
        let copy = try cli.start(["store", "copy", "--from", source, "--to", target])
        try await waitUntil("the copy to be under way", timeout: .seconds(60)) {
            partialWALBytes(of: copy, beside: target) > 64 << 10 || !copy.isRunning
        }
        copy.signal(signal)
        #expect(try await copy.waitForExit() == (signal == SIGKILL ? SIGKILL : 1), "stopped mid-way: \(copy.stderr)")
        return copy.stderr
    }

    /// The size of the WAL of `copy`'s partial file beside the file `target`: past its first
    /// 64 KiB, the copy is writing its rows, its first batch at least.
    static func partialWALBytes(of copy: BackgroundCommand, beside target: String) -> Int {
        let wal = "\(target).partial-\(copy.processIdentifier)-wal"
        return (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
    }

    static func partialFiles(_ cli: CLIRunner) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: cli.home.path).filter { $0.contains(".partial-") }.sorted()
    }

    @Test("two copies started together into one new file: one makes it, the other is refused as for a file that exists (3)")
    func copiesTogether() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let source = try await Self.filledQueue(cli)
        for round in 1...3 {
            let target = cli.home.appendingPathComponent("together-\(round).db").path
            let copies = try (0..<2).map { _ in try cli.start(["store", "copy", "--from", source, "--to", target]) }
            var statuses: [Int32] = []
            for copy in copies { statuses.append(try await copy.waitForExit(timeout: .seconds(120))) }
            let said = copies.map(\.stderr)
            #expect(statuses.sorted() == [0, 3], "round \(round): \(statuses) \(said)")
            #expect(said.contains { $0.hasSuffix("lifeline: \(target) already exists; copy into a new file\n") }, "round \(round): \(said)")
            #expect(try await cli.json(["jobs", "list", "--json", "--limit", "1", "--db", target]).first?["id"]?.intValue == Self.jobs)
        }
        #expect(try Self.partialFiles(cli).isEmpty)
    }

    @Test("a copy into a file that is killed leaves no file there, the next copy makes it whole, and a file that exists is refused")
    func killedIntoFile() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let source = try await Self.filledQueue(cli)
        let target = cli.home.appendingPathComponent("copy.db").path
        let interrupted = try await Self.killMidway(cli, from: source, to: target, signal: SIGINT)
        #expect(interrupted.hasSuffix("lifeline: copy stopped by a signal; \(target) is left as it was\n"), "\(interrupted)")
        #expect(try Self.partialFiles(cli).isEmpty, "Ctrl-C drops the partial file at once")
        #expect(!FileManager.default.fileExists(atPath: target + "-writer"), "nor its writer lock beside the target")
        try await Self.killMidway(cli, from: source, to: target)
        #expect(!FileManager.default.fileExists(atPath: target), "no half-made queue at the target's path")
        #expect(try await cli.run(["jobs", "list", "--db", target]).status == 4)
        // A killed copy's files are known by the lock no process holds, not by a pid, which
        // may live on (a process not yet reaped) or be given again: as pid 1's, they still go.
        for name in try Self.partialFiles(cli) {
            let renamed = name.replacingOccurrences(of: #"partial-\d+"#, with: "partial-1", options: .regularExpression)
            try FileManager.default.moveItem(atPath: cli.home.appendingPathComponent(name).path, toPath: cli.home.appendingPathComponent(renamed).path)
        }
        #expect(try Self.partialFiles(cli).contains("copy.db.partial-1"))

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
        let directory = try await cli.run(["store", "copy", "--from", source, "--to", cli.home.path])
        #expect(directory.status == 64 && directory.stderr.contains("is a directory; --to takes the database file's path"), "\(directory.stderr)")
        let slash = try await cli.run(["store", "copy", "--from", source, "--to", cli.home.path + "/"])
        #expect(slash.stderr.hasSuffix("(e.g. \(cli.home.path)/lifeline.db)\n"), "one slash: \(slash.stderr)")
        let empty = try await cli.run(["store", "copy", "--from", source, "--to", ""])
        #expect(empty.status == 64 && empty.stderr.hasPrefix("lifeline: --to is empty"), "\(empty.stderr)")
    }

    @Test("a copy never gives a job id again: the newest jobs pruned at the source stay given at the target")
    func prunedIDsStayGiven() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let newest = try await cli.enqueue(["noop"], count: 3).last!
        #expect(try await cli.run(["worker", "--drain"]).status == 0)
        #expect(try await cli.run(["jobs", "prune", "--older-than", "0s"]).status == 0)
        #expect(try await cli.json(["jobs", "list", "--json"]).isEmpty, "pruned with their events")
        let target = cli.home.appendingPathComponent("copy.db").path
        #expect(try await cli.run(["store", "copy", "--from", cli.home.appendingPathComponent("lifeline.db").path, "--to", target]).status == 0)
        #expect(try await cli.enqueue(["noop", "--db", target]) == newest + 1, "as the source would number it")
    }
}
