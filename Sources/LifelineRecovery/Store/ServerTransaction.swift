import Foundation
import LifelineQueue

/// What the lifecycle does to servers inside a store's write transaction, beside what it
/// does to jobs. Each store implements it; the domain's steps (``ServerChange``,
/// ``ServerActions``, ``ServerLifecycleHook``) are written once, above every store.
public protocol ServerTransaction: JobTransaction {
    /// The server as this transaction changes it. A store whose write transactions run side by
    /// side (PostgreSQL) locks its row until the commit, so that changes to one server go one
    /// after another, each seeing the one before.
    func serverGet(_ name: String) throws -> ServerInfo?
    /// The servers of `machine`, each locked as ``serverGet(_:)`` locks one: a failover takes
    /// over a machine's workload only while no other server of it holds it.
    func serversOf(machine: String) throws -> [ServerInfo]
    /// Adds a server in `creating`; ``ServerStoreError/exists(_:)`` when the name is taken.
    func serverInsert(_ spec: ServerSpec) throws
    /// Saves the server's new lifecycle and recovery point; a `nil` test keeps the stored one.
    func serverSave(_ name: String, lifecycle: Lifecycle, recoveryPoint: String?, lastTest: ServerInfo.LastTest?) throws
    func serverDelete(_ name: String) throws
    /// The stage job of the latest creation of a server of this name, from its history: the
    /// server of the name now, if there is one, was made by it.
    func serverMadeBy(_ name: String) throws -> Int64?
    /// Appends to the server's history, which outlives the server.
    func transitionAppend(_ transition: ServerTransition, server: String) throws
}

/// A server store whose actions run the domain's steps in one of the store's transactions:
/// the actions are written here once, for every store.
public protocol TransactionalServerStore: ServerStore {
    associatedtype Transaction: ServerTransaction

    /// Runs `body` in one write transaction.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (Transaction) throws -> T) async throws -> T
}

extension TransactionalServerStore {
    // A key is checked as an enqueue's, before any transaction takes the write lock.
    public func serverCreate(_ spec: ServerSpec, idempotencyKey: String?) async throws -> ActionResult {
        if let idempotencyKey { try JobLimits.checkIdempotencyKey(idempotencyKey) }
        return try await transactionRetryingConflicts { try ServerActions.create(spec, idempotencyKey: idempotencyKey, in: $0) }
    }

    public func serverAct(_ name: String, action: ServerAction, recoveryPoint: String?, idempotencyKey: String?) async throws -> ActionResult {
        if let idempotencyKey { try JobLimits.checkIdempotencyKey(idempotencyKey) }
        return try await transactionRetryingConflicts {
            try ServerActions.act(name, action: action, recoveryPoint: recoveryPoint, idempotencyKey: idempotencyKey, in: $0)
        }
    }

    /// Runs `body` in one transaction, again when the store rolled it back for a conflict with
    /// a concurrent one: an action locks its server, then its stage job, while a stage's
    /// completion locks the job, then the server, and PostgreSQL ends such a deadlock by
    /// rolling one back. A user's request is not refused for that.
    private func transactionRetryingConflicts<T: Sendable>(_ body: @escaping @Sendable (Transaction) throws -> T) async throws -> T {
        var conflicts = 0
        while true {
            do {
                return try await transaction(body)
            } catch let error as any TransactionConflict where error.isConflict && conflicts < 5 {
                conflicts += 1
            }
        }
    }
}
