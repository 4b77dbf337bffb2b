import Foundation
import GRDB
import GRDBSQLite
import LifelineQueue

/// The SQLite ``JobStore``: one GRDB writer per process, one IMMEDIATE transaction per
/// method, each appending its events in the same transaction.
public struct SQLiteJobStore: JobStore {
    let writer: any DatabaseWriter
    let clock: @Sendable () -> Date
    /// Whether leases follow steps of the host's wall clock (``WallClockSteps``): not under a
    /// clock a test moves by hand.
    let followsClockSteps: Bool
    let finishHook: (any JobFinishHook<SQLiteTransaction>)?
    private let writerLock: WriterLock?
    /// Announces commits to the processes watching the file; nil in memory.
    private let announcer: CommitAnnouncer?
    private let fullDisk = FullDiskRecovery()

    /// - Parameters:
    ///   - clock: the time every change is stamped with; tests inject their own. By default
    ///     the host's wall clock, whose steps the leases follow.
    ///   - finishHook: called inside the transaction that finishes a job, e.g. to move its
    ///     recovery server.
    ///   - lockTimeout: how long a write waits for another process's writer lock.
    public init(
        writer: any DatabaseWriter, clock: (@Sendable () -> Date)? = nil, finishHook: (any JobFinishHook<SQLiteTransaction>)? = nil,
        lockTimeout: Duration = SQLiteDatabase.defaultLockTimeout
    ) {
        self.writer = writer
        self.clock = clock ?? { Date() }
        followsClockSteps = clock == nil
        self.finishHook = finishHook
        // Only writers of a file share it with other processes.
        let shared = writer.path != ":memory:" && !writer.configuration.readonly
        writerLock = shared ? WriterLock(databasePath: writer.path, timeout: lockTimeout) : nil
        announcer = shared ? CommitAnnouncer.shared(for: writer.path) : nil
    }

    /// Runs `updates` in one IMMEDIATE transaction, entered through the writer lock; once a
    /// transaction that changed rows has committed, tells the processes watching the database
    /// (``DatabaseChangeWatcher``). One that changed nothing, such as an idle worker's claim,
    /// says nothing: its own watcher would wake it to claim again, and again.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.writeWithoutTransaction { [self] db in try commit(updates, db) }
    }

    /// ``write(_:)`` with a commit that does not wait for the disk, for what a power loss may
    /// take back: a lease renewal. Every process of a SQLite queue runs on the machine whose
    /// disk it is, so a renewal lost to a power cut is lost with every worker that could run the
    /// job twice; and the next durable commit syncs it with its own (the WAL is one file). On a
    /// machine whose syncs take a second (children flooding pipes keep the kernel's I/O path
    /// waiting for a processor), a renewal that syncs holds the writer lock that long, and the
    /// other workers' renewals queue behind it until their leases run out.
    func writeUnsynced<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.writeWithoutTransaction { [self] db in
            try db.exec("PRAGMA synchronous = NORMAL")
            let result = Result { try commit(updates, db) }
            try db.exec("PRAGMA synchronous = FULL")
            return try result.get()
        }
    }

    /// ``write(_:)`` on the calling thread, for a command that writes once and exits: it then
    /// starts no thread of Swift concurrency's.
    func writeNow<T>(_ updates: (Database) throws -> T) throws -> T {
        try writer.writeWithoutTransaction { db in try commit(updates, db) }
    }

    /// Runs `updates` in one IMMEDIATE transaction on the writer's connection, as ``write(_:)``
    /// does; for work that must also run on the writer's thread before or after it.
    func commit<T>(_ updates: (Database) throws -> T, _ db: Database) throws -> T {
        do {
            return try Self.committing(on: db.connectionHandle, lock: writerLock, announce: { announcer?.committed() }) {
                var result: T?
                fullDisk.beforeWrite(db)
                do {
                    try db.inTransaction(.immediate) {
                        result = try updates(db)
                        return .commit
                    }
                } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
                    fullDisk.struck(db)
                    throw error
                }
                return result!
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw DatabaseLocked()
        }
    }

    /// Runs `transaction` through the writer lock and, once it has committed a change, calls
    /// `announce` to tell the processes watching the database.
    static func committing<T>(on connection: OpaquePointer, lock: WriterLock?, announce: () -> Void, _ transaction: () throws -> T) throws -> T {
        let changesBefore = sqlite3_total_changes(connection)
        let result = try lock.map { try $0.hold(transaction) } ?? transaction()
        if sqlite3_total_changes(connection) != changesBefore { announce() }
        return result
    }

    /// Runs `body` in one write transaction, as the domain's steps see it.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteTransaction) throws -> T) async throws -> T {
        try await write { [clock, finishHook] db in try body(SQLiteTransaction(db: db, nowMs: clock().ms, hook: finishHook)) }
    }

    /// Closes the database: the store answers nothing after.
    public func close() throws {
        try writer.close()
    }

    /// Closes the database for a process about to exit, and leaves the connection's object
    /// for the exit to reclaim: its deinitializer unregisters notification observers, which
    /// costs the runtime type lookups worth a tenth of a one-job enqueue, for nothing at exit.
    /// A pool's readers close first: the last connection to close moves the WAL's commits into
    /// the database file, and a reader cannot (GRDB closes a pool's writer first). A close that
    /// fails leaves what any exit leaves: the committed data, and the WAL file the next
    /// connection reads.
    public func closeForExit() {
        (writer as? DatabasePool)?.releaseMemory()
        try? writer.close()
        _ = Unmanaged.passRetained(writer as AnyObject)
    }

    /// Moves every commit in the WAL into the database file and empties the WAL, so the file
    /// alone holds the queue; false when a reader held part of it back.
    func emptyWAL() async throws -> Bool {
        try await writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") == 0 }
    }

    public var now: Date { clock() }

    /// Milliseconds since 1970, the unit of every time column.
    func nowMs() -> Int64 {
        clock().ms
    }

    /// The time a write that compares or sets leases or retry due times stamps, read inside
    /// its transaction: those already stored have followed any step of the wall clock by then.
    func leaseTime(_ db: Database) throws -> Int64 {
        followsClockSteps ? try WallClockSteps.now(db, wallMs: nowMs) : nowMs()
    }
}
