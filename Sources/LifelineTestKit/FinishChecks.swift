import Foundation
import LifelineQueue
import Testing

enum FinishChecks {
    /// Inserts one job and claims it as `worker-a`.
    static func running(_ store: any JobStore, _ job: NewJob = JobFixtures.job()) async throws -> Job {
        _ = try await store.jobInsert([job])
        return try #require(try await store.jobClaim(JobFixtures.claim(queues: [job.queue])).jobs.first)
    }

    static func finish(_ store: any JobStore, _ job: Job, _ outcome: JobOutcome, owner: String = "worker-a") async throws -> Bool {
        try await store.jobFinish([JobFinish(id: job.id, attempt: job.attempt, owner: owner, outcome: outcome)]).contains(job.id)
    }

    static let all: [JobStoreConformance.Check] = [
        .init(name: "complete stores the result; stale attempts and other owners change nothing") { store, clock in
            let job = try await running(store)
            #expect(try await !store.jobFinish([JobFinish(id: job.id, attempt: 2, owner: "worker-a", outcome: .completed(result: nil))]).contains(job.id))
            #expect(try await !finish(store, job, .failed(error: "x"), owner: "worker-b"))
            #expect(try await store.jobGet(job.id) == job, "a fenced-out finish changes nothing")
            #expect(try await finish(store, job, .completed(result: ["ok": true])))
            let done = try #require(try await store.jobGet(job.id))
            #expect(done.state == .completed && done.result == ["ok": true] && done.finishedAt == clock.now && done.leaseOwner == nil)
            #expect(try await !finish(store, job, .completed(result: nil)), "a second finish is refused")
            #expect(try await EventChecks.types(store, job: job.id) == [.enqueued, .started, .completed])
        },
        .init(name: "a finish keeps the attempt's last progress, fenced like the finish; a finish without progress keeps what was written") { store, _ in
            let job = try await running(store)
            let stale = JobFinish(id: job.id, attempt: job.attempt, owner: "worker-b", outcome: .completed(result: nil), progress: ["done": 9])
            #expect(try await !store.jobFinish([stale]).contains(job.id))
            #expect(try await store.jobGet(job.id)?.progress == nil, "a fenced-out finish writes no progress")
            let last = JobFinish(id: job.id, attempt: job.attempt, owner: "worker-a", outcome: .completed(result: nil), progress: ["done": 2, "total": 2])
            #expect(try await store.jobFinish([last]).contains(job.id))
            #expect(try await store.jobGet(job.id)?.progress == ["done": 2, "total": 2])
            let other = try await running(store)
            _ = try await store.jobRenewLeases(LeaseRenewal(owner: "worker-a", lease: .seconds(30), jobs: [.init(id: other.id, attempt: other.attempt, progress: ["done": 1])]))
            #expect(try await finish(store, other, .failed(error: "x")))
            #expect(try await store.jobGet(other.id)?.progress == ["done": 1])
        },
        .init(name: "a claim and a finish of 150 jobs at once keep every job's result and events, in the claim's order") { store, _ in
            // More than one statement's worth of rows: a batch is written 64 rows at a time.
            _ = try await store.jobInsert((0..<150).map { _ in JobFixtures.job() })
            let claimed = try await store.jobClaim(JobFixtures.claim(limit: 150)).jobs
            #expect(claimed.count == 150)
            let finishes = claimed.map { job in
                JobFinish(id: job.id, attempt: job.attempt, owner: "worker-a", outcome: .completed(result: ["n": .int(job.id), "s": "a\"b"]))
            }
            #expect(try await store.jobFinish(finishes) == Set(claimed.map(\.id)))
            for job in claimed {
                #expect(try await store.jobGet(job.id)?.result == ["n": .int(job.id), "s": "a\"b"])
            }
            let events = try await store.eventList(EventFilter(types: [.started, .completed]))
            #expect(events.map(\.job) == (claimed + claimed).map(\.id), "started in the claim's order, then completed in it")
            #expect(events.prefix(150).allSatisfy { $0.data["worker"] == "worker-a" && $0.data["attempt"] == 1 })
            try await EventChecks.expectWellFormedLog(store)
        },
        .init(name: "a failure with attempts left waits for its backoff, with the error kept") { store, clock in
            let backoff = Backoff(base: .seconds(10), cap: .seconds(100), jitter: 0.5)
            let job = try await running(store, JobFixtures.job(maxAttempts: 3, backoff: backoff))
            #expect(try await finish(store, job, .failed(error: "disk busy")))
            let failed = try #require(try await store.jobGet(job.id))
            #expect(failed.state == .retryable && failed.errors.map(\.error) == ["disk busy"])
            #expect(failed.errors[0].attempt == 1 && failed.errors[0].worker == "worker-a" && failed.errors[0].at == clock.now)
            let delay = failed.runAt.timeIntervalSince(clock.now)
            #expect(delay >= 5 && delay <= 10, "backoff after attempt 1 is within [base·(1-jitter), base]")
            #expect(try await store.jobClaim(JobFixtures.claim()).jobs.isEmpty)
            clock.advance(by: .seconds(11))
            #expect(try await store.jobClaim(JobFixtures.claim()).jobs.first?.attempt == 2)
            #expect(try await EventChecks.types(store, job: job.id) == [.enqueued, .started, .retrying, .started])
        },
        .init(name: "a failure on the last attempt discards the job") { store, _ in
            let job = try await running(store, JobFixtures.job(maxAttempts: 1))
            #expect(try await finish(store, job, .failed(error: "boom")))
            let discarded = try #require(try await store.jobGet(job.id))
            #expect(discarded.state == .discarded && discarded.finishedAt != nil && discarded.errors.count == 1)
        },
        .init(name: "a permanent failure discards at once") { store, _ in
            let job = try await running(store, JobFixtures.job(maxAttempts: 5))
            #expect(try await finish(store, job, .discarded(error: "no such disk")))
            let discarded = try #require(try await store.jobGet(job.id))
            #expect(discarded.state == .discarded && discarded.attempt == 1 && discarded.errors.map(\.error) == ["no such disk"])
        },
        .init(name: "stats counts outcomes in the last 1, 5 and 15 minutes, in all and per queue") { store, clock in
            let first = try await running(store, JobFixtures.job(queue: "a"))
            #expect(try await finish(store, first, .completed(result: nil)))
            clock.advance(by: .seconds(120))
            let second = try await running(store, JobFixtures.job(queue: "a"))
            #expect(try await finish(store, second, .completed(result: nil)))
            let retried = try await running(store, JobFixtures.job(queue: "b", maxAttempts: 2))
            #expect(try await finish(store, retried, .failed(error: "x")))
            let discarded = try await running(store, JobFixtures.job(queue: "b", maxAttempts: 1))
            #expect(try await finish(store, discarded, .failed(error: "y")))
            let figures = { (windows: [QueueStats.Window]?) in (windows ?? []).map { [$0.minutes, $0.completed, $0.failedAttempts, $0.discarded] } }
            let windows = { try await store.statsGet() }
            var stats = try await windows()
            #expect(figures(stats.windows) == [[1, 1, 2, 1], [5, 2, 2, 1], [15, 2, 2, 1]])
            #expect(figures(stats.windowsByQueue["a"]) == [[1, 1, 0, 0], [5, 2, 0, 0], [15, 2, 0, 0]])
            #expect(figures(stats.windowsByQueue["b"]) == [[1, 0, 2, 1], [5, 0, 2, 1], [15, 0, 2, 1]])
            #expect(stats.windowsByQueue.count == 2)
            clock.advance(by: .seconds(400))
            stats = try await windows()
            #expect(figures(stats.windows) == [[1, 0, 0, 0], [5, 0, 0, 0], [15, 2, 2, 1]])
            #expect(figures(stats.windowsByQueue["a"]) == [[1, 0, 0, 0], [5, 0, 0, 0], [15, 2, 0, 0]])
            clock.advance(by: .seconds(16 * 60))
            #expect(figures(try await windows().windows) == [[1, 0, 0, 0], [5, 0, 0, 0], [15, 0, 0, 0]])
        },
        .init(name: "snooze and release do not spend an attempt") { store, clock in
            let job = try await running(store)
            #expect(try await finish(store, job, .snoozed(delay: .seconds(30))))
            let snoozed = try #require(try await store.jobGet(job.id))
            #expect(snoozed.state == .scheduled && snoozed.attempt == 0 && snoozed.runAt == clock.now.addingTimeInterval(30))
            clock.advance(by: .seconds(31))
            let again = try #require(try await store.jobClaim(JobFixtures.claim()).jobs.first)
            #expect(again.attempt == 1)
            #expect(try await finish(store, again, .released))
            let released = try #require(try await store.jobGet(job.id))
            #expect(released.state == .available && released.attempt == 0 && released.errors.isEmpty)
        },
    ]
}
