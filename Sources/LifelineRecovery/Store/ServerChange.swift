import Foundation
import LifelineQueue

/// Carries out a lifecycle step inside the caller's transaction: the effects (enqueue the
/// next stage, cancel a stage that no longer matters, remove the server), the new state, the
/// transition record and its event. Actions and stage completions both come through here.
struct ServerChange<Transaction: ServerTransaction> {
    var server: ServerInfo
    /// The lifecycle before the step; `nil` for a server being created.
    let before: Lifecycle?
    let cause: String
    /// The job whose completion caused the change, if any.
    let causeJob: Int64?
    let transaction: Transaction

    /// Applies the effects; returns the job enqueued for the next stage, if any.
    /// - Parameter recoveryPoint: the one the next stage's job is asked for (nil: none, or the
    ///   latest). The server shows its own (``server``'s), and none once back in standby, where
    ///   no recovery VM runs.
    @discardableResult
    func commit(_ effects: [LifecycleEffect], action: String, recoveryPoint: String?, idempotencyKey: String?) throws -> Int64? {
        var lifecycle = server.lifecycle
        var enqueued: Int64?
        var removed = false
        var cancelled: [Int64] = []
        for effect in effects {
            switch effect {
            case .cancelJob(let id):
                cancelled.append(id)
            case .enqueue(let stage, let after):
                let job = try StageJobs.newJob(
                    stage, server: server, action: action, recoveryPoint: recoveryPoint, afterJob: after, idempotencyKey: idempotencyKey
                )
                let id = try transaction.jobInsert(job).job.id
                lifecycle.started(job: id)
                enqueued = id
                CrashPoint.check("lifecycle.after-next-enqueue")
            case .removeServer:
                removed = true
            case .ignore(let reason):
                try transaction.eventAppend(.stageIgnored, job: causeJob, server: server.name, data: ["reason": .string(reason)])
                return nil
            }
        }
        if removed {
            try transaction.serverDelete(server.name)
        } else {
            let shown = lifecycle.state == .standby ? nil : server.recoveryPoint
            try transaction.serverSave(server.name, lifecycle: lifecycle, recoveryPoint: shown, lastTest: lastTest(lifecycle))
        }
        try record(from: before?.state, to: removed ? nil : lifecycle.state, job: causeJob ?? enqueued)
        CrashPoint.check("lifecycle.after-transition")
        // After the server is saved: a cancelled job's own completion then finds it moved on.
        for id in cancelled { _ = try transaction.jobCancel(id) }
        return enqueued
    }

    /// A test failover's result, kept for `server show`.
    private func lastTest(_ lifecycle: Lifecycle) -> ServerInfo.LastTest? {
        guard before?.state == .startingTest else { return nil }
        let result = lifecycle.state == .testingFailover ? "succeeded" : "failed: \(lifecycle.lastError ?? "")"
        return ServerInfo.LastTest(at: transaction.now, result: result)
    }

    /// Appends the transition to the server's history and the event log.
    func record(from: ServerState?, to: ServerState?, job: Int64?) throws {
        try transaction.transitionAppend(ServerTransition(at: transaction.now, from: from, to: to, cause: cause, job: job), server: server.name)
        try transaction.eventAppend(.stateChanged, job: job, server: server.name, data: [
            "from": from.map { .string($0.rawValue) } ?? .null, "to": to.map { .string($0.rawValue) } ?? .null,
            "cause": .string(cause),
        ])
    }
}
