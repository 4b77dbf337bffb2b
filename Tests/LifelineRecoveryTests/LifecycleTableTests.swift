import LifelineRecovery
import Testing

@Suite("Lifecycle table")
struct LifecycleTableTests {
    /// The actions each state allows, as the design's table lists them.
    static let allowed: [ServerState: Set<ServerAction>] = [
        .creating: [], .standby: [.failover, .testFailover, .delete], .startingFailover: [],
        .finalization: [.cancelFailover], .finalizationFailed: [.retry, .cancelFailover],
        .failover: [.failback, .cancelFailover], .cancellingFailover: [], .failingBack: [],
        .readyForFailback: [.confirmFailback, .cancelFailback], .releasingResources: [], .cancellingFailback: [],
        .startingTest: [], .testingFailover: [.stopTest], .stoppingTest: [], .deleting: [],
    ]

    /// Where each allowed action leads, and the stage it runs.
    static let actionTargets: [ServerAction: (ServerState, Stage)] = [
        .failover: (.startingFailover, .startVM), .testFailover: (.startingTest, .startTest), .delete: (.deleting, .delete),
        .cancelFailover: (.cancellingFailover, .cancelFailover), .retry: (.finalization, .finalize),
        .failback: (.failingBack, .backup), .confirmFailback: (.releasingResources, .release),
        .cancelFailback: (.cancellingFailback, .powerOn), .stopTest: (.stoppingTest, .stopTest),
    ]

    static let pairs = ServerState.allCases.flatMap { state in ServerAction.allCases.map { (state, $0) } }

    @Test("every state × every action", arguments: pairs)
    func action(_ state: ServerState, _ action: ServerAction) throws {
        var lifecycle = Lifecycle(state: state, currentJob: 7)
        if Self.allowed[state]!.contains(action) {
            let effects = try lifecycle.handle(.action(action))
            let (next, stage) = Self.actionTargets[action]!
            #expect(lifecycle.state == next)
            #expect(effects.last == .enqueue(stage, after: state == .finalization ? 7 : nil), "the cleanup waits for the copy it stops")
            #expect(effects.contains(.cancelJob(7)) == (state == .finalization), "only a running finalization is cancelled")
        } else {
            #expect(throws: LifecycleError.refused(
                action: action, state: state, allowed: ServerAction.allCases.filter { Self.allowed[state]!.contains($0) },
                busyJob: state.isResting ? nil : 7
            )) {
                try lifecycle.handle(.action(action))
            }
            #expect(lifecycle == Lifecycle(state: state, currentJob: 7), "a refused action changes nothing")
        }
    }

    /// What each stage's success and failure lead to (nil: the server is removed).
    static let stageResults: [Stage: (succeeded: (ServerState, Stage?)?, failed: (ServerState, Stage?)?)] = [
        .create: ((.standby, nil), nil),
        .startVM: ((.startingFailover, .switchWorkload), (.cancellingFailover, .cancelFailover)),
        .switchWorkload: ((.finalization, .finalize), (.cancellingFailover, .cancelFailover)),
        .finalize: ((.failover, nil), (.finalizationFailed, nil)),
        .cancelFailover: ((.standby, nil), (.cancellingFailover, .cancelFailover)),
        .backup: ((.readyForFailback, nil), (.cancellingFailback, .powerOn)),
        .release: ((.standby, nil), (.releasingResources, .release)),
        .powerOn: ((.failover, nil), (.cancellingFailback, .powerOn)),
        .startTest: ((.testingFailover, nil), (.stoppingTest, .stopTest)),
        .stopTest: ((.standby, nil), (.stoppingTest, .stopTest)),
        .delete: (nil, (.deleting, .delete)),
    ]

    static let stageCases = ServerState.allCases.flatMap { state in
        Stage.allCases.flatMap { stage in [(state, stage, true), (state, stage, false)] }
    }

    @Test("every state × every stage event", arguments: stageCases)
    func stage(_ state: ServerState, _ stage: Stage, _ succeeded: Bool) throws {
        var lifecycle = Lifecycle(state: state, currentJob: 7, currentStage: stage)
        let outcome: StageOutcome = succeeded ? .succeeded : .failed("boom")
        guard stage.state == state else {
            #expect(throws: LifecycleError.unexpected(stage: stage, state: state)) {
                try lifecycle.handle(.stage(stage, outcome, job: 7))
            }
            return
        }
        let effects = try lifecycle.handle(.stage(stage, outcome, job: 7))
        let expected = succeeded ? Self.stageResults[stage]!.succeeded : Self.stageResults[stage]!.failed
        if let (next, nextStage) = expected {
            #expect(lifecycle.state == next)
            #expect(effects == (nextStage.map { [.enqueue($0, after: nil)] } ?? []))
        } else {
            #expect(effects == [.removeServer])
        }
        #expect((lifecycle.lastError != nil) == !succeeded)
    }

    @Test("a cleanup that fails and then succeeds leaves the last error of what made it run, or none")
    func cleanupError() throws {
        var stopped = Lifecycle(state: .startingFailover, currentJob: 1, currentStage: .startVM)
        _ = try stopped.handle(.stage(.startVM, .failed("cancelled"), job: 1))
        stopped.started(job: 2)
        _ = try stopped.handle(.stage(.cancelFailover, .failed("cancelled"), job: 2))
        #expect(stopped.state == .cancellingFailover && stopped.lastError == "start-vm: cancelled")
        stopped.started(job: 3)
        _ = try stopped.handle(.stage(.cancelFailover, .succeeded, job: 3))
        #expect(stopped.state == .standby && stopped.lastError == "start-vm: cancelled", "why the failover ended")

        var asked = Lifecycle(state: .failover)
        _ = try asked.handle(.action(.cancelFailover))
        asked.started(job: 4)
        _ = try asked.handle(.stage(.cancelFailover, .failed("disk busy"), job: 4))
        #expect(asked.lastError == "cancel-failover: disk busy", "while the cleanup fails, its failure is all that went wrong")
        asked.started(job: 5)
        _ = try asked.handle(.stage(.cancelFailover, .succeeded, job: 5))
        #expect(asked.state == .standby && asked.lastError == nil)
    }

    @Test("a late or duplicate stage event is ignored", arguments: Stage.allCases)
    func lateEvent(_ stage: Stage) throws {
        var lifecycle = Lifecycle(state: stage.state, currentJob: 8, currentStage: stage)
        let effects = try lifecycle.handle(.stage(stage, .succeeded, job: 7))
        #expect(effects.count == 1 && lifecycle == Lifecycle(state: stage.state, currentJob: 8, currentStage: stage))
        guard case .ignore = effects[0] else { Issue.record("expected .ignore, got \(effects)"); return }
    }

    @Test("a refusal names the state, the allowed actions and the busy job")
    func refusalMessage() {
        let busy = LifecycleError.refused(action: .failback, state: .finalization, allowed: [.cancelFailover], busyJob: 12)
        #expect(busy.description == "cannot failback: the server is in finalization, at work on job 12; allowed: cancel-failover")
    }
}
