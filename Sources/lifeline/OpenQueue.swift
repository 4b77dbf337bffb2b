import Foundation
import Logging
import LifelinePostgres
import LifelineQueue
import LifelineRecovery
import LifelineSQLite

/// An open queue, on either store: what every command works through.
struct OpenQueue: Sendable {
    let jobs: any JobStore
    let servers: any ServerStore
    let copy: any CopySource
    /// The queue's location for messages: a file path, or a URL without its password.
    let location: String
    /// The database file as named, for a queue on SQLite: a link swapped for another is a
    /// database replaced.
    let filePath: String?
    /// The file SQLite opened: `filePath`, or the file a link there names.
    private let openedFile: String?
    private let watch: @Sendable (Logger?, @escaping @Sendable () -> Void) throws -> (any Sendable)?

    /// - Parameters:
    ///   - named: the database file as named; `file`, the file SQLite opened (a link's target).
    static func sqlite(_ jobs: SQLiteJobStore, named: String, file: String) -> OpenQueue {
        OpenQueue(jobs: jobs, servers: SQLiteServerStore(jobs: jobs), copy: jobs, location: named, filePath: named, openedFile: file) { _, onChange in
            try DatabaseChangeWatcher(databasePath: file, onChange: onChange)
        }
    }

    static func postgres(_ jobs: PostgresJobStore, location: PostgresLocation) -> OpenQueue {
        OpenQueue(jobs: jobs, servers: PostgresServerStore(jobs: jobs), copy: jobs, location: location.description, filePath: nil, openedFile: nil) { logger, onChange in
            PostgresChangeListener(location: location, logger: logger, onChange: onChange)
        }
    }

    /// Calls `onChange` soon after any process, on any host, commits a change, for as long as
    /// the returned value is kept. Throws where nothing can tell (no inotify). What befalls the
    /// watch (PostgreSQL's change feed reconnecting) goes to `logger`, by default the process's log.
    func watchChanges(logger: Logger? = nil, _ onChange: @escaping @Sendable () -> Void) throws -> (any Sendable)? {
        try watch(logger, onChange)
    }
}

extension OpenQueue {
    /// What is wrong with the queue's file, read from its header, if anything: damage that
    /// reads served from SQLite's cache would not show. Nil on PostgreSQL.
    func fileProblem() -> String? {
        filePath.flatMap(DatabaseFileCheck.problem(path:))
    }

    /// For a process that kept the queue open (a worker, `serve`) and is about to exit: on
    /// SQLite, the last connection to close moves the WAL's commits into the database file, so
    /// that a copy of that file alone, taken once every process stopped, holds them. A command
    /// that opens it briefly closes it as its store goes away; these hold it in tasks that the
    /// exit ends, and would leave the commits in the WAL.
    func closeForExit() {
        (jobs as? SQLiteJobStore)?.closeForExit()
    }

    /// For a process that keeps the queue open (a worker, `serve`, a follower or a wait): exits 1 once the database
    /// file is deleted or replaced, for what it holds is no longer the queue, after letting go
    /// of the file (see ``DatabaseSwapGuard``). Returns at once for a queue on PostgreSQL.
    func exitIfReplaced(by role: String) async {
        guard let filePath, let openedFile, let store = jobs as? SQLiteJobStore else { return }
        let swap = DatabaseSwapGuard(path: filePath, file: openedFile)
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            guard let change = swap.change else { continue }
            Output.standardError.writeLine("lifeline: the database \(filePath) \(change) under this \(role); exiting")
            if swap.mayLetGo { await swap.letGo(store) }
            Foundation.exit(1)
        }
    }
}
