import LifelineRecovery

/// Where `lifeline store copy` writes a queue on PostgreSQL: the whole copy is one
/// transaction on the store's connection, the schema's creation in an empty database
/// included, so a copy that fails or is killed (its connection closes) leaves the target as
/// it found it.
public struct PostgresCopyTarget: CopyTarget {
    private let store: PostgresJobStore
    /// The key of the advisory lock a copy holds for its transaction.
    private static let copyLock: Int64 = 0x4C46_4C4E_0004

    /// Begins the copy's transaction, and brings the schema up to date within it.
    /// - Parameter store: a store whose schema may be missing or older.
    public init(store: PostgresJobStore) async throws {
        self.store = store
        try await store.read { connection in
            try connection.query("BEGIN")
            do {
                // The copy's transaction waits on its source between batches, however long a
                // batch takes to read.
                try connection.query("SET LOCAL idle_in_transaction_session_timeout = 0")
                // One copy into a database at a time: the second is refused at once, rather than
                // wait on the first's schema and fail on it, or outwait its statement timeout.
                let alone = try connection.query("SELECT pg_try_advisory_xact_lock(\(Self.copyLock))").first?.decode(Bool.self) ?? false
                guard alone else { throw StoreCopyError.targetBusy }
                try PostgresSchema.migrate(connection, withinTransaction: true)
            } catch {
                _ = try? connection.query("ROLLBACK")
                throw error
            }
        }
    }

    public func copyCounts() async throws -> CopyCounts {
        try await store.copyCounts()
    }

    /// A session that lost its connection opens a new one for the next statement, outside
    /// the copy's transaction; `SAVEPOINT` fails outside a transaction, so such a batch is
    /// refused rather than committed on its own.
    public func copyInsert(_ batch: CopyBatch) async throws {
        try await store.read { connection in
            try connection.query("SAVEPOINT copy_batch")
            try PostgresJobStore.insertCopied(batch, connection)
            try connection.query("RELEASE SAVEPOINT copy_batch")
        }
    }

    public func copyFinish(jobIDFloor: Int64) async throws {
        try await store.numberAfterCopied(jobIDFloor: jobIDFloor)
    }

    /// Commits, then gives the planner the copied jobs' statistics (as a large batch does).
    /// `COMMIT` outside a transaction, or of one an error ended, only warns: the savepoint
    /// before it makes either fail. A worker already waiting on the database is told, at the
    /// commit, that jobs came.
    public func copyCommit() async throws {
        try await store.read { connection in
            try connection.query("SAVEPOINT copy_batch")
            try connection.query("SELECT pg_notify(\(PostgresSession.channel), '')")
            try connection.query("COMMIT")
        }
        try await store.analyzeJobs()
    }

    public func copyAbandon() async {
        _ = try? await store.read { _ = try $0.query("ROLLBACK") }
    }
}
