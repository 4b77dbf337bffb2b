import Foundation
import LifelineQueue

/// Moves a recovery server when one of its stage jobs finishes, in the transaction that
/// finishes the job: the job's completion, its event, the transition and the next stage's
/// job commit together or not at all.
public struct ServerLifecycleHook<Transaction: ServerTransaction>: JobFinishHook {
    public init() {}

    public func jobDidFinish(_ job: Job, state: JobState, result: JSONValue?, error: String?, in transaction: Transaction) throws {
        guard let name = job.server, let stage = Stage(kind: job.kind) else { return }
        guard let server = try transaction.serverGet(name) else {
            try transaction.eventAppend(.stageIgnored, job: job.id, server: name, data: ["reason": "the server is gone"])
            return
        }
        let outcome: StageOutcome = state == .completed ? .succeeded : .failed(error ?? state.rawValue)
        var lifecycle = server.lifecycle
        let effects: [LifecycleEffect]
        do {
            effects = try lifecycle.handle(.stage(stage, outcome, job: job.id))
        } catch {
            // Persisted data the machine cannot apply: recorded, and the job still finishes.
            try transaction.eventAppend(.stageIgnored, job: job.id, server: name, data: ["reason": .string(error.description)])
            return
        }
        var moved = server
        moved.lifecycle = lifecycle
        // The recovery point a stage used ("latest" resolved) is the server's from now on.
        let point = result?["recovery_point"]?.stringValue ?? job.args["recovery_point"]?.stringValue
        moved.recoveryPoint = point ?? server.recoveryPoint
        let cause = state == .completed ? "\(stage.rawValue) succeeded" : "\(stage.rawValue) \(state.rawValue)" + Self.reason(error)
        let change = ServerChange(server: moved, before: server.lifecycle, cause: cause, causeJob: job.id, transaction: transaction)
        let action = job.args["action"]?.stringValue ?? stage.rawValue
        try change.commit(effects, action: action, recoveryPoint: point, idempotencyKey: nil)
    }

    /// A failed stage's error, kept in the history, which outlives the job and a removed
    /// server's own `last_error`: one line, its start.
    static func reason(_ error: String?) -> String {
        guard let error, !error.isEmpty else { return "" }
        let line = error.split(whereSeparator: \.isNewline).joined(separator: " ")
        return ": " + (line.count > 300 ? line.prefix(299) + "…" : line)
    }
}
