import LifelineRecovery
import PropertyBased
import Testing

@Suite("Lifecycle properties")
struct LifecyclePropertyTests {
    /// One step a random run may take: a user action, or the current stage job ending.
    enum Step: CaseIterable, Sendable {
        case action0, action1, action2, action3, action4, action5, action6, action7, action8
        case succeed, fail, late

        var action: ServerAction? {
            let actions = ServerAction.allCases
            let index = Self.allCases.firstIndex(of: self)!
            return index < actions.count ? actions[index] : nil
        }
    }

    @Test("random event sequences stay in defined states, and every accepted action rests again")
    func randomRuns() async {
        await propertyCheck(count: 400, input: Gen<Step>.case.array(of: 1...60)) { steps in
            run(steps)
        }
    }

    private func run(_ steps: [Step]) {
        var lifecycle = Lifecycle(state: .creating, currentJob: 1, currentStage: .create)
        var nextJob: Int64 = 2
        var removed = false
        for step in steps where !removed {
            let stage = lifecycle.currentStage
            let event: LifecycleEvent
            if let action = step.action {
                event = .action(action)
            } else if step == .late {
                event = .stage(stage ?? .create, .succeeded, job: 0)
            } else if let stage, lifecycle.currentJob != nil {
                event = .stage(stage, step == .succeed ? .succeeded : .failed("injected"), job: lifecycle.currentJob!)
            } else {
                continue
            }
            let before = lifecycle
            do {
                let effects = try lifecycle.handle(event)
                for effect in effects {
                    switch effect {
                    case .enqueue:
                        lifecycle.started(job: nextJob)
                        nextJob += 1
                    case .removeServer: removed = true
                    case .cancelJob, .ignore: break
                    }
                }
                #expect(lifecycle.isResting || lifecycle.currentJob != nil || removed, "a transitional state always has a job")
                if case .action = event, !removed {
                    #expect(settles(lifecycle), "after \(event) from \(before.state)")
                }
            } catch {
                #expect(lifecycle == before, "a refused event changes nothing")
            }
        }
    }

    /// Completing every stage job from here reaches a resting state (or removal) within a
    /// bounded number of steps.
    private func settles(_ start: Lifecycle) -> Bool {
        var lifecycle = start
        var job: Int64 = 1_000_000
        for _ in 0..<10 {
            if lifecycle.isResting { return true }
            guard let jobID = lifecycle.currentJob, let stage = lifecycle.currentStage else { return false }
            guard let effects = try? lifecycle.handle(.stage(stage, .succeeded, job: jobID)) else { return false }
            if effects.contains(.removeServer) { return true }
            if effects.contains(where: { if case .enqueue = $0 { true } else { false } }) {
                lifecycle.started(job: job)
                job += 1
            }
        }
        return false
    }
}
