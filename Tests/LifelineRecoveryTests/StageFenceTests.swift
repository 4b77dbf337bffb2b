import Foundation
import LifelineQueue
@testable import LifelineRecovery
import Synchronization
import Testing

@Suite("Stage fences")
struct StageFenceTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("lifeline-fence-\(UUID().uuidString)")

    func request(_ stage: Stage, job: Int64, attempt: Int = 1) -> StageRequest {
        StageRequest(stage: stage, server: "web-1", machine: "web-1", disks: 1, diskSize: 2 << 20, recoveryPoint: nil, job: job, attempt: attempt)
    }

    func file(_ path: String) -> URL { root.appendingPathComponent(path) }

    func refusal(
        _ infrastructure: SimulatedInfrastructure, _ request: StageRequest, progress: @escaping @Sendable (StageProgress) -> Void = { _ in }
    ) async -> String? {
        do {
            _ = try await infrastructure.perform(request, progress: progress)
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
        #expect(refused?.hasPrefix("fenced off: job 5 attempt 1 has entered server web-1") == true, "\(refused ?? "acted")")
        #expect(await refusal(infrastructure, request(.startVM, job: 2, attempt: 4))?.hasPrefix("fenced off: job 5 attempt 1") == true)
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))

        // A later stage acts, and its own earlier attempt is then refused.
        _ = try await infrastructure.perform(request(.startVM, job: 6, attempt: 2)) { _ in }
        #expect(FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))
        #expect(await refusal(infrastructure, request(.switchWorkload, job: 6, attempt: 1))?.hasPrefix("fenced off: job 6 attempt 2") == true)
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/workload").path))

        // The fence outlives its server: a late attempt cannot act on a deleted one.
        _ = try await infrastructure.perform(request(.delete, job: 7)) { _ in }
        #expect(await refusal(infrastructure, request(.startVM, job: 6, attempt: 2))?.hasPrefix("fenced off: job 7 attempt 1") == true)
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1").path))
    }

    /// One record, as the fence writes them.
    func record(job: Int64, attempt: Int) -> Data {
        Data(StageFence.record(.init(job: job, attempt: attempt)))
    }

    @Test(
        "a copy whose server a newer attempt has entered, or only announced itself to (it died before entering), stops at its next chunk and writes nothing more",
        arguments: [false, true]
    )
    func copyStoppedAtNextChunk(announcedOnly: Bool) async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        // 2 MiB at 1 MiB/s, in chunks of 128 KiB.
        let infrastructure = SimulatedInfrastructure(root: root, bytesPerSecond: 1 << 20)
        _ = try await infrastructure.perform(request(.create, job: 1)) { _ in }
        _ = try await infrastructure.perform(request(.startVM, job: 2)) { _ in }
        let newer = StageFence(file: file("fences/web-1"), server: "web-1", token: .init(job: 4, attempt: 1))
        let disk = file("servers/web-1/hot/disk-0.img")
        // The newer attempt enters at the copy's first checkpoint, between two of its chunks.
        let sizeAtEntry = Mutex<Int64?>(nil)
        let refused = await refusal(infrastructure, request(.finalize, job: 3)) { progress in
            guard progress.done > 0, sizeAtEntry.withLock({ $0 == nil }) else { return }
            if announcedOnly {
                try? record(job: 4, attempt: 1).write(to: file("fences/web-1.next"))
            } else {
                try? newer.enter {}
            }
            sizeAtEntry.withLock { $0 = (try? FileManager.default.attributesOfItem(atPath: disk.path)[.size] as? Int64) ?? -1 }
        }
        #expect(refused?.hasPrefix("fenced off: job 4 attempt 1 has entered server web-1") == true, "\(refused ?? "copied to the end")")
        let size = try FileManager.default.attributesOfItem(atPath: disk.path)[.size] as? Int64
        #expect(size == sizeAtEntry.withLock { $0 } && size ?? 0 < 2 << 20, "no chunk written after the entry")
        _ = try await infrastructure.perform(request(.cancelFailover, job: 4)) { _ in }
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/hot").path))
    }

    @Test("an attempt that crashed between its announcement and its entry still fences off older ones and lets its own retry in; a record written by something else stops every attempt")
    func crashedEntryAndForeignRecord() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let infrastructure = SimulatedInfrastructure(root: root)
        _ = try await infrastructure.perform(request(.create, job: 1)) { _ in }
        // Job 9's first attempt announced itself, then its process died before it entered.
        try record(job: 9, attempt: 1).write(to: file("fences/web-1.next"))
        #expect(await refusal(infrastructure, request(.startVM, job: 2))?.hasPrefix("fenced off: job 9 attempt 1 has entered server web-1") == true)
        #expect(!FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))
        _ = try await infrastructure.perform(request(.startVM, job: 9, attempt: 2)) { _ in }
        #expect(FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path))

        try Data("not a token\n".utf8).write(to: file("fences/web-1"))
        let refused = await refusal(infrastructure, request(.release, job: 10))
        #expect(refused?.contains("fences/web-1 does not hold a stage attempt (12 bytes); it was written by something else") == true, "\(refused ?? "acted")")
        #expect(FileManager.default.fileExists(atPath: file("servers/web-1/vm.json").path), "the VM was not released")
    }

    @Test("a fence's lock held by a step that never ends gives up after its patience, with the file named; a shared lock passes beside another; a lock waited for until stopped ends at the stop")
    func lockPatience() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let fence = file("fences/web-1")
        try FileSystem.makeDirectory(fence.deletingLastPathComponent())
        let holder = open(fence.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(holder >= 0)
        defer { close(holder) }
        try #require(flock(holder, LOCK_SH) == 0)

        let patient = FileLock(file: fence, patience: .upTo(.milliseconds(300)))
        #expect(try patient.withLock(exclusive: false) { _ in true }, "shared beside shared")
        let started = ContinuousClock.now
        let error = #expect(throws: StageCheckFailure.self) { try patient.withLock(exclusive: true) { _ in } }
        #expect(error?.message == "\(fence.path) stayed locked for 0.3 seconds: its holder does not finish its step")
        #expect(ContinuousClock.now - started >= .milliseconds(300))

        // A lock held through long work is waited for until the waiter is stopped, not given up.
        let stopped = CancellationFlag()
        stopped.cancel()
        let waiting = ContinuousClock.now
        #expect(throws: CancellationError.self) {
            try FileLock(file: fence, patience: .untilCancelled(stopped)).withLock(exclusive: true) { _ in }
        }
        #expect(ContinuousClock.now - waiting >= .seconds(1), "one wait of a second before the stop is seen")
    }
}
