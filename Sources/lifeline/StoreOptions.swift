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

    /// Opens the store, creating the home directory (0700) and database (0600) when missing.
    /// Finished stage jobs move their recovery servers in the same transaction.
    func openStore() throws -> SQLiteJobStore {
        if db == nil { try SQLiteDatabase.ensureDirectory(home) }
        do {
            return SQLiteServerStore.jobStore(writer: try SQLiteDatabase.openPool(path: databasePath))
        } catch let error as DatabaseError {
            throw CLIFailure(.runtime, "cannot open \(databasePath): \(StoreErrorText.describe(error) ?? "\(error)")")
        }
    }

    /// The job kinds this build knows: the built-in ones and the recovery stages, which act
    /// on `infrastructure` (a worker makes it at start, so a bad setting stops it there); a
    /// command that only enqueues gives none and never builds one.
    func registry(store: SQLiteJobStore, infrastructure: (any Infrastructure)? = nil) -> JobRegistry {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        let root = infraRoot
        StageJobs.register(in: &registry, infrastructure: { try infrastructure ?? InfrastructureChoice.make(root: root) }) { id in
            try await store.jobGet(id)?.state
        }
        return registry
    }
}
