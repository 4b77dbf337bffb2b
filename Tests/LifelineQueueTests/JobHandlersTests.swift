import Testing

@testable import LifelineQueue

@Suite("One attempt of a job at a time")
struct JobHandlersTests {
    static func attempt(_ number: Int, of id: Int64 = 1) -> Job {
        var job = RunnerMessageTests.job
        job.id = id
        job.attempt = number
        return job
    }

    static func key(_ job: Job) -> AttemptKey { AttemptKey(id: job.id, attempt: job.attempt) }

    @Test("a later attempt is held until the running one ends; a held one replaced by a later one is handed back, never started")
    func heldAndReplaced() throws {
        let handlers = JobHandlers()
        let (first, second, third) = (Self.attempt(1), Self.attempt(2), Self.attempt(3))
        guard case .now = handlers.begin(first) else { Issue.record("the first attempt was held"); return }
        guard case .held(nil) = handlers.begin(second) else { Issue.record("the second attempt was not held"); return }
        guard case .held(let replaced?) = handlers.begin(third) else { Issue.record("the second attempt was not handed back"); return }
        #expect(replaced.attempt == 2)
        #expect(handlers.ended(Self.key(second)) == nil, "an attempt that never started ends nothing")
        #expect(try #require(handlers.ended(Self.key(first))).attempt == 3)
        guard case .now = handlers.begin(Self.attempt(1, of: 2)) else { Issue.record("another job's attempt was held"); return }
        #expect(handlers.ended(Self.key(third)) == nil)
        guard case .now = handlers.begin(Self.attempt(4)) else { Issue.record("an attempt after the last ended was held"); return }
    }
}
