import Foundation
import GRDBSQLite
import LifelineQueue

/// One job inserted by a command that writes once and exits, through SQLite's C API alone:
/// GRDB's connection set-up (generic collections of its own, each a scan of the binary's
/// conformance records, and a read of the schema) costs such a command more than its write.
/// The insert is the store's own, in the same transaction, lock and notice as the store's.
public enum DirectInsert {
    /// Inserts `job` into the database at `path` when it is a writable Lifeline database of
    /// this build's schema; otherwise returns nil having written nothing, and the store opened
    /// in full creates, migrates or refuses it with its own messages.
    public static func insert(_ job: NewJob, path: String, lockTimeout: Duration) throws -> InsertedJob? {
        try SQLiteDatabase.prepareLibrary()
        guard let file = try? DatabaseFileCheck.check(path: path) else { return nil }
        SQLiteDatabase.makeSidecarsWritable(path: path, file: file)
        guard let connection = DirectConnection(path: path, lockTimeout: lockTimeout)
        else { return nil }
        defer { connection.close() }
        // Whatever fails before the transaction is reported by the full store, which names
        // the file: a damaged schema too, which the journal's PRAGMA reads.
        guard (try? SQLiteDatabase.keepWALFile(connection)) != nil,
              (try? SQLiteDatabase.prepareWriter(connection)) == SchemaMigrations.version
        else { return nil }
        let lock = WriterLock(databasePath: path, timeout: lockTimeout)
        // Its one commit is announced at once, without the store's announcer: a process that
        // commits once has nothing to gather.
        return try SQLiteJobStore.committing(
            on: connection.connectionHandle, lock: lock, announce: { DatabaseChangeWatcher.announceCommit(databasePath: path) }
        ) {
            try connection.exec("BEGIN IMMEDIATE")
            do {
                // Read with the lock held, as every write's time is (see SQLiteJobStore.jobInsert).
                let inserted = try SQLiteJobStore.insert([job], connection, now: Date().ms)[0]
                try connection.exec("COMMIT")
                return inserted
            } catch {
                try? connection.exec("ROLLBACK")
                throw error
            }
        }
    }
}
