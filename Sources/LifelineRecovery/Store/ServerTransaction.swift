import Foundation
import LifelineQueue

/// What the lifecycle does to servers inside a store's write transaction, beside what it
/// does to jobs. Each store implements it; the domain's steps (``ServerChange``,
/// ``ServerActions``, ``ServerLifecycleHook``) are written once, above every store.
public protocol ServerTransaction: JobTransaction {
    func serverGet(_ name: String) throws -> ServerInfo?
    /// Adds a server in `creating`; ``ServerStoreError/exists(_:)`` when the name is taken.
    func serverInsert(_ spec: ServerSpec) throws
    /// Saves the server's new lifecycle; a `nil` recovery point or test keeps the stored one.
    func serverSave(_ name: String, lifecycle: Lifecycle, recoveryPoint: String?, lastTest: ServerInfo.LastTest?) throws
    func serverDelete(_ name: String) throws
    /// Appends to the server's history, which outlives the server.
    func transitionAppend(_ transition: ServerTransition, server: String) throws
}
