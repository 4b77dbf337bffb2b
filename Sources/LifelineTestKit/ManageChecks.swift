import Foundation
import LifelineQueue
import Testing

enum ManageChecks {
    static let all: [JobStoreConformance.Check] = [
        .init(name: "a scheduled job whose time has come waits, in stats, before any claim makes it available") { store, clock in
            _ = try await store.jobInsert([JobFixtures.job(queue: "due", runAt: clock.now.addingTimeInterval(1))])
            _ = try await store.jobInsert([JobFixtures.job(queue: "later", runAt: clock.now.addingTimeInterval(60))])
            #expect(try await store.statsGet().oldestWaiting.isEmpty)
            clock.advance(by: .seconds(5))
            #expect(try await store.statsGet().oldestWaiting == ["due": .seconds(4)])
        },
        .init(name: "cancel stops waiting jobs at once and asks running ones to stop") { store, _ in
            let waiting = try await store.jobInsert([JobFixtures.job(queue: "w")])[0].job
            let job = try await FinishChecks.running(store)
            #expect(try await store.jobCancelRequested([job.id]).isEmpty)
            let results = try await store.jobCancel([waiting.id, job.id, 999])
            #expect(results == [waiting.id: .cancelled, job.id: .requested, 999: .notFound])
            #expect(try await store.jobCancelRequested([waiting.id, job.id, 999]) == [job.id])
            #expect(try await store.jobGet(waiting.id)?.state == .cancelled)
            let statuses = try await store.jobRenewLeases(LeaseRenewal(owner: "worker-a", lease: .seconds(30), jobs: [.init(id: job.id, attempt: 1)]))
            #expect(statuses[job.id] == .cancelRequested)
            #expect(try await FinishChecks.finish(store, job, .failed(error: "stopped")))
            #expect(try await store.jobGet(job.id)?.state == .cancelled, "a cancel request wins over a retry")
            #expect(try await store.jobCancel([job.id]) == [job.id: .alreadyFinal(.cancelled)])
        },
        .init(name: "retry puts discarded and cancelled jobs back with a fresh budget") { store, _ in
            let job = try await FinishChecks.running(store, JobFixtures.job(maxAttempts: 1))
            _ = try await FinishChecks.finish(store, job, .failed(error: "boom"))
            let completed = try await FinishChecks.running(store)
            _ = try await FinishChecks.finish(store, completed, .completed(result: nil))
            let retried = try await store.jobRetry([job.id, completed.id])
            #expect(retried.map(\.id) == [job.id])
            let back = try #require(try await store.jobGet(job.id))
            // Attempts are numbered on, and as many again are allowed.
            #expect(back.state == .available && back.attempt == 1 && back.maxAttempts == 2 && back.finishedAt == nil && back.errors.count == 1)
            #expect(try await store.jobGet(completed.id)?.state == .completed)
            #expect(try await EventChecks.types(store, job: job.id).last == .retried)
        },
        .init(name: "retry makes retryable and scheduled jobs due now with a fresh budget, and leaves available and running ones") { store, clock in
            let failed = try await FinishChecks.running(store, JobFixtures.job(backoff: Backoff(base: .seconds(3600), cap: .seconds(3600))))
            _ = try await FinishChecks.finish(store, failed, .failed(error: "boom"))
            let scheduled = try await store.jobInsert([JobFixtures.job(runAt: clock.now.addingTimeInterval(3600))])[0].job
            let running = try await FinishChecks.running(store)
            let available = try await store.jobInsert([JobFixtures.job()])[0].job
            #expect(try await store.jobGet(failed.id)?.state == .retryable && scheduled.state == .scheduled)
            let retried = try await store.jobRetry([failed.id, scheduled.id, running.id, available.id])
            #expect(Set(retried.map(\.id)) == [failed.id, scheduled.id])
            for (id, attempt) in [(failed.id, 1), (scheduled.id, 0)] {
                let back = try #require(try await store.jobGet(id))
                #expect(back.state == .available && back.attempt == attempt && back.maxAttempts == attempt + failed.maxAttempts && back.runAt <= clock.now, "\(back)")
                #expect(try await EventChecks.types(store, job: id).last == .retried)
            }
            #expect(try await store.jobGet(failed.id)?.errors.count == 1, "the failed attempt stays on record")
            #expect(try await store.jobGet(running.id)?.state == .running)
            // Due now: the next claim takes both.
            let claimed = try await store.jobClaim(JobFixtures.claim(limit: 10)).jobs.map(\.id)
            #expect(Set(claimed).isSuperset(of: [failed.id, scheduled.id]), "\(claimed)")
        },
        .init(name: "prune deletes finished jobs and events older than the cutoff, but not the events of the jobs it keeps") { store, clock in
            let old = try await FinishChecks.running(store)
            _ = try await FinishChecks.finish(store, old, .completed(result: nil))
            let waiting = try await store.jobInsert([JobFixtures.job(queue: "idle")])[0].job
            // Its lease outlasts the hour: no claim takes it back meanwhile.
            _ = try await store.jobInsert([JobFixtures.job(queue: "long")])
            let running = try #require(try await store.jobClaim(JobFixtures.claim(queues: ["long"], lease: .seconds(7200))).jobs.first)
            let finishedLate = try await FinishChecks.running(store, JobFixtures.job(queue: "late"))
            clock.advance(by: .seconds(3600))
            _ = try await FinishChecks.finish(store, finishedLate, .completed(result: nil))
            let recent = try await FinishChecks.running(store)
            _ = try await FinishChecks.finish(store, recent, .completed(result: nil))
            let counted = try await store.jobPrune(before: clock.now.addingTimeInterval(-60), dryRun: true)
            #expect(counted == PruneResult(jobs: 1, events: 3), "the old job's enqueued, started and completed events")
            #expect(try await store.jobGet(old.id) != nil, "a dry run deletes nothing")
            let result = try await store.jobPrune(before: clock.now.addingTimeInterval(-60), dryRun: false)
            #expect(result == counted)
            #expect(try await store.jobGet(old.id) == nil)
            #expect(try await store.eventList(EventFilter(job: old.id)).isEmpty)
            #expect(try await store.jobGet(waiting.id) != nil)
            #expect(try await store.jobGet(running.id) != nil)
            #expect(try await store.jobGet(finishedLate.id) != nil)
            // A job kept keeps its whole history, however old its first events.
            #expect(try await store.eventList(EventFilter(job: waiting.id)).map(\.type) == [.enqueued])
            #expect(try await store.eventList(EventFilter(job: running.id)).map(\.type) == [.enqueued, .started])
            #expect(try await store.eventList(EventFilter(job: finishedLate.id)).map(\.type) == [.enqueued, .started, .completed])
            #expect(try await store.jobGet(recent.id) != nil)
            // Each deletion is said once in the log; a prune that finds nothing says nothing.
            #expect(try await store.eventList(EventFilter(types: [.pruned])).count == 1)
            #expect(try await store.jobPrune(before: clock.now.addingTimeInterval(-60), dryRun: false) == PruneResult(jobs: 0, events: 0))
            #expect(try await store.eventList(EventFilter(types: [.pruned])).count == 1)
        },
        .init(name: "workers' pruning deletes finished jobs past their queue's retention, with their events, in batches") { store, clock in
            try await store.queueUpdate("short", QueueUpdate(retainCompleted: .seconds(60), retainFailed: .seconds(120)), create: true)
            try await store.queueUpdate("kept", QueueUpdate(retainCompleted: .zero, retainFailed: .zero), create: true)
            var finished: [String: Int64] = [:]
            for queue in ["short", "kept", "default"] {
                let job = try await FinishChecks.running(store, JobFixtures.job(queue: queue))
                _ = try await FinishChecks.finish(store, job, .completed(result: nil))
                finished[queue] = job.id
            }
            let failed = try await FinishChecks.running(store, JobFixtures.job(queue: "short", maxAttempts: 1))
            _ = try await FinishChecks.finish(store, failed, .failed(error: "boom"))
            let waiting = try await store.jobInsert([JobFixtures.job(queue: "short")])[0].job
            clock.advance(by: .seconds(90))
            #expect(try await store.jobPruneExpired(batch: 1).jobs == 1, "only the completed job of 'short' is past 60 s")
            #expect(try await store.jobGet(finished["short"]!) == nil)
            #expect(try await store.eventList(EventFilter(job: finished["short"]!)).isEmpty, "its events go with it")
            #expect(try await store.jobGet(failed.id) != nil)
            clock.advance(by: .seconds(8 * 86_400))
            #expect(try await store.jobPruneExpired(batch: 1).jobs == 2, "the failed one of 'short' and the default queue's, after 7 days")
            #expect(try await store.jobGet(finished["kept"]!) != nil, "0 keeps forever")
            #expect(try await store.jobGet(waiting.id) != nil, "waiting jobs are never pruned")
        },
        .init(name: "list and count filter by state, queue, kind, server, retries and when due, and page by id") { store, clock in
            _ = try await store.jobInsert([
                JobFixtures.job(queue: "a", server: "s1"), JobFixtures.job(kind: "sleep", queue: "b"), JobFixtures.job(queue: "b"),
            ])
            let job = try #require(try await store.jobClaim(JobFixtures.claim(queues: ["a"], limit: 1)).jobs.first)
            _ = try await FinishChecks.finish(store, job, .failed(error: "x"))
            #expect(try await store.jobCount(JobFilter(queue: "b")) == 2)
            #expect(try await store.jobList(JobFilter(kind: "sleep")).count == 1)
            #expect(try await store.jobList(JobFilter(server: "s1")).map(\.id) == [job.id])
            #expect(try await store.jobList(JobFilter(retriedOnly: true)).isEmpty, "failed once, not yet attempted again")
            #expect(try await store.jobCount(JobFilter(states: [.retryable, .available])) == 3)
            let firstPage = try await store.jobList(JobFilter(limit: 2)).map(\.id)
            #expect(firstPage.count == 2 && firstPage == firstPage.sorted(by: >), "newest first")
            let nextPage = try await store.jobList(JobFilter(beforeID: firstPage.last, limit: 2)).map(\.id)
            #expect(nextPage.count == 1 && nextPage[0] < firstPage[1], "the next page goes on where the first ended")
            #expect(try await store.jobList(JobFilter(queue: "b", beforeID: firstPage.last)).count == 0)
            clock.advance(by: .seconds(3600))
            let again = try #require(try await store.jobClaim(JobFixtures.claim(queues: ["a"], limit: 1)).jobs.first)
            #expect(again.id == job.id && again.attempt == 2)
            #expect(try await store.jobList(JobFilter(retriedOnly: true)).map(\.id) == [job.id], "attempted more than once")
        },
        .init(name: "since takes the jobs created, attempted or finished since: one enqueued long ago that failed lately is among them") { store, clock in
            _ = try await store.jobInsert([JobFixtures.job(queue: "old", maxAttempts: 1), JobFixtures.job(queue: "idle")])
            clock.advance(by: .seconds(6 * 3600))
            let job = try #require(try await store.jobClaim(JobFixtures.claim(queues: ["old"], limit: 1)).jobs.first)
            #expect(try await FinishChecks.finish(store, job, .failed(error: "x")))
            _ = try await store.jobInsert([JobFixtures.job(queue: "new")])
            let since = clock.now.addingTimeInterval(-3600)
            #expect(try await store.jobList(JobFilter(activeSince: since)).map(\.queue).sorted() == ["new", "old"])
            #expect(try await store.jobCount(JobFilter(states: [.discarded], activeSince: since)) == 1, "failed within the hour")
        },
        .init(name: "every change appends its event, in order") { store, clock in
            let job = try await FinishChecks.running(store, JobFixtures.job(maxAttempts: 2, backoff: Backoff(base: .seconds(1), cap: .seconds(1))))
            _ = try await FinishChecks.finish(store, job, .failed(error: "first"))
            clock.advance(by: .seconds(2))
            let again = try #require(try await store.jobClaim(JobFixtures.claim()).jobs.first)
            _ = try await FinishChecks.finish(store, again, .failed(error: "second"))
            _ = try await store.jobRetry([job.id])
            _ = try await store.jobCancel([job.id])
            #expect(try await EventChecks.types(store, job: job.id) == [
                .enqueued, .started, .retrying, .started, .discarded, .retried, .cancelled,
            ])
            let after = try await store.eventList(EventFilter(afterSeq: 3))
            #expect(after.allSatisfy { $0.seq > 3 })
        },
    ]
}
