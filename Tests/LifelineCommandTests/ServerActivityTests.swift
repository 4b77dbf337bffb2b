import LifelineQueue
import LifelineRecovery
import Testing

@testable import lifeline

struct ServerActivityTests {
    @Test("server show says what its current job does: a failed attempt waits to retry, a cleanup's snooze waits for the stage it stops", arguments: [
        (JobState.running, "working"),
        (.available, "waiting for a worker"),
        (.retryable, "waiting to retry"),
        (.scheduled, "waiting for the stage it stops to end"),
    ] as [(JobState, String)])
    func activity(state: JobState, said: String) {
        let lifecycle = Lifecycle(state: .cancellingFailover, currentJob: 7, currentStage: .cancelFailover)
        let server = ServerInfo(
            name: "web-1", machine: "web-1", disks: 1, diskSize: 1 << 20, lifecycle: lifecycle, recoveryPoint: nil,
            currentJobState: state, progress: nil, lastTest: nil
        )
        #expect(ServerShowCommand.activity(server) == ": job 7 cancel-failover, \(said)")
    }
}

struct TurnedAsideTests {
    private func step(_ from: ServerState?, _ to: ServerState, _ cause: String, _ job: Int64) -> ServerTransition {
        ServerTransition(at: .now, from: from, to: to, cause: cause, job: job)
    }

    @Test("a wait that ends elsewhere blames the first request after its own, and says when the goal was reached first")
    func turnedAside() throws {
        let created = [step(nil, .creating, "create", 1), step(.creating, .standby, "create succeeded", 1)]
        let failover = step(.standby, .startingFailover, "failover", 2)
        let cancelled = created + [failover, step(.startingFailover, .finalization, "switch-workload succeeded", 3), step(.finalization, .cancellingFailover, "cancel-failover", 4)]
        let aside = try #require(ServerActionOptions.turnedAside(cancelled + [step(.cancellingFailover, .standby, "cancel-failover succeeded", 4)], job: 2, action: "failover", goal: .failover))
        #expect(aside.request.job == 4 && aside.request.cause == "cancel-failover" && !aside.reachedGoal)
        // A failover that completed, then a failback requested before the wait looked.
        let failedBack = created + [failover, step(.startingFailover, .failover, "finalize succeeded", 3), step(.failover, .failingBack, "failback", 5), step(.failingBack, .standby, "cancel-failback", 6)]
        let after = try #require(ServerActionOptions.turnedAside(failedBack, job: 2, action: "failover", goal: .failover))
        #expect(after.request.cause == "failback" && after.reachedGoal)
        // A stage that failed: nothing was requested since.
        let failed = created + [failover, step(.startingFailover, .cancellingFailover, "start-vm discarded: boom", 2), step(.cancellingFailover, .standby, "cancel-failover succeeded", 7)]
        #expect(ServerActionOptions.turnedAside(failed, job: 2, action: "failover", goal: .failover) == nil)
        // A request this one is not in the history of (replaced server): nothing to say.
        #expect(ServerActionOptions.turnedAside(cancelled, job: 99, action: "failover", goal: .failover) == nil)
    }
}
