import Foundation
import LifelineQueue
@testable import LifelineRecovery
import Logging
import Synchronization
import Testing

@Suite("Stage jobs")
struct StageJobTests {
    /// Infrastructure that counts the stages it is asked to perform.
    final class CountingInfrastructure: Infrastructure {
        let performed = Mutex(0)

        func perform(_ request: StageRequest, progress: @escaping @Sendable (StageProgress) -> Void) async throws -> JSONValue? {
            performed.withLock { $0 += 1 }
            return nil
        }

        func recoveryPoints(machine: String) async throws -> [RecoveryPoint]? { nil }
    }

    static func run(job id: Int64, currentJob: Int64?) async throws -> (result: JSONValue?, performed: Int) {
        let infrastructure = CountingInfrastructure()
        var registry = JobRegistry()
        StageJobs.register(
            in: &registry, infrastructure: { infrastructure }, jobState: { _ in .completed }, currentJob: { _ in currentJob }
        )
        let args: JSONValue = ["server": "web-1", "machine": "web-1", "disks": 1, "disk_size": 1024, "action": "failover"]
        let job = Job(
            id: id, queue: "recovery", kind: Stage.startVM.kind, args: args, state: .running, priority: 2, attempt: 1,
            maxAttempts: 5, timeout: .seconds(60), backoff: .standard, runAt: Date(), server: "web-1", createdAt: Date()
        )
        let context = JobContext(job: job, logger: Logger(label: "test")) { _ in }
        let result = try await #require(registry.definition(job.kind)).run(args, context: context)
        return (result, infrastructure.performed.withLock { $0 })
    }

    @Test("a cleanup looks again at the stage it stopped every half second at first, less often the longer it waits, every 5 s at most")
    func waitDelay() {
        let enqueued = Date(ms: 1_000_000)
        let after = { (seconds: Int64) in StageJobs.waitDelay(since: enqueued, now: Date(ms: enqueued.ms + seconds * 1_000)) }
        #expect(after(0) == .milliseconds(500) && after(1) == .milliseconds(500))
        #expect(after(8) == .seconds(2))
        #expect(after(30) == .seconds(5) && after(3_600) == .seconds(5))
        #expect(StageJobs.waitDelay(since: enqueued, now: Date(ms: enqueued.ms - 60_000)) == .milliseconds(500), "a clock that went back")
    }

    @Test("a stage job that is its server's current operation acts")
    func current() async throws {
        #expect(try await Self.run(job: 7, currentJob: 7).performed == 1)
    }

    @Test("a stage job that is not its server's current operation does nothing", arguments: [Int64(8), nil])
    func notCurrent(currentJob: Int64?) async throws {
        let (result, performed) = try await Self.run(job: 7, currentJob: currentJob)
        #expect(performed == 0)
        #expect(result?["ignored"]?.stringValue == "not the current operation of server web-1")
    }
}

@Suite("A stage's request as a program reads it")
struct StageRequestTests {
    @Test("every key is written, recovery_point as null when none was named, and the request reads back as it was")
    func everyKey() throws {
        for point in [nil, "rp-002"] as [String?] {
            let request = StageRequest(stage: .finalize, server: "web-1", machine: "web", disks: 2, diskSize: 1 << 20, recoveryPoint: point, job: 7, attempt: 3)
            let data = try JSONEncoder().encode(request)
            let written = try JSONValue(parsing: data)
            guard case .object(let fields) = written else { Issue.record("not an object: \(written)"); continue }
            #expect(Set(fields.keys) == Set(StageRequest.CodingKeys.allCases.map(\.rawValue)), "\(written)")
            #expect(written["recovery_point"] == point.map { .string($0) } ?? .null)
            #expect(try JSONDecoder().decode(StageRequest.self, from: data) == request)
        }
    }
}
