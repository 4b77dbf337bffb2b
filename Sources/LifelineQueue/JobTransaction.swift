import Foundation

/// What code above the store may do inside one of the store's write transactions (as River's
/// `JobCompleteTx`): each store implements it over its own connection, so the steps commit,
/// or roll back, with the change that called them. No method here starts or ends a
/// transaction.
public protocol JobTransaction {
    /// The time the transaction's changes are stamped with.
    var now: Date { get }

    /// Inserts a job (its queue registered, its `enqueued` event appended); a taken
    /// idempotency key returns the existing job, or throws
    /// ``JobStoreError/idempotencyConflict(key:existing:)`` for other kind or args.
    func jobInsert(_ job: NewJob) throws -> InsertedJob

    /// Cancels a waiting job, or asks a running one to stop (as ``JobStore/jobCancel(_:)``).
    func jobCancel(_ id: Int64) throws -> CancelResult

    func jobGet(idempotencyKey: String) throws -> Job?

    func eventAppend(_ type: EventType, job: Int64?, server: String?, data: JSONValue) throws
}

/// Work that must happen in the same transaction as a job reaching a final state, such as
/// moving the job's recovery server. `Transaction` is what the store hands it.
public protocol JobFinishHook<Transaction>: Sendable {
    associatedtype Transaction: JobTransaction

    /// `job` is the row before the change; `state` its final state; `result` what a
    /// completed job returned; `error` the last attempt's error, if it failed.
    func jobDidFinish(_ job: Job, state: JobState, result: JSONValue?, error: String?, in transaction: Transaction) throws
}
