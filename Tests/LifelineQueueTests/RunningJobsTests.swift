import Foundation
import Synchronization
import Testing

@testable import LifelineQueue

@Suite("The running set's deadlines")
struct RunningJobsTests {
    static func job(_ id: Int64, timeout: Duration = .seconds(60)) -> Job {
        var job = RunnerMessageTests.job
        job.id = id
        job.timeout = timeout
        return job
    }

    static func mayStart(_ start: AttemptStart) -> Bool {
        if case .start = start { true } else { false }
    }

    static func key(_ id: Int64) -> AttemptKey {
        AttemptKey(id: id, attempt: RunnerMessageTests.job.attempt)
    }

    @Test("a lease about to run out unrenewed is due at lease minus margin, counted from when the claim left")
    func leaseEnding() {
        let running = RunningJobs()
        let now = ContinuousClock.now
        running.add([Self.job(1)], leaseStart: now - .milliseconds(550), lease: .milliseconds(600))
        running.add([Self.job(2)], leaseStart: now, lease: .milliseconds(600))
        running.add([Self.job(3, timeout: .zero)], leaseStart: now, lease: .milliseconds(600))
        let due = running.deadlines(leaseMargin: .milliseconds(100), latest: .now + .seconds(60))
        #expect(due.leaseEnding.map(\.key) == [Self.key(1)])
        #expect(due.leaseEnding.map(\.ended) == [false])
        #expect(due.timedOut == [Self.key(3)])
        // Job 2's lease is the earliest instant left: 600 ms after its claim, less the margin.
        #expect(due.next == now + .milliseconds(500))
    }

    @Test("an attempt whose handler ended, its end not yet recorded, has no timeout left, and its lease ending says it ended")
    func endedUnrecorded() {
        let running = RunningJobs()
        let now = ContinuousClock.now
        running.add([Self.job(1, timeout: .milliseconds(100))], leaseStart: now - .milliseconds(200), lease: .seconds(30))
        running.add([Self.job(2)], leaseStart: now - .milliseconds(550), lease: .milliseconds(600))
        running.ended(Self.key(1))
        running.ended(Self.key(2))
        let due = running.deadlines(leaseMargin: .milliseconds(100), latest: now + .seconds(60))
        #expect(due.timedOut.isEmpty)
        #expect(due.leaseEnding.map(\.key) == [Self.key(2)])
        #expect(due.leaseEnding.map(\.ended) == [true])
        // Job 1's next look is its lease's end less the margin, not its timeout, long past.
        #expect(due.next == now - .milliseconds(200) + .seconds(30) - .milliseconds(100))
    }

    @Test("a runner process's ended attempt goes in one step, saying why it was stopped; news of another attempt of the job leaves the entry")
    func removeEnded() {
        let running = RunningJobs()
        running.add([Self.job(1), Self.job(2)], leaseStart: .now, lease: .seconds(30))
        running.stop(Self.key(1), reason: .timeout)
        #expect(running.remove(ended: AttemptKey(id: 1, attempt: Self.key(1).attempt + 1)) == nil)
        #expect(running.count == 2)
        #expect(running.remove(ended: Self.key(1)) == .timeout)
        #expect(running.remove(ended: Self.key(2)) == nil)
        #expect(running.count == 0)
        #expect(running.remove(ended: Self.key(2)) == nil)
    }

    @Test("a timeout counts from the claim, as the lease does, however late the claim's commit adds the job")
    func timeoutFromClaim() {
        let running = RunningJobs()
        let now = ContinuousClock.now
        running.add([Self.job(1, timeout: .seconds(1))], leaseStart: now - .milliseconds(1_100), lease: .seconds(30))
        running.add([Self.job(2, timeout: .seconds(1))], leaseStart: now - .milliseconds(300), lease: .seconds(30))
        let due = running.deadlines(leaseMargin: .seconds(5), latest: now + .seconds(60))
        #expect(due.timedOut == [Self.key(1)])
        #expect(due.next == now + .milliseconds(700))
    }

