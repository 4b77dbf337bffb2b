import Foundation
import LifelineQueue
import LifelineTestKit
import Testing

/// A process killed at a named point of a write path, then restarted: nothing lost, nothing
/// half-written, nothing done twice.
@Suite("Crash points in the write paths", .serialized)
struct CrashPointCLITests {
    static let crash = "LIFELINE_CRASH_AT"

    @Test("during a batch insert: no job of the batch exists")
    func midBatch() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let batch = try cli.writeFile("jobs.jsonl", String(repeating: "{}\n", count: 100))
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch], extraEnvironment: [Self.crash: "insert.mid-batch"]).status == 70)
        #expect(try await cli.jobCount() == 0)
        #expect(try await cli.json(["events", "--json"]).isEmpty)
        #expect(try await cli.run(["enqueue", "noop", "--batch", batch]).status == 0)
        #expect(try await cli.jobCount() == 100)
    }

    @Test("before a claim commits: the job is still available, then runs once", arguments: ["claim.before-commit", "claim.after-commit"])
    func claim(_ point: String) async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["noop", "--backoff", "100ms"])
        #expect(try await cli.start(["worker", "--lease", "1s"], extraEnvironment: [Self.crash: point]).waitForExit() == 70)
        let claimed = point == "claim.after-commit"
        #expect(try await cli.job(id)["state"] == (claimed ? "running" : "available"))
        #expect(try await cli.start(["worker", "--drain", "--lease", "1s"]).waitForExit() == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "completed" && job["attempt"] == (claimed ? 2 : 1))
        #expect(try await cli.json(["events", "--job", "\(id)", "--type", "completed", "--json"]).count == 1)
    }

    @Test("during a lease renewal: the lease expires, the job is taken back and runs once")
    func renewal() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        let id = try await cli.enqueue(["sleep", "--args", #"{"ms": 1500}"#, "--backoff", "100ms"])
        #expect(try await cli.start(["worker", "--lease", "600ms"], extraEnvironment: [Self.crash: "renew.before-commit"]).waitForExit() == 70)
        #expect(try await cli.job(id)["state"] == "running")
        #expect(try await cli.start(["worker", "--drain", "--lease", "1s"]).waitForExit() == 0)
        let job = try await cli.job(id)
        #expect(job["state"] == "completed" && job["errors"]?.arrayValue?.count == 1)
    }

    @Test("before an action commits: the server has not moved and nothing was enqueued")
    func action() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "a-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let jobs = try await cli.jobCount()
        #expect(try await cli.run(["server", "failover", "a-1"], extraEnvironment: [Self.crash: "action.before-commit"]).status == 70)
        #expect(try await cli.server("a-1")?["state"] == "standby")
        #expect(try await cli.jobCount() == jobs)
        #expect(try await cli.history("a-1") == ["creating", "standby"])
    }

    @Test("between a stage's effect and its completion: the stage runs again, idempotently")
    func afterEffect() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "e-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--lease", "1s"], extraEnvironment: [Self.crash: "stage.after-effect"]).waitForExit() == 70)
        #expect(try await cli.server("e-1")?["state"] == "creating")
        #expect(try await cli.start(["worker", "--drain", "--lease", "1s"]).waitForExit() == 0)
        #expect(try await cli.server("e-1")?["state"] == "standby")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("machines/e-1").path).sorted() == ["rp-001", "rp-002", "rp-003"])
        #expect(try await cli.history("e-1") == ["creating", "standby"])
    }

    @Test("between a backup's seal and its completion: the attempt after finds it sealed, and the failback has one backup")
    func backupSealed() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "b-1", "--disk-size", "64KiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.run(["server", "failover", "b-1"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        let backup = try #require(try await cli.json(["server", "failback", "b-1", "--json"]).first?["job"]?.intValue)
        #expect(try await cli.start(["worker", "--lease", "1s"], extraEnvironment: [Self.crash: "stage.after-effect"]).waitForExit() == 70)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/b-1").path) == ["backup-\(backup)"])
        #expect(try await cli.start(["worker", "--drain", "--lease", "1s"]).waitForExit() == 0)
        #expect(try await cli.server("b-1")?["state"] == "ready_for_failback")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("cloud-backups/b-1").path) == ["backup-\(backup)"])
        let job = try await cli.job(backup)
        #expect(job["attempt"] == 2 && job["result"]?["backup"] == .string("backup-\(backup)"), "\(job)")
    }

    @Test("between a machine's recovery points: the stage run again makes the rest, and the server has all three")
    func betweenPoints() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "p-1", "--disk-size", "64KiB", "--disks", "2"]).status == 0)
        #expect(try await cli.start(["worker", "--lease", "1s"], extraEnvironment: [Self.crash: "points.between"]).waitForExit() == 70)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.infra("machines/p-1").path).filter { $0.hasPrefix("rp-") } == ["rp-001"])
        #expect(try await cli.start(["worker", "--drain", "--lease", "1s"]).waitForExit() == 0)
        #expect(try await cli.server("p-1")?["state"] == "standby")
        let points = try await cli.json(["server", "points", "p-1", "--json"]).compactMap { $0["id"]?.stringValue }
        #expect(points == ["rp-001", "rp-002", "rp-003"])
        for point in points {
            let sums = try RecoveryCLITests.checksums(cli.infra("machines/p-1/\(point)"))
            #expect(sums.count == 2, "\(point): \(sums)")
        }
    }

    @Test("in the middle of a disk chunk: the copy resumes and the disk ends intact")
    func midChunk() async throws {
        let cli = try CLIRunner()
        defer { cli.removeAll() }
        #expect(try await cli.run(["server", "create", "c-1", "--disk-size", "3MiB"]).status == 0)
        #expect(try await cli.start(["worker", "--drain"]).waitForExit() == 0)
        #expect(try await cli.run(["server", "failover", "c-1"]).status == 0)
        #expect(try await cli.start(["worker", "--lease", "1s"], extraEnvironment: [Self.crash: "copy.mid-chunk"]).waitForExit() == 70)
        #expect(try await cli.start(["worker", "--drain", "--lease", "1s"]).waitForExit() == 0)
        #expect(try await cli.server("c-1")?["state"] == "failover")
        let sums = try RecoveryCLITests.checksums(cli.infra("machines/c-1/rp-003"))
        #expect(try RecoveryCLITests.sha256(cli.infra("servers/c-1/hot/disk-0.img")) == sums["disk-0.img"])
    }
}
