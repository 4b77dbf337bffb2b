import Foundation
import LifelineQueue

/// A user's requests on servers, each checked, applied, recorded and its stage job enqueued
/// inside the store's transaction.
public enum ServerActions {
    public static func create(_ spec: ServerSpec, idempotencyKey: String?, in transaction: some ServerTransaction) throws -> ActionResult {
        let asked: [String: JSONValue] = ["machine": .string(spec.machine), "disks": .int(Int64(spec.disks)), "disk_size": .int(spec.diskSize)]
        if let existing = try existing(idempotencyKey, server: spec.name, action: "create", asked: asked, transaction) { return existing }
        do {
            try transaction.serverInsert(spec)
        } catch ServerStoreError.exists(_) {
            // A concurrent request under the same key may have made it since the look above
            // (PostgreSQL's insert waits for it, then finds the name taken): that is the answer.
            if let existing = try existing(idempotencyKey, server: spec.name, action: "create", asked: asked, transaction) { return existing }
            throw ServerStoreError.exists(spec.name)
        }
        let (lifecycle, effects) = Lifecycle.creating()
        var server = try transaction.serverGet(spec.name)!
        server.lifecycle = lifecycle
        let change = ServerChange(server: server, before: nil, cause: "create", causeJob: nil, transaction: transaction)
        let job = try change.commit(effects, action: "create", recoveryPoint: nil, idempotencyKey: idempotencyKey)
        return ActionResult(job: job!, existing: false, server: try transaction.serverGet(spec.name))
    }

    public static func act(
        _ name: String, action: ServerAction, recoveryPoint: String?, idempotencyKey: String?, in transaction: some ServerTransaction
    ) throws -> ActionResult {
        let point = action.takesRecoveryPoint ? recoveryPoint : nil
        // What a replay must ask again: a start's point; any other action's stages get the server's.
        let asked: [String: JSONValue] = action.takesRecoveryPoint ? ["recovery_point": point.map { .string($0) } ?? .null] : [:]
        // The server first: where transactions run side by side, its lock orders the requests
        // on it, and the key is looked up after the one before has committed.
        let current = try transaction.serverGet(name)
        if let existing = try existing(idempotencyKey, server: name, action: action.rawValue, asked: asked, transaction) { return existing }
        guard let server = current else { throw ServerStoreError.notFound(name) }
        var lifecycle = server.lifecycle
        let effects: [LifecycleEffect]
        do {
            effects = try lifecycle.handle(.action(action))
        } catch {
            // What the server allows as it shows it: no failover while a twin holds the workload.
            guard case .refused(let action, let state, _, let busyJob) = error else { throw error }
            throw LifecycleError.refused(action: action, state: state, allowed: server.allowedActions, busyJob: busyJob)
        }
        // Two servers running one machine's workload would each take its writes.
        if !server.state.holdsWorkload, lifecycle.state.holdsWorkload,
            let holder = try transaction.serversOf(machine: server.machine).first(where: { $0.name != name && $0.state.holdsWorkload })
        {
            // What it allows as it would show it now, with the holder known.
            var shown = server
            shown.workloadHolder = .init(name: holder.name, state: holder.state)
            throw LifecycleError.workloadHeld(
                action: action, machine: server.machine, by: holder.name, state: holder.state, own: server.state, allowed: shown.allowedActions
            )
        }
        var moved = server
        moved.lifecycle = lifecycle
        // A start asks for a point, or for the latest (none until its stage has resolved it),
        // never for the one the server used last.
        if action.takesRecoveryPoint { moved.recoveryPoint = point }
        // Any other action's stages act on the recovery VM the server runs: they get its point.
        let change = ServerChange(server: moved, before: server.lifecycle, cause: action.rawValue, causeJob: nil, transaction: transaction)
        let job = try change.commit(effects, action: action.rawValue, recoveryPoint: moved.recoveryPoint, idempotencyKey: idempotencyKey)
        CrashPoint.check("action.before-commit")
        return ActionResult(job: job!, existing: false, server: try transaction.serverGet(name))
    }

    /// The earlier result of the same request under an idempotency key; a key used for
    /// another server or action, or with other arguments (`asked`, as the stage job that the
    /// request enqueued holds them, absent ones as null), is a conflict.
    private static func existing(
        _ key: String?, server: String, action: String, asked: [String: JSONValue], _ transaction: some ServerTransaction
    ) throws -> ActionResult? {
        guard let key, let job = try transaction.jobGet(idempotencyKey: key) else { return nil }
        let taken = (server: job.server, action: job.args["action"]?.stringValue)
        guard taken.server == server, taken.action == action, asked.allSatisfy({ job.args[$0.key] ?? .null == $0.value }) else {
            // Named as its user asked for it, where the key is another server request's.
            guard let owner = taken.server, let request = taken.action else { throw JobStoreError.idempotencyConflict(key: key, existing: job.id) }
            let same = owner == server && request == action
            throw JobStoreError.keyTaken(key: key, existing: job.id, by: "\(request) of \(owner)" + (same ? " with other arguments" : ""))
        }
        // A request's job comes after the creation of the server it was for (a create's is it):
        // one made after it is another server of the name. Read after the server, whose row the
        // read locks where transactions run side by side: no create of the name comes between.
        let now = try transaction.serverGet(server)
        let replaced = try now != nil && (transaction.serverMadeBy(server).map { $0 > job.id } ?? false)
        return ActionResult(job: job.id, existing: true, server: now, serverReplaced: replaced)
    }
}