    @Test("a job added asks for an earlier look at the deadlines only when its timeout or lease ending comes before the look planned")
    func earlierLook() {
        let running = RunningJobs()
        let now = ContinuousClock.now
        #expect(running.add([Self.job(1)], leaseStart: now, lease: .seconds(30)), "no look is planned yet")
        #expect(running.deadlines(leaseMargin: .seconds(5), latest: now + .seconds(60)).next == now + .seconds(25))
        #expect(!running.add([Self.job(2)], leaseStart: now + .seconds(1), lease: .seconds(30)))
        #expect(running.add([Self.job(3, timeout: .seconds(10))], leaseStart: now + .seconds(1), lease: .seconds(30)))
        #expect(running.add([Self.job(4)], leaseStart: now, lease: .seconds(20)))
    }

    @Test("an attempt whose handler ended lets go of what stops it; a stop asked for later calls nothing")
    func endedLetsGoOfStop() {
        let running = RunningJobs()
        running.add([Self.job(1)], leaseStart: .now, lease: .seconds(30))
        let stops = Mutex(0)
        running.setStop(Self.key(1)) { stops.withLock { $0 += 1 } }
        running.ended(Self.key(1))
        running.stop(Self.key(1), reason: .timeout)
        #expect(stops.withLock { $0 } == 0)
        #expect(running.ended(Self.key(1))?.stopReason == .timeout, "the reason is still recorded for the attempt's outcome")
    }

    @Test("a stop registered after the handler ended (its runner was slower than the handler) is dropped, not kept or called")
    func stopRegisteredAfterEnd() {
        let running = RunningJobs()
        running.add([Self.job(1)], leaseStart: .now, lease: .seconds(30))
        running.ended(Self.key(1))
        running.stop(Self.key(1), reason: .cancelled)
        let stops = Mutex(0)
        running.setStop(Self.key(1)) { stops.withLock { $0 += 1 } }
        running.stop(Self.key(1), reason: .timeout)
        #expect(stops.withLock { $0 } == 0)
        #expect(running.ended(Self.key(1))?.stopReason == .cancelled)
    }

    @Test("a renewal moves the lease on from when it started; an attempt stopped for its lease is not due or renewed again")
    func renewedAndStopped() {
        let running = RunningJobs()
        let claimed = ContinuousClock.now - .milliseconds(550)
        running.add([Self.job(1)], leaseStart: claimed, lease: .milliseconds(600))
        running.add([Self.job(2)], leaseStart: claimed, lease: .milliseconds(600))
        let renewal = ContinuousClock.now
        running.renewed([Self.key(1)], at: renewal, lease: .milliseconds(600))
        running.stop(Self.key(2), reason: .leaseLost)
        let due = running.deadlines(leaseMargin: .milliseconds(100), latest: .now + .seconds(60))
        #expect(due.leaseEnding.isEmpty && due.timedOut.isEmpty)
        #expect(due.next == renewal + .milliseconds(500))
        #expect(running.renewals(all: true, leaseEndingBefore: .now).map(\.id) == [1], "a lease given up is not renewed again")
        #expect(running.ended(Self.key(2))?.stopReason == .leaseLost)
    }

    @Test("a round that is not full renews the leases ending before the instant it is given, and jobs with new progress")
    func endingLeasesRenewed() {
        let running = RunningJobs()
        let now = ContinuousClock.now
        // A claim answered late: a third of its lease is gone.
        running.add([Self.job(1)], leaseStart: now - .seconds(11), lease: .seconds(30))
        running.add([Self.job(2)], leaseStart: now, lease: .seconds(30))
        running.add([Self.job(3)], leaseStart: now, lease: .seconds(30))
        running.setProgress(Self.key(3), ["done": 1])
        let renewals = running.renewals(all: false, leaseEndingBefore: now + .seconds(20))
        #expect(renewals.map(\.id).sorted() == [1, 3])
        // Once renewed, its lease is as far off as the others'.
        running.renewed([Self.key(1)], at: now, lease: .seconds(30))
        #expect(running.renewals(all: false, leaseEndingBefore: now + .seconds(20)).isEmpty)
    }

