import Foundation
import LifelineQueue
import Testing

enum InsertChecks {
    static let all: [JobStoreConformance.Check] = [
        .init(name: "insert stores the job available, with its event") { store, clock in
            let inserted = try await store.jobInsert([JobFixtures.job(args: ["n": 1], server: "web-1")])
            #expect(inserted.count == 1 && inserted[0].existing == false)
            let job = try #require(try await store.jobGet(inserted[0].job.id))
            #expect(job.state == .available && job.attempt == 0 && job.args == ["n": 1] && job.server == "web-1")
            #expect(job.createdAt == clock.now && job.runAt == clock.now && job.finishedAt == nil)
            let events = try await store.eventList(EventFilter(job: job.id))
            #expect(events.map(\.type) == [.enqueued] && events[0].server == "web-1")
        },
        .init(name: "a future run_at is scheduled and is not claimed before its time") { store, clock in
            let job = try await store.jobInsert([JobFixtures.job(runAt: clock.now.addingTimeInterval(60))])[0].job
            #expect(job.state == .scheduled)
            #expect(try await store.jobClaim(JobFixtures.claim()).jobs.isEmpty)
            clock.advance(by: .seconds(61))
            #expect(try await store.jobClaim(JobFixtures.claim()).jobs.map(\.id) == [job.id])
        },
        .init(name: "a batch is all or nothing") { store, _ in
            _ = try await store.jobInsert([JobFixtures.job(key: "taken")])
            let before = try await store.jobCount(JobFilter())
            let eventsBefore = try await store.eventList(EventFilter()).count
            await #expect(throws: JobStoreError.self) {
                try await store.jobInsert([
                    JobFixtures.job(), JobFixtures.job(), JobFixtures.job(kind: "sleep", key: "taken"), JobFixtures.job(),
                ])
            }
            #expect(try await store.jobCount(JobFilter()) == before)
            #expect(try await store.eventList(EventFilter()).count == eventsBefore)
        },
        .init(name: "the same key, kind and args returns the existing job, and registers no queue of its own") { store, _ in
            let first = try await store.jobInsert([JobFixtures.job(args: ["a": 1, "b": [true, "x"]], queue: "q", key: "k")])[0]
            let again = try await store.jobInsert([JobFixtures.job(args: ["b": [true, "x"], "a": 1], queue: "other", key: "k")])[0]
            #expect(!first.existing && again.existing && again.job.id == first.job.id && again.job.queue == "q")
            #expect(try await store.jobCount(JobFilter()) == 1)
            #expect(try await EventChecks.types(store, job: first.job.id) == [.enqueued])
            #expect(try await store.queueList().map(\.name) == ["q"], "no empty queue 'other'")
        },
        .init(name: "the same key with other kind or args is a conflict") { store, _ in
            let first = try await store.jobInsert([JobFixtures.job(args: ["a": 1], key: "k")])[0].job
            await #expect(throws: JobStoreError.idempotencyConflict(key: "k", existing: first.id)) {
                try await store.jobInsert([JobFixtures.job(args: ["a": 2], key: "k")])
            }
            await #expect(throws: JobStoreError.idempotencyConflict(key: "k", existing: first.id)) {
                try await store.jobInsert([JobFixtures.job(kind: "sleep", args: ["a": 1], key: "k")])
            }
        },
        .init(name: "duplicate keys within one batch make one job") { store, _ in
            let inserted = try await store.jobInsert([JobFixtures.job(key: "k"), JobFixtures.job(key: "k")])
            #expect(inserted.map(\.existing) == [false, true] && inserted[0].job.id == inserted[1].job.id)
        },
        .init(name: "stored values read back exactly") { store, _ in
            let args: JSONValue = [
                "big": .int(Int64.max), "neg": .int(-7), "pi": .double(3.25), "text": "ünï 'quote' \"dq\" \\ ; DROP TABLE jobs; --",
                "nested": ["list": [.null, true, "\u{1F680}"]],
            ]
            let job = try await store.jobInsert([JobFixtures.job(args: args, key: "ключ 🔑")])[0].job
            let read = try #require(try await store.jobGet(job.id))
            #expect(read.args == args && read.idempotencyKey == "ключ 🔑")
        },
    ]
}
