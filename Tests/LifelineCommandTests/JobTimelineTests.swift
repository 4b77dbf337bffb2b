import Foundation
import LifelineQueue
import Testing

@testable import lifeline

@Suite("a job's timeline")
struct JobTimelineTests {
    @Test("an attempt's duration is never negative: a reader whose clock is behind the worker's says 0s, not -9m57s")
    func neverNegative() {
        let start = Date(ms: 1_800_000_000_000)
        let started = JobEvent(seq: 1, at: start, type: .started, job: 1, server: nil, data: ["attempt": 1, "worker": "w"])
        let running = JobTimeline(events: [started]).lines(now: start.addingTimeInterval(-597))
        #expect(running == ["  attempt 1  \(LifelineJSON.formatTime(start))  0s  w  running"], "\(running)")
        let ended = JobEvent(seq: 2, at: start.addingTimeInterval(-3_590), type: .completed, job: 1, server: nil, data: ["attempt": 1])
        let completed = JobTimeline(events: [started, ended]).lines(now: start)
        #expect(completed.first?.contains("  0s  w  completed") == true, "\(completed)")
    }

    @Test("a running attempt whose lease expired is timed to the lease's end, at most, not on as if it still ran")
    func leaseExpired() {
        let start = Date(ms: 1_800_000_000_000)
        let started = JobEvent(seq: 1, at: start, type: .started, job: 1, server: nil, data: ["attempt": 1, "worker": "w"])
        let lines = JobTimeline(events: [started]).lines(now: start.addingTimeInterval(600), leaseExpired: start.addingTimeInterval(31.5))
        #expect(lines == ["  attempt 1  \(LifelineJSON.formatTime(start))  ≤ 31s500ms  w  running, but its lease expired: its worker stopped renewing it"], "\(lines)")
    }
}