    @Test("a job claimed again with the same attempt number (snoozed, released) keeps its new entry when the old claim's slot is freed late")
    func slotOfEarlierClaim() throws {
        let running = RunningJobs()
        running.add([Self.job(1)], leaseStart: .now, lease: .seconds(30))
        let earlier = try #require(running.ended(Self.key(1)))
        running.add([Self.job(1)], leaseStart: .now, lease: .seconds(30))
        running.remove([earlier.slot])
        #expect(running.count == 1)
        #expect(Self.mayStart(running.start(Self.key(1), leaseMargin: .seconds(5))))
        let later = try #require(running.ended(Self.key(1)))
        running.remove([later.slot])
        #expect(running.count == 0)
    }

    @Test("an attempt whose job was claimed again ends with no entry of its own, and may not start; the new attempt's entry is untouched")
    func endedAfterClaimedAgain() {
        let running = RunningJobs()
        var second = Self.job(1)
        second.attempt += 1
        let secondKey = AttemptKey(id: 1, attempt: second.attempt)
        running.add([Self.job(1)], leaseStart: .now, lease: .seconds(30))
        running.add([second], leaseStart: .now, lease: .seconds(30))
        #expect(running.start(Self.key(1), leaseMargin: .seconds(5)) == .stopped(nil))
        #expect(running.ended(Self.key(1)) == nil)
        #expect(running.counts == (all: 1, handlers: 1), "the new attempt's handler is still to end")
        #expect(Self.mayStart(running.start(secondKey, leaseMargin: .seconds(5))))
        running.stop(secondKey, reason: .timeout)
        #expect(running.start(secondKey, leaseMargin: .seconds(5)) == .stopped(.timeout), "an attempt told to stop before it started does not start")
    }

    @Test("an attempt whose job is claimed again here before it was stopped (the look at its lease came late) is stopped as its entry goes")
    func displacedAttemptStopped() {
        let running = RunningJobs()
        var second = Self.job(1)
        second.attempt += 1
        var third = second
        third.attempt += 1
        let stops = Mutex(0)
        running.add([Self.job(1)], leaseStart: .now, lease: .seconds(30))
        running.setStop(Self.key(1)) { stops.withLock { $0 += 1 } }
        running.add([second], leaseStart: .now, lease: .seconds(30))
        #expect(stops.withLock { $0 } == 1)
        // One already told to stop is not told again.
        let secondKey = AttemptKey(id: 1, attempt: second.attempt)
        running.setStop(secondKey) { stops.withLock { $0 += 1 } }
        running.stop(secondKey, reason: .leaseLost)
        running.add([third], leaseStart: .now, lease: .seconds(30))
        #expect(stops.withLock { $0 } == 2)
    }

    @Test("an attempt whose timeout or lease's end has come does not start, though no look at the deadlines has stopped it yet")
    func mayNotStartPastItsTime() {
        let running = RunningJobs()
        running.add([Self.job(1, timeout: .zero)], leaseStart: .now, lease: .seconds(30))
        running.add([Self.job(2)], leaseStart: .now - .seconds(26), lease: .seconds(30))
        running.add([Self.job(3)], leaseStart: .now, lease: .seconds(30))
        #expect(running.start(Self.key(1), leaseMargin: .seconds(5)) == .stopped(.timeout))
        #expect(running.ended(Self.key(1))?.stopReason == .timeout)
        #expect(running.start(Self.key(2), leaseMargin: .seconds(5)) == .stopped(.leaseLost))
        #expect(running.ended(Self.key(2))?.stopReason == .leaseLost)
        #expect(Self.mayStart(running.start(Self.key(3), leaseMargin: .seconds(5))))
    }
}
