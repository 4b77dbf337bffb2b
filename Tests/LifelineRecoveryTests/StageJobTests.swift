import Foundation
import LifelineQueue
import LifelineRecovery
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
