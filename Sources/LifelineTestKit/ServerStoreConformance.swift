import Foundation
import LifelineQueue
import LifelineRecovery
import Testing

/// The behaviour every ``ServerStore`` must show, with the ``JobStore`` it shares its
/// transactions with: actions and stage completions move servers, enqueue and cancel stage
/// jobs, and record transitions and events, each in one transaction. A store's tests run
/// each check on a fresh, empty pair of stores built by their factory.
public enum ServerStoreConformance {
    public typealias Factory = @Sendable (ManualClock) async throws -> (jobs: any JobStore, servers: any ServerStore)

    public struct Check: Sendable, CustomTestStringConvertible {
        public let name: String
        let body: @Sendable (any JobStore, any ServerStore) async throws -> Void

        public var testDescription: String { name }

        public func run(_ factory: Factory) async throws {
            let stores = try await factory(ManualClock())
            try await body(stores.jobs, stores.servers)
            try await EventChecks.expectWellFormedLog(stores.jobs)
        }
    }

    static let spec = ServerSpec(name: "web-1", machine: "web-1", disks: 1, diskSize: 1 << 20)

    /// Claims the server's current stage job and finishes it as `outcome`.
    static func finishStage(_ jobs: any JobStore, _ servers: any ServerStore, _ outcome: JobOutcome, server: String = spec.name) async throws -> Job {
        let current = try #require(try await servers.serverGet(server)?.lifecycle.currentJob)
        let queue = try #require(try await jobs.jobGet(current)?.queue)
        let job = try #require(try await jobs.jobClaim(ClaimRequest(owner: "w", queues: [queue], limit: 1, lease: .seconds(30))).jobs.first)
        #expect(job.id == current)
        _ = try await jobs.jobFinish([JobFinish(id: job.id, attempt: job.attempt, owner: "w", outcome: outcome)])
        return job
    }

    /// A server brought to `standby`.
    static func standby(_ jobs: any JobStore, _ servers: any ServerStore, _ server: ServerSpec = spec) async throws {
        _ = try await servers.serverCreate(server, idempotencyKey: nil)
        _ = try await finishStage(jobs, servers, .completed(result: nil), server: server.name)
    }

