import Foundation
import GRDB
import LifelineQueue

/// The SQLite ``JobStore``: one GRDB writer per process, one IMMEDIATE transaction per
/// method, each appending its events in the same transaction.
public struct SQLiteJobStore: JobStore {
    let writer: any DatabaseWriter
    let clock: @Sendable () -> Date
    let finishHook: (any JobFinishHook<SQLiteTransaction>)?
    private let writerLock: WriterLock?
    /// The database file whose commits other processes watch; nil in memory.
    private let sharedPath: String?

    /// - Parameters:
    ///   - clock: the time every change is stamped with; tests inject their own.
    ///   - finishHook: called inside the transaction that finishes a job, e.g. to move its
    ///     recovery server.
    ///   - lockTimeout: how long a write waits for another process's writer lock.
    public init(
        writer: any DatabaseWriter, clock: @escaping @Sendable () -> Date = { Date() }, finishHook: (any JobFinishHook<SQLiteTransaction>)? = nil,
        lockTimeout: Duration = SQLiteDatabase.defaultLockTimeout
    ) {
        self.writer = writer
        self.clock = clock
        self.finishHook = finishHook
        // Only writers of a file share it with other processes.
        let shared = writer.path != ":memory:" && !writer.configuration.readonly
        writerLock = shared ? WriterLock(databasePath: writer.path, timeout: lockTimeout) : nil
        sharedPath = shared ? writer.path : nil
    }

    /// Runs `updates` in one IMMEDIATE transaction, entered through the writer lock; once a
    /// transaction that changed rows has committed, tells the processes watching the database
    /// (``DatabaseChangeWatcher``). One that changed nothing, such as an idle worker's claim,
    /// says nothing: its own watcher would wake it to claim again, and again.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.writeWithoutTransaction { [writerLock, sharedPath] db in
            let changesBefore = db.totalChangesCount
            let body = {
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try updates(db)
                    return .commit
                }
                return result!
            }
            let result = try writerLock.map { try $0.hold(body) } ?? body()
            if let sharedPath, db.totalChangesCount != changesBefore {
                DatabaseChangeWatcher.announceCommit(databasePath: sharedPath)
            }
            return result
        }
    }

    /// Runs `body` in one write transaction, as the domain's steps see it.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteTransaction) throws -> T) async throws -> T {
        let now = nowMs()
        let hook = finishHook
        return try await write { db in try body(SQLiteTransaction(db: db, nowMs: now, hook: hook)) }
    }

    /// Milliseconds since 1970, the unit of every time column.
    func nowMs() -> Int64 {
        clock().ms
    }
}
