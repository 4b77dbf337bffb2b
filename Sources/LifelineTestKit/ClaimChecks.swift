import Foundation
import LifelineQueue
import Testing

enum ClaimChecks {
    static let all: [JobStoreConformance.Check] = [
        .init(name: "claim takes jobs in priority, run_at, id order up to its limit") { store, clock in
            let low = try await store.jobInsert([JobFixtures.job(priority: 7)])[0].job
            let first = try await store.jobInsert([JobFixtures.job(priority: 1)])[0].job
            clock.advance(by: .seconds(1))
            let second = try await store.jobInsert([JobFixtures.job(priority: 1)])[0].job
            let claimed = try await store.jobClaim(JobFixtures.claim(limit: 2)).jobs
            #expect(claimed.map(\.id) == [first.id, second.id])
            #expect(try await store.jobClaim(JobFixtures.claim(limit: 2)).jobs.map(\.id) == [low.id])
            #expect(try await store.jobClaim(JobFixtures.claim(limit: 2)).jobs.isEmpty)
        },
        .init(name: "claim marks jobs running under a lease and records the start") { store, clock in
            let job = try await store.jobInsert([JobFixtures.job()])[0].job
            let claimed = try #require(try await store.jobClaim(JobFixtures.claim("w1", lease: .seconds(30))).jobs.first)
            #expect(claimed.id == job.id && claimed.state == .running && claimed.attempt == 1)
            #expect(claimed.leaseOwner == "w1" && claimed.leaseExpiresAt == clock.now.addingTimeInterval(30))
            #expect(try await EventChecks.types(store, job: job.id) == [.enqueued, .started])
        },
        .init(name: "stats count each worker's running jobs, and those whose leases ran out") { store, clock in
            _ = try await store.jobInsert((0..<3).map { _ in JobFixtures.job() })
            _ = try await store.jobClaim(JobFixtures.claim("w1", limit: 2, lease: .seconds(10)))
            clock.advance(by: .seconds(5))
            _ = try await store.jobClaim(JobFixtures.claim("w2", limit: 1, lease: .seconds(10)))
            var stats = try await store.statsGet()
            #expect(stats.runningByWorker == ["w1": 2, "w2": 1] && stats.expiredLeasesByWorker.isEmpty)
            clock.advance(by: .seconds(6))
            stats = try await store.statsGet()
            #expect(stats.runningByWorker == ["w1": 2, "w2": 1] && stats.expiredLeasesByWorker == ["w1": 2])
        },
        .init(name: "claim takes only the requested queues") { store, _ in
            let a = try await store.jobInsert([JobFixtures.job(queue: "a")])[0].job
            _ = try await store.jobInsert([JobFixtures.job(queue: "b")])
            #expect(try await store.jobClaim(JobFixtures.claim(queues: ["a", "c"])).jobs.map(\.id) == [a.id])
        },
        .init(name: "an empty queue list claims from every queue") { store, _ in
            _ = try await store.jobInsert([JobFixtures.job(queue: "a"), JobFixtures.job(queue: "b")])
            #expect(try await store.jobClaim(JobFixtures.claim(queues: [])).jobs.count == 2)
        },
        .init(name: "a claim from every queue, or from those named, takes the first waiting jobs across them, in priority order, within each queue's room") { store, clock in
            let backlog = try await store.jobInsert((0..<3).map { _ in JobFixtures.job(queue: "backups", priority: 5) }).map(\.job.id)
            clock.advance(by: .seconds(1))
            let urgent = try await store.jobInsert([JobFixtures.job(queue: "recovery", priority: 0)])[0].job.id
            let next = try await store.jobInsert((0..<3).map { _ in JobFixtures.job(queue: "vm", priority: 1) }).map(\.job.id)
            try await store.queueUpdate("vm", QueueUpdate(limit: 2), create: false)
            #expect(try await store.jobClaim(JobFixtures.claim(queues: [], limit: 2)).jobs.map(\.id) == [urgent, next[0]])
            // vm has room for one more: the rest go to the backlog, oldest first.
            #expect(try await store.jobClaim(JobFixtures.claim(queues: [], limit: 3)).jobs.map(\.id) == [next[1], backlog[0], backlog[1]])
            // Named queues are served alike: their first waiting jobs across them, whatever the
            // order they were named in.
            let named = try await store.jobInsert([JobFixtures.job(queue: "recovery", priority: 0)])[0].job.id
            #expect(try await store.jobClaim(JobFixtures.claim(queues: ["backups", "recovery"], limit: 1)).jobs.map(\.id) == [named])
            #expect(try await store.jobClaim(JobFixtures.claim(queues: [], limit: 5)).jobs.map(\.id) == [backlog[2]])
        },
        .init(name: "a claim that leaves slots free says when work may next appear") { store, clock in
            _ = try await store.jobInsert([JobFixtures.job(runAt: clock.now.addingTimeInterval(90))])
            _ = try await store.jobInsert([JobFixtures.job(queue: "other")])
            _ = try await store.jobClaim(JobFixtures.claim(queues: ["other"], lease: .seconds(60)))
            let idle = try await store.jobClaim(JobFixtures.claim())
            #expect(idle.jobs.isEmpty && idle.nextWakeup == clock.now.addingTimeInterval(60))
        },
        .init(name: "an expired lease is taken back and the lost attempt recorded") { store, clock in
            let job = try await store.jobInsert([JobFixtures.job(backoff: Backoff(base: .seconds(1), cap: .seconds(1)))])[0].job
            _ = try await store.jobClaim(JobFixtures.claim("dead", lease: .seconds(5)))
            clock.advance(by: .seconds(4))
            #expect(try await store.jobClaim(JobFixtures.claim("alive")).jobs.isEmpty, "a held lease is never taken")
            clock.advance(by: .seconds(2))
            _ = try await store.jobClaim(JobFixtures.claim("alive")).jobs
            let rescued = try #require(try await store.jobGet(job.id))
            #expect(rescued.state == .retryable && rescued.errors.count == 1)
            #expect(rescued.errors.first?.worker == "dead" && rescued.errors.first?.attempt == 1)
            #expect(rescued.errors.first?.error.contains("lease expired") == true)
            clock.advance(by: .seconds(2))
            let again = try #require(try await store.jobClaim(JobFixtures.claim("alive")).jobs.first)
            #expect(again.id == job.id && again.attempt == 2 && again.leaseOwner == "alive")
            let stale = try await store.jobFinish([JobFinish(id: job.id, attempt: 1, owner: "dead", outcome: .completed(result: nil))])
            #expect(stale.isEmpty, "the worker that lost its lease cannot finish the new attempt")
            #expect(try await store.jobGet(job.id)?.state == .running)
        },
        .init(name: "a worker's claim leaves alone the run-out leases of jobs it says still run there; another's takes them back") { store, clock in
            let job = try await store.jobInsert([JobFixtures.job()])[0].job
            _ = try await store.jobClaim(JobFixtures.claim("busy", lease: .seconds(5)))
            clock.advance(by: .seconds(6))
            var mine = JobFixtures.claim("busy")
            mine.running = [job.id]
            let spared = try await store.jobClaim(mine)
            #expect(spared.jobs.isEmpty && spared.nextWakeup == nil, "a lease run out and spared is not waited for")
            #expect(try await store.jobGet(job.id)?.state == .running)
            var theirs = JobFixtures.claim("other")
            theirs.running = [job.id]
            _ = try await store.jobClaim(theirs)
            #expect(try await store.jobGet(job.id)?.state == .retryable, "only the lease's own worker spares it")
        },
        .init(name: "a claim whose worker stalled after making it spares the worker's leases that ran out since, not those run out before, nor another's") { store, clock in
            let early = try await store.jobInsert([JobFixtures.job()])[0].job
            _ = try await store.jobClaim(JobFixtures.claim("stalled", limit: 1, lease: .seconds(5)))
            clock.advance(by: .seconds(3))
            let late = try await store.jobInsert([JobFixtures.job()])[0].job
            _ = try await store.jobClaim(JobFixtures.claim("stalled", limit: 1, lease: .seconds(5)))
            // The leases run out at 5 s and 8 s; the request is made at 6 s, and run at 10 s.
            clock.advance(by: .seconds(7))
            var request = JobFixtures.claim("stalled", limit: 0)
            request.madeAt = .now - .seconds(4)
            _ = try await store.jobClaim(request)
            #expect(try await store.jobGet(early.id)?.state == .retryable, "run out before the request was made")
            #expect(try await store.jobGet(late.id)?.state == .running, "run out since: its end is for the worker to record")
            _ = try await store.jobClaim(JobFixtures.claim("other", limit: 0))
            #expect(try await store.jobGet(late.id)?.state == .retryable, "another worker's claim takes it back")
        },
        .init(name: "an expired lease on the last attempt discards the job") { store, clock in
            let job = try await store.jobInsert([JobFixtures.job(maxAttempts: 1)])[0].job
            _ = try await store.jobClaim(JobFixtures.claim("dead", lease: .seconds(1)))
            clock.advance(by: .seconds(2))
            _ = try await store.jobClaim(JobFixtures.claim("alive")).jobs
            #expect(try await store.jobGet(job.id)?.state == .discarded)
        },
        .init(name: "renewing extends the lease, stores progress and reports lost leases") { store, clock in
            let job = try await store.jobInsert([JobFixtures.job()])[0].job
            _ = try await store.jobClaim(JobFixtures.claim("w1", lease: .seconds(10)))
            clock.advance(by: .seconds(8))
            let statuses = try await store.jobRenewLeases(LeaseRenewal(owner: "w1", lease: .seconds(10), jobs: [
                .init(id: job.id, attempt: 1, progress: ["copied": 3]),
            ]))
            #expect(statuses[job.id] == .held)
            clock.advance(by: .seconds(8))
            #expect(try await store.jobClaim(JobFixtures.claim("w2")).jobs.isEmpty, "the renewed lease still holds")
            let renewed = try #require(try await store.jobGet(job.id))
            #expect(renewed.progress == ["copied": 3] && renewed.heartbeatAt == clock.now.addingTimeInterval(-8))
            let other = try await store.jobRenewLeases(LeaseRenewal(owner: "w2", lease: .seconds(10), jobs: [.init(id: job.id, attempt: 1)]))
            #expect(other[job.id] == .lost)
        },
        .init(name: "a queue limit caps running jobs; a paused queue is not claimed") { store, _ in
            _ = try await store.jobInsert((0..<6).map { _ in JobFixtures.job(queue: "vm") })
            try await store.queueUpdate("vm", QueueUpdate(limit: 2), create: false)
            #expect(try await store.jobClaim(JobFixtures.claim("a", queues: ["vm"])).jobs.count == 2)
            #expect(try await store.jobClaim(JobFixtures.claim("b", queues: ["vm"])).jobs.isEmpty)
            try await store.queueUpdate("vm", QueueUpdate(limit: .some(nil), paused: true), create: false)
            #expect(try await store.jobClaim(JobFixtures.claim("b", queues: ["vm"])).jobs.isEmpty)
            try await store.queueUpdate("vm", QueueUpdate(paused: false), create: false)
            #expect(try await store.jobClaim(JobFixtures.claim("b", queues: ["vm"])).jobs.count == 4)
            let info = try #require(try await store.queueList().first { $0.name == "vm" })
            #expect(info.limit == nil && !info.paused && info.counts[.running] == 6)
            await #expect(throws: JobStoreError.unknownQueue("vn", known: ["vm"])) {
                try await store.queueUpdate("vn", QueueUpdate(paused: true), create: false)
            }
            try await store.queueUpdate("later", QueueUpdate(limit: 1), create: true)
            #expect(try await store.queueList().map(\.name) == ["later", "vm"])
        },
        .init(name: "a claim records the finishes it carries first, fenced, in the same transaction") { store, _ in
            let ids = try await store.jobInsert([JobFixtures.job(), JobFixtures.job(), JobFixtures.job()]).map(\.job.id)
            let mine = try #require(try await store.jobClaim(JobFixtures.claim("w", limit: 1)).jobs.first)
            let theirs = try #require(try await store.jobClaim(JobFixtures.claim("other", limit: 1)).jobs.first)
            var request = JobFixtures.claim("w", limit: 1)
            request.finishes = [
                JobFinish(id: mine.id, attempt: 1, owner: "w", outcome: .completed(result: ["ok": true])),
                JobFinish(id: theirs.id, attempt: 1, owner: "w", outcome: .completed(result: nil)),
            ]
            let result = try await store.jobClaim(request)
            #expect(result.finished == [mine.id], "a finish without the lease does not apply")
            #expect(result.jobs.map(\.id) == [ids[2]])
            let finished = try await store.jobGet(mine.id)
            #expect(finished?.state == .completed && finished?.result == ["ok": true])
            #expect(try await store.jobGet(theirs.id)?.leaseOwner == "other")
            // Finishes go first: a released job is available again for the same claim.
            request.finishes = [JobFinish(id: ids[2], attempt: 1, owner: "w", outcome: .released)]
            let again = try await store.jobClaim(request)
            #expect(again.finished == [ids[2]] && again.jobs.map(\.id) == [ids[2]] && again.jobs.first?.attempt == 1)
        },
    ]
}
