import Foundation
import LifelineQueue
import LifelineRecovery
import Testing

@Suite("Stage fences")
struct StageFenceTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("lifeline-fence-\(UUID().uuidString)")

    func request(_ stage: Stage, job: Int64, attempt: Int = 1) -> StageRequest {
        StageRequest(stage: stage, server: "web-1", machine: "web-1", disks: 1, diskSize: 2 << 20, recoveryPoint: nil, job: job, attempt: attempt)
    }

    func file(_ path: String) -> URL { root.appendingPathComponent(path) }

    func refusal(_ infrastructure: SimulatedInfrastructure, _ request: StageRequest) async -> String? {
        do {
            _ = try await infrastructure.perform(request) { _ in }
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("an attempt older than one that has acted on its server acts no more, whether a later stage or a later attempt acted")
    func staleAttemptRefused() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let infrastructure = SimulatedInfrastructure(root: root)
        _ = try await infrastructure.perform(request(.create, job: 1)) { _ in }
        _ = try await infrastructure.perform(request(.startVM, job: 2)) { _ in }
        #expect(FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))
        _ = try await infrastructure.perform(request(.release, job: 5)) { _ in }

        // The start of job 2, still running somewhere, would bring the VM back.
        let refused = await refusal(infrastructure, request(.startVM, job: 2))
        #expect(refused?.hasPrefix("fenced off: job 5 attempt 1 has acted on server web-1") == true)
        #expect(await refusal(infrastructure, request(.startVM, job: 2, attempt: 4)) != nil)
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))

        // A later stage acts, and its own earlier attempt is then refused.
        _ = try await infrastructure.perform(request(.startVM, job: 6, attempt: 2)) { _ in }
        #expect(FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))
        #expect(await refusal(infrastructure, request(.switchWorkload, job: 6, attempt: 1)) != nil)
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/workload").path))
    }

    @Test("a copy whose server a newer attempt has entered stops at its next chunk and writes nothing more")
    func copyStoppedAtNextChunk() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        // 2 MiB at 1 MiB/s, in chunks of 128 KiB: the copy takes two seconds.
        let infrastructure = SimulatedInfrastructure(root: root, bytesPerSecond: 1 << 20)
        _ = try await infrastructure.perform(request(.create, job: 1)) { _ in }
        _ = try await infrastructure.perform(request(.startVM, job: 2)) { _ in }
        let started = AsyncStream<Void>.makeStream()
        let finalization = Task {
            try await infrastructure.perform(request(.finalize, job: 3)) { progress in
                if progress.done > 0 { started.continuation.yield() }
            }
        }
        var progressed = started.stream.makeAsyncIterator()
        _ = await progressed.next()

        // The stale attempt's cancellation: the failover is cancelled, its disks removed.
        _ = try await infrastructure.perform(request(.cancelFailover, job: 4)) { _ in }
        guard case .failure(let error) = await finalization.result else {
            Issue.record("the fenced-off copy went on to its end")
            return
        }
        #expect("\(error)".hasPrefix("fenced off: job 4 attempt 1 has acted on server web-1"))
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/hot").path))
    }
}