    public static let checks: [Check] = [
        .init(name: "create makes a server in creating with its stage job; the same key returns the same job") { jobs, servers in
            let created = try await servers.serverCreate(spec, idempotencyKey: "k")
            #expect(!created.existing && created.server?.state == .creating && created.server?.lifecycle.currentJob == created.job)
            #expect(try await jobs.jobGet(created.job)?.kind == Stage.create.kind)
            let again = try await servers.serverCreate(spec, idempotencyKey: "k")
            #expect(again.existing && again.job == created.job)
            await #expect(throws: ServerStoreError.exists("web-1")) { try await servers.serverCreate(spec, idempotencyKey: nil) }
            await #expect(throws: JobStoreError.keyTaken(key: "k", existing: created.job, by: "create of web-1")) {
                try await servers.serverAct("web-1", action: .delete, recoveryPoint: nil, idempotencyKey: "k")
            }
            var larger = spec
            larger.diskSize *= 2
            let other = JobStoreError.keyTaken(key: "k", existing: created.job, by: "create of web-1 with other arguments")
            await #expect(throws: other, "the same key with another disk size") {
                try await servers.serverCreate(larger, idempotencyKey: "k")
            }
        },
        .init(name: "a request replayed under its key after its server was removed and the name made again says its server was replaced") { jobs, servers in
            let created = try await servers.serverCreate(spec, idempotencyKey: "c")
            _ = try await finishStage(jobs, servers, .completed(result: nil))
            #expect(try await servers.serverCreate(spec, idempotencyKey: "c").serverReplaced == false, "the server it made is still there")
            let deleted = try await servers.serverAct("web-1", action: .delete, recoveryPoint: nil, idempotencyKey: "d")
            while try await servers.serverGet("web-1") != nil { _ = try await finishStage(jobs, servers, .completed(result: nil)) }
            try await standby(jobs, servers)
            let replays = [
                try await servers.serverCreate(spec, idempotencyKey: "c"),
                try await servers.serverAct("web-1", action: .delete, recoveryPoint: nil, idempotencyKey: "d"),
            ]
            #expect(replays.map(\.job) == [created.job, deleted.job])
            for replay in replays {
                #expect(replay.existing && replay.serverReplaced && replay.server?.state == .standby, "\(replay)")
            }
            // Removed again: the name has no server, and the delete got what it asked for.
            _ = try await servers.serverAct("web-1", action: .delete, recoveryPoint: nil, idempotencyKey: nil)
            while try await servers.serverGet("web-1") != nil { _ = try await finishStage(jobs, servers, .completed(result: nil)) }
            let gone = try await servers.serverAct("web-1", action: .delete, recoveryPoint: nil, idempotencyKey: "d")
            #expect(gone.existing && !gone.serverReplaced && gone.server == nil, "\(gone)")
        },
        .init(name: "a stage job's completion moves its server, records the transition and enqueues the next stage") { jobs, servers in
            try await standby(jobs, servers)
            #expect(try await servers.serverGet("web-1")?.state == .standby)
            let failover = try await servers.serverAct("web-1", action: .failover, recoveryPoint: "rp-002", idempotencyKey: "f")
            #expect(failover.server?.state == .startingFailover)
            #expect(try await servers.serverAct("web-1", action: .failover, recoveryPoint: "rp-002", idempotencyKey: "f").existing)
            for other in ["rp-001", nil] {
                let taken = JobStoreError.keyTaken(key: "f", existing: failover.job, by: "failover of web-1 with other arguments")
                await #expect(throws: taken, "the same key with another point") {
                    try await servers.serverAct("web-1", action: .failover, recoveryPoint: other, idempotencyKey: "f")
                }
            }
            let startVM = try await finishStage(jobs, servers, .completed(result: nil))
            let server = try #require(try await servers.serverGet("web-1"))
            #expect(server.state == .startingFailover && server.lifecycle.currentStage == .switchWorkload)
            #expect(server.recoveryPoint == "rp-002")
            #expect(try await servers.serverHistory("web-1").map(\.to) == [.creating, .standby, .startingFailover, .startingFailover])
            let changes = try await jobs.eventList(EventFilter(server: "web-1", types: [.stateChanged]))
            #expect(changes.count == 4 && changes.last?.job == startVM.id)
        },
        .init(name: "an action its state does not allow is refused and changes nothing") { jobs, servers in
            try await standby(jobs, servers)
            let before = try await jobs.jobCount(JobFilter())
            await #expect(throws: LifecycleError.refused(action: .failback, state: .standby, allowed: [.failover, .testFailover, .delete], busyJob: nil)) {
                try await servers.serverAct("web-1", action: .failback, recoveryPoint: nil, idempotencyKey: nil)
            }
            #expect(try await jobs.jobCount(JobFilter()) == before)
            await #expect(throws: ServerStoreError.notFound("nope")) {
                try await servers.serverAct("nope", action: .failover, recoveryPoint: nil, idempotencyKey: nil)
            }
        },
        .init(name: "cancel-failover during finalization cancels the copy; the cleanup waits for it; its late end is ignored") { jobs, servers in
            try await standby(jobs, servers)
            _ = try await servers.serverAct("web-1", action: .failover, recoveryPoint: nil, idempotencyKey: nil)
            _ = try await finishStage(jobs, servers, .completed(result: nil))
            _ = try await finishStage(jobs, servers, .completed(result: nil))
            let copy = try #require(try await servers.serverGet("web-1")?.lifecycle.currentJob)
            let claimed = try #require(try await jobs.jobClaim(ClaimRequest(owner: "w", queues: [Stage.finalize.queue], limit: 1, lease: .seconds(30))).jobs.first)
            #expect(claimed.id == copy)
            let cancel = try await servers.serverAct("web-1", action: .cancelFailover, recoveryPoint: nil, idempotencyKey: nil)
            #expect(cancel.server?.state == .cancellingFailover)
            #expect(try await jobs.jobGet(copy)?.cancelRequested == true, "the running copy is asked to stop")
            #expect(try await jobs.jobGet(cancel.job)?.args["after_job"]?.intValue == copy, "the cleanup carries what it waits for")
            _ = try await jobs.jobFinish([JobFinish(id: copy, attempt: claimed.attempt, owner: "w", outcome: .completed(result: nil))])
            #expect(try await servers.serverGet("web-1")?.state == .cancellingFailover, "the copy's late end moves nothing")
            #expect(try await jobs.eventList(EventFilter(job: copy, types: [.stageIgnored])).count == 1)
        },
        .init(name: "a failover is refused, and not offered, while another server of the machine holds its workload; a test failover is not") { jobs, servers in
            var twin = spec
            twin.name = "web-1-twin"
            try await standby(jobs, servers)
            try await standby(jobs, servers, twin)
            #expect(try await servers.serverGet("web-1-twin")?.allowedActions.contains(.failover) == true)
            _ = try await servers.serverAct("web-1", action: .failover, recoveryPoint: nil, idempotencyKey: nil)
            let listed = try await servers.serverList().first { $0.name == "web-1-twin" }
            for twin in [try await servers.serverGet("web-1-twin"), listed] {
                #expect(twin?.workloadHolder == ServerInfo.WorkloadHolder(name: "web-1", state: .startingFailover))
                #expect(twin?.allowedActions == [.testFailover, .delete], "\(String(describing: twin?.allowedActions))")
            }
            #expect(try await servers.serverGet("web-1")?.workloadHolder == nil, "the holder itself is held by no other")
            // A refusal of another action lists what the server allows as it shows it.
            await #expect(throws: LifecycleError.refused(action: .failback, state: .standby, allowed: [.testFailover, .delete], busyJob: nil)) {
                try await servers.serverAct("web-1-twin", action: .failback, recoveryPoint: nil, idempotencyKey: nil)
            }
            let before = try await jobs.jobCount(JobFilter())
            await #expect(throws: LifecycleError.workloadHeld(
                action: .failover, machine: "web-1", by: "web-1", state: .startingFailover, own: .standby, allowed: [.testFailover, .delete]
            )) {
                try await servers.serverAct("web-1-twin", action: .failover, recoveryPoint: nil, idempotencyKey: nil)
            }
            #expect(try await jobs.jobCount(JobFilter()) == before)
            #expect(try await servers.serverGet("web-1-twin")?.state == .standby)
            let test = try await servers.serverAct("web-1-twin", action: .testFailover, recoveryPoint: nil, idempotencyKey: nil)
            #expect(test.server?.state == .startingTest)
        },
        .init(name: "a failed creation removes the server; its history stays") { jobs, servers in
            _ = try await servers.serverCreate(spec, idempotencyKey: nil)
            _ = try await finishStage(jobs, servers, .discarded(error: "no capacity"))
            #expect(try await servers.serverGet("web-1") == nil)
            #expect(try await servers.serverList().isEmpty)
            #expect(try await servers.serverHistory("web-1").map(\.to) == [.creating, nil])
        },
    ]
}
