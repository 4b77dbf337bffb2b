import Foundation
import Synchronization
import LifelineQueue

/// Infrastructure made of real files under `$LIFELINE_HOME/infra/` (see ``SimulatedLayout``):
/// recovery points are disk images, finalization really copies them in checkpointed chunks,
/// backups really write them with SHA-256 checksums. Copies can be throttled and faults
/// injected, so stages take realistic time and fail realistically.
public struct SimulatedInfrastructure: Infrastructure {
    let layout: SimulatedLayout
    let bytesPerSecond: Int64?
    let faults: FaultPlan

    public init(root: URL, bytesPerSecond: Int64? = nil, faults: FaultPlan = FaultPlan()) {
        layout = SimulatedLayout(root: root)
        self.bytesPerSecond = bytesPerSecond
        self.faults = faults
    }

    /// Why a server of `machine` with these disks cannot be created here: its recovery points
    /// would not fit. Nil when they would, or exist.
    public func lackOfRoom(machine: String, disks: Int, size: Int64) -> String? {
        RecoveryPoints(layout: layout).lackOfRoom(machine: machine, disks: disks, size: size)
    }

    /// The disk count and size of the machine's recovery points, when it has any and their
    /// disks are all of one size.
    public func pointsLayout(machine: String) -> (disks: Int, size: Int64)? {
        guard let sizes = RecoveryPoints(layout: layout).diskSizes(machine: machine), let first = sizes.first,
            sizes.allSatisfy({ $0 == first })
        else { return nil }
        return (sizes.count, first)
    }

