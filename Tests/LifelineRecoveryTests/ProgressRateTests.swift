import LifelineQueue
import LifelineRecovery
import Testing

@Suite("A stage's progress rate")
struct ProgressRateTests {
    let start = ContinuousClock.now

    @Test("the rate over the last 10 s of readings, and none over less than half a second")
    func window() {
        var rate = ProgressRate()
        rate.add(0, at: start)
        rate.add(100, at: start + .milliseconds(400))
        #expect(rate.perSecond == nil, "under half a second")
        rate.add(1000, at: start + .seconds(1))
        #expect(rate.perSecond == 1000)
        // Then 10 a second for 19 s: the first readings fall out of the window.
        for second in 2...20 { rate.add(1000 + Int64(second - 1) * 10, at: start + .seconds(second)) }
        #expect(rate.perSecond == 10)
    }

    @Test("progress that goes back (a new stage, a retry that starts over) starts over; progress that stands still has none")
    func resets() {
        var rate = ProgressRate()
        rate.add(0, at: start)
        rate.add(1000, at: start + .seconds(1))
        rate.add(10, at: start + .seconds(2))
        #expect(rate.perSecond == nil)
        rate.add(510, at: start + .seconds(3))
        #expect(rate.perSecond == 500)
        var still = ProgressRate()
        still.add(5, at: start)
        still.add(5, at: start + .seconds(2))
        #expect(still.perSecond == nil)
    }

    @Test("a server shows its stage's rate only while a worker runs it", arguments: [JobState.running, .retryable, .available])
    func shownWhileRunning(state: JobState) {
        let server = ServerInfo(
            name: "s", machine: "s", disks: 1, diskSize: 1 << 20, lifecycle: Lifecycle(state: .finalization, currentJob: 5, currentStage: .finalize),
            recoveryPoint: nil, currentJobState: state, progress: ["done": 10, "total": 100, "rate": 5], lastTest: nil
        )
        #expect(server.stageProgress?.done == 10)
        #expect(server.stageProgress?.rate == (state == .running ? 5 : nil))
        #expect(server.stageProgress?.secondsLeft == (state == .running ? 18 : nil))
    }
}
