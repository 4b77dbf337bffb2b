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
