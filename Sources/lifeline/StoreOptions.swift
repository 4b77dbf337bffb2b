import ArgumentParser
import Foundation
import GRDB
import LifelineQueue
import LifelineRecovery
import LifelineSQLite

/// Where the queue lives: `--db`, else `$LIFELINE_HOME/lifeline.db`, else `./queue/lifeline.db`.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The database file (default: $LIFELINE_HOME/lifeline.db).", valueName: "PATH"))
    var db: String?

    var home: String {
        ProcessInfo.processInfo.environment["LIFELINE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "queue"
    }

    var databasePath: String {
        db ?? (home as NSString).appendingPathComponent("lifeline.db")
    }

    var infraRoot: URL {
        URL(fileURLWithPath: home).appendingPathComponent("infra")
    }

    /// Opens the store for writing; with `creating`, makes the home directory (0700) and
    /// database (0600) when missing. Finished stage jobs move their recovery servers in the
    /// same transaction.
    func openStore(creating: Bool = true) throws -> SQLiteJobStore {
        if !creating { try requireDatabase() }
        if db == nil {
            try SQLiteDatabase.ensureDirectory(home)
        } else {
            // A typo in --db must not quietly start a new queue somewhere else.
            let directory = (databasePath as NSString).deletingLastPathComponent
            guard FileManager.default.fileExists(atPath: directory.isEmpty ? "." : directory) else {
                throw CLIFailure(.notFound, "no directory \(directory) for --db \(databasePath); create it first")
            }
        }
        let lockTimeout = try self.lockTimeout()
        return try opening { SQLiteServerStore.jobStore(writer: try SQLiteDatabase.openPool(path: databasePath, lockTimeout: lockTimeout), lockTimeout: lockTimeout) }
    }

    /// Opens the store for a read command: creates nothing, writes nothing and never waits
    /// for a writer.
    func openReader() throws -> SQLiteJobStore {
        try requireDatabase()
        return try opening { SQLiteServerStore.jobStore(writer: try SQLiteDatabase.openReadOnly(path: databasePath)) }
    }

    private func requireDatabase() throws {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw CLIFailure(.notFound, "no Lifeline database at \(databasePath) (set LIFELINE_HOME or --db)")
        }
    }

    private func opening(_ open: () throws -> SQLiteJobStore) throws -> SQLiteJobStore {
        do {
            return try open()
        } catch let error as DatabaseError {
            throw CLIFailure(.runtime, "cannot open \(databasePath): \(StoreErrorText.describe(error) ?? "\(error)")")
        }
    }

    /// How long a write waits for another process's writer lock: `LIFELINE_LOCK_TIMEOUT`.
    private func lockTimeout() throws -> Duration {
        guard let text = ProcessInfo.processInfo.environment["LIFELINE_LOCK_TIMEOUT"], !text.isEmpty else { return SQLiteDatabase.defaultLockTimeout }
        return try InputParsing.duration(text, flag: "LIFELINE_LOCK_TIMEOUT")
    }

    /// The job kinds this build knows: the built-in ones and the recovery stages, which act
    /// on `infrastructure` (a worker makes it at start, so a bad setting stops it there); a
    /// command that only enqueues gives none and never builds one.
    func registry(store: SQLiteJobStore, infrastructure: (any Infrastructure)? = nil) -> JobRegistry {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        let root = infraRoot
        StageJobs.register(
            in: &registry, infrastructure: { try infrastructure ?? InfrastructureChoice.make(root: root) },
            jobState: { id in try await store.jobGet(id)?.state },
            currentJob: { name in try await SQLiteServerStore(jobs: store).serverGet(name)?.lifecycle.currentJob }
        )
        return registry
    }
}