    /// Throws ``UnknownMachine`` for a machine these files have never held: not one with no
    /// points yet, but infrastructure other than the one the machine's server was created in.
    public func recoveryPoints(machine: String) async throws -> [RecoveryPoint]? {
        guard FileManager.default.fileExists(atPath: layout.machine(machine).path) else {
            throw UnknownMachine(machine: machine, infrastructure: layout.root.path)
        }
        return layout.recoveryPoints(machine).map { name in
            let directory = layout.recoveryPoint(machine, name)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            let bytes = files.filter { $0.hasSuffix(".img") }.compactMap {
                try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($0).path)[.size] as? Int64
            }.reduce(0, +)
            let created = try? FileManager.default.attributesOfItem(atPath: directory.path)[.modificationDate] as? Date
            return RecoveryPoint(id: name, createdAt: created, bytes: bytes)
        }
    }

    public func perform(_ request: StageRequest, progress: @escaping @Sendable (StageProgress) -> Void) async throws -> JSONValue? {
        // Names become paths: never act on one that could leave infra/.
        do {
            try ServerNames.check(request.server)
            try ServerNames.check(request.machine, what: "machine name")
        } catch {
            throw PermanentStageFailure(error.message)
        }
        let s = request.server
        // The attempt enters its server's fence before anything is written for the server (its
        // run counted included), and every act after holds it.
        let fence = StageFence(file: layout.fence(s), server: s, token: .init(job: request.job, attempt: request.attempt))
        let failMidway = try await fence.enter { try injectFaults(request) }
        switch request.stage {
        case .create:
            let generator = RecoveryPoints(layout: layout)
            let points = try await BlockingWork.run { cancellation in
                try generator.ensure(machine: request.machine, disks: request.disks, size: request.diskSize, cancellation: cancellation, progress: progress)
            }
            return ["recovery_points": .array(points.map { .string($0) })]
        case .startVM:
            let point = try recoveryPoint(request)
            try await fence.hold {
                try FileSystem.write(Data(point.utf8), to: layout.mount(s))
                try FileSystem.writeJSON(SimulatedVM(state: "running", recoveryPoint: point), to: layout.vm(s))
            }
            if failMidway { throw InjectedFault(stage: .startVM, why: "the VM was created but did not boot") }
            return ["recovery_point": .string(point)]
        case .switchWorkload:
            try await fence.hold { try FileSystem.write(Data("recovery\n".utf8), to: layout.workload(s)) }
            return nil
        case .finalize:
            return try await finalize(request, fence: fence, failMidway: failMidway, progress: progress)
        case .cancelFailover, .release:
            try await fence.hold {
                try FileSystem.remove(layout.workload(s))
                try FileSystem.remove(layout.vm(s))
                try FileSystem.remove(layout.hot(s))
                try FileSystem.remove(layout.mount(s))
                for partial in layout.partialBackups(s) { try FileSystem.remove(partial) }
                // A confirmed failback's backup is what the local server is recovered from: kept.
                try FileSystem.remove(layout.failbackBackup(s))
            }
            return nil
        case .backup:
            return try await backUp(request, fence: fence, failMidway: failMidway, progress: progress)
        case .powerOn:
            try await fence.hold {
                guard var vm = FileSystem.readJSON(SimulatedVM.self, from: layout.vm(s)) else {
                    throw PermanentStageFailure("the VM of \(s) is gone")
                }
                vm.state = "running"
                try FileSystem.writeJSON(vm, to: layout.vm(s))
                // The backup that failed, or the one of a failback cancelled, is of disks the VM
                // now changes again: it is of no use.
                for partial in layout.partialBackups(s) { try FileSystem.remove(partial) }
                if let made = layout.failbackBackupMade(s) { try FileSystem.remove(made) }
                try FileSystem.remove(layout.failbackBackup(s))
            }
            return nil
        case .startTest:
            let point = try recoveryPoint(request)
            try await fence.hold { try FileSystem.writeJSON(SimulatedVM(state: "running", recoveryPoint: point), to: layout.testVM(s)) }
            if failMidway { throw InjectedFault(stage: .startTest, why: "the test VM was created but did not boot") }
            return ["recovery_point": .string(point)]
        case .stopTest:
            try await fence.hold { try FileSystem.remove(layout.testVM(s)) }
            return nil
        case .delete:
            try await fence.hold {
                try FileSystem.remove(layout.server(s))
                try FileSystem.remove(layout.backups(s))
                try FileSystem.remove(layout.faults(s))
            }
            return nil
        }
    }

    /// The requested recovery point, or the machine's latest.
    private func recoveryPoint(_ request: StageRequest) throws -> String {
        let points = layout.recoveryPoints(request.machine)
        if let wanted = request.recoveryPoint {
            guard points.contains(wanted) else {
                throw PermanentStageFailure("machine \(request.machine) has no recovery point \(wanted)")
            }
            return wanted
        }
        guard let latest = points.last else { throw PermanentStageFailure("machine \(request.machine) has no recovery points") }
        return latest
    }

    /// Copies the mounted recovery point's disks to hot storage, resuming from checkpoints,
    /// and checks every copy's SHA-256 against the recovery point's.
    private func finalize(
        _ request: StageRequest, fence: StageFence, failMidway: Bool, progress: @escaping @Sendable (StageProgress) -> Void
    ) async throws -> JSONValue? {
        let s = request.server
        let mounted = try await fence.hold { [layout] in FileManager.default.contents(atPath: layout.mount(s).path) }
        guard let point = mounted.map({ String(decoding: $0, as: UTF8.self) }) else {
            throw PermanentStageFailure("no recovery point is mounted for \(s)")
        }
        let source = layout.recoveryPoint(request.machine, point)
        let sums = layout.checksums(in: source)
        let hot = layout.hot(s)
        let (resumedFrom, copied) = try await copyDisks(
            from: source, to: hot, disks: request.disks, stage: .finalize, fence: fence, failMidway: failMidway, progress: progress
        )
        for index in 0..<request.disks {
            let name = SimulatedLayout.disk(index)
            guard copied[name] == sums[name] else {
                // A corrupt copy is started over on the next attempt.
                try await fence.hold { try FileSystem.remove(hot) }
                throw StageCheckFailure(message: "\(name) on hot storage does not match recovery point \(point)")
            }
        }
        // Verified, the disks are whole: nothing resumes them any more.
        try await fence.hold { try Self.removeCheckpoints(in: hot, disks: request.disks) }
        return ["recovery_point": .string(point), "sha256": .object(sums.mapValues { .string($0) }), "resumed_from": .int(resumedFrom)]
    }

    /// Removes the copy checkpoints of `disks` disks in `directory`.
    private static func removeCheckpoints(in directory: URL, disks: Int) throws {
        for index in 0..<disks { try FileSystem.remove(directory.appendingPathComponent(SimulatedLayout.disk(index) + ".checkpoint")) }
    }

    /// Powers the VM off and writes its disks to cloud storage with their checksums.
    private func backUp(
        _ request: StageRequest, fence: StageFence, failMidway: Bool, progress: @escaping @Sendable (StageProgress) -> Void
    ) async throws -> JSONValue? {
        let s = request.server
        let sealed = layout.backup(s, job: request.job)
        let id = sealed.lastPathComponent
        // Sealed by an attempt of this job, which named it as the failback's before sealing it.
        if layout.failbackBackupMade(s) == sealed, FileManager.default.fileExists(atPath: sealed.path) {
            return ["backup": .string(id), "sha256": .object(layout.checksums(in: sealed).mapValues { .string($0) })]
        }
        let partial = layout.partialBackup(s, job: request.job)
        try await fence.hold {
            guard var vm = FileSystem.readJSON(SimulatedVM.self, from: layout.vm(s)) else {
                throw PermanentStageFailure("the VM of \(s) is gone")
            }
            vm.state = "stopped"
            try FileSystem.writeJSON(vm, to: layout.vm(s))
            // Only this job's own attempts resume a partial backup: the disks of another
            // failback's (another recovery point, or written since) are not these.
            for stale in layout.partialBackups(s) where stale != partial { try FileSystem.remove(stale) }
        }
        let (_, sums) = try await copyDisks(
            from: layout.hot(s), to: partial, disks: request.disks, stage: .backup, fence: fence, failMidway: failMidway, progress: progress
        )
        try await fence.hold {
            try Self.removeCheckpoints(in: partial, disks: request.disks)
            try layout.writeChecksums(sums, in: partial)
            // One there that no attempt of this job named was kept from a queue before this
            // one, whose job ids started over: never replaced, nor named for a cancel to remove.
            if FileManager.default.fileExists(atPath: sealed.path) {
                throw PermanentStageFailure("\(sealed.path) exists, and no attempt of this job made it: move it away")
            }
            // Named first: a crash before the seal leaves a name a cancel finds nothing under,
            // never a sealed backup no cancel would find.
            try FileSystem.write(Data(id.utf8), to: layout.failbackBackup(s))
            guard rename(partial.path, sealed.path) == 0 else {
                throw StageCheckFailure(message: "cannot seal backup \(id)")
            }
        }
        return ["backup": .string(id), "sha256": .object(sums.mapValues { .string($0) })]
    }

    /// Copies every disk, resuming each from its checkpoint; returns how many bytes were
    /// already there when this run started, and each copy's SHA-256.
    private func copyDisks(
        from source: URL, to destination: URL, disks: Int, stage: Stage, fence: StageFence, failMidway: Bool,
        progress: @escaping @Sendable (StageProgress) -> Void
    ) async throws -> (resumedFrom: Int64, sums: [String: String]) {
        var sizes: [Int64] = []
        for index in 0..<disks { sizes.append(try FileSystem.size(source.appendingPathComponent(SimulatedLayout.disk(index)))) }
        let total = sizes.reduce(0, +)
        let throttle = Throttle(bytesPerSecond: bytesPerSecond)
        var before: Int64 = 0
        let chunksThisRun = Mutex(0)
        var resumedFrom: Int64 = 0
        var sums: [String: String] = [:]
        let failChance = faults.failChance[stage]
        for index in 0..<disks {
            let name = SimulatedLayout.disk(index)
            let copy = ChunkedCopy(
                source: source.appendingPathComponent(name), destination: destination.appendingPathComponent(name),
                checkpoint: destination.appendingPathComponent(name + ".checkpoint"), throttle: throttle, fence: fence
            ) { _ in
                // An injected failure strikes after some progress, as real ones do.
                if failMidway && chunksThisRun.withLock({ $0 }) >= 1 { throw InjectedFault(stage: stage, why: "failed midway") }
                if let failChance, Double.random(in: 0..<1) < failChance {
                    throw InjectedFault(stage: stage, why: "chunk failed")
                }
                chunksThisRun.withLock { $0 += 1 }
            }
            let (offset, size) = (before, sizes[index])
            // Where this run found the copy: the first progress it reports.
            let startedAt = Mutex<Int64?>(nil)
            sums[name] = try await copy.run { done in
                startedAt.withLock { if $0 == nil { $0 = done } }
                progress(StageProgress(done: offset + done, total: total, detail: "\(name) \(done)/\(size) bytes"))
            }
            resumedFrom += startedAt.withLock { $0 } ?? 0
            before += sizes[index]
        }
        if failMidway { throw InjectedFault(stage: stage, why: "failed at the end") }
        return (resumedFrom, sums)
    }

    /// Counts this run and decides the injected failures: returns whether the stage should
    /// fail midway; others fail here at once.
    private func injectFaults(_ request: StageRequest) throws -> Bool {
        let counter = layout.faults(request.server, request.stage)
        var failNow = false
        if let first = faults.failFirst[request.stage] {
            let runs = FileSystem.readCheckpoint(counter) + 1
            try FileSystem.writeCheckpoint(counter, runs)
            failNow = runs <= first
        }
        // Copies roll their chance per chunk; other stages per run.
        let copies: Set<Stage> = [.finalize, .backup]
        if !copies.contains(request.stage), let chance = faults.failChance[request.stage], Double.random(in: 0..<1) < chance {
            failNow = true
        }
        // Copies fail after some progress, VM starts after creating the VM; the rest at once.
        let failsMidway = copies.union([.startVM, .startTest])
        if failNow && !failsMidway.contains(request.stage) { throw InjectedFault(stage: request.stage, why: "run failed") }
        return failNow
    }
}

struct StageCheckFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
