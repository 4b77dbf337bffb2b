import CLifelineSystem
import Foundation
import GRDB
import LifelinePostgres
import LifelineQueue
import LifelineRecovery
import LifelineSQLite

/// Where the queue lives: `--db`, else `LIFELINE_DATABASE_URL`, else
/// `$LIFELINE_HOME/lifeline.db`, else `./queue/lifeline.db`. Either may be a file path or a
/// PostgreSQL URL; infrastructure files stay under the home either way. Every command's
/// ``StoreOptions`` chooses it, and so do the fast paths of `enqueue` and `worker` with a ``SelectedStore``.
protocol StoreSelection {
    /// `--db`, if given.
    var db: String? { get }
    /// The flag that gave `db`, for messages.
    var dbFlag: String { get }
}

/// A store named by a value rather than by the parser's `--db`: the fast paths of `enqueue`
/// and `worker`, and a pool's runner processes.
struct SelectedStore: StoreSelection, Equatable {
    var db: String?
}

extension StoreSelection {
    var dbFlag: String { "--db" }

    var home: String {
        Environment.value("LIFELINE_HOME") ?? "queue"
    }

    /// What `--db` or `LIFELINE_DATABASE_URL` says, if either does.
    private var named: String? {
        db ?? Environment.databaseURL
    }

    /// Which of them said it, for messages about what it names.
    private var namedBy: String {
        db != nil ? dbFlag : "LIFELINE_DATABASE_URL"
    }

    /// The database file as named: by `--db`, `LIFELINE_DATABASE_URL` or the home.
    var namedDatabasePath: String {
        named ?? (home as NSString).appendingPathComponent("lifeline.db")
    }

    /// The file SQLite opens: through a symbolic link, the file it names.
    var databasePath: String {
        Self.followingLink(namedDatabasePath)
    }

    /// SQLite keeps a database's `-wal` and `-shm` beside the file a link names, so the writer
    /// lock and the watch for commits must be there too.
    private static func followingLink(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK, let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    var infraRoot: URL {
        Self.infraRoot(home: home)
    }

    private static func infraRoot(home: String) -> URL {
        URL(fileURLWithPath: home).appendingPathComponent("infra")
    }

    /// The PostgreSQL location, when the queue is in PostgreSQL.
    func postgresLocation() throws -> PostgresLocation? {
        // Another scheme would be taken for a file path, and its "directory" reported missing.
        if let named, !PostgresLocation.isURL(named), let scheme = Self.scheme(of: named) {
            throw CLIFailure(.invalidInput, "\(namedBy): '\(scheme)://' is not supported; give a file path or a postgres:// URL")
        }
        // A near miss ("postgres:/", a space before it) would be taken for a file path and
        // echoed in the messages about it, password and all: refused, and not repeated.
        if let named, !PostgresLocation.isURL(named), Self.looksLikePostgres(named) {
            throw CLIFailure(.invalidInput, "\(namedBy) looks like a mistyped PostgreSQL URL (not repeated: it may hold a password); write postgres://USER@HOST[:PORT]/DBNAME")
        }
        guard let named, PostgresLocation.isURL(named) else { return nil }
        do {
            return try PostgresLocation(url: named, environment: ProcessInfo.processInfo.environment)
        } catch let error as PostgresLocationError {
            throw CLIFailure(.invalidInput, "\(namedBy): \(error.description)")
        }
    }

    /// Keeps the queue's credentials from the programs this process's jobs run; before any job
    /// runs. They do not inherit `PGPASSWORD` when it is the queue's (see ``ProgramEnvironment``),
    /// and cannot read this process's environment or memory: a variable withheld, or unset,
    /// still shows in `/proc/PID/environ` as the process was started, to every process of its
    /// user. (The call cannot fail with the arguments it passes.)
    func withholdCredentials() throws {
        _ = lifeline_forbid_inspection()
        if try postgresLocation() != nil { ProgramEnvironment.withhold("PGPASSWORD") }
    }

    /// Opens the queue for writing; with `creating`, makes the home directory (0700) and
    /// database (0600), or the PostgreSQL schema, when missing. Finished stage jobs move their
    /// recovery servers in the same transaction. A SQLite file opens as one connection, or,
    /// with `concurrentReads` (workers, `serve`), as a pool whose reads go on beside writes.
    /// `creatingHint` says how this command would make a queue it did not find.
    func openStore(creating: Bool = true, concurrentReads: Bool = false, creatingHint: String? = nil) async throws -> OpenQueue {
        if let location = try postgresLocation() {
            return try await openPostgres(location, creating: creating, creatingHint: creatingHint)
        }
        return .sqlite(try openSQLite(creating: creating, concurrentReads: concurrentReads, creatingHint: creatingHint), named: namedDatabasePath, file: databasePath)
    }

    /// ``openStore(creating:concurrentReads:creatingHint:)`` for a queue known to be on SQLite,
    /// on the calling thread.
    func openSQLite(creating: Bool = true, concurrentReads: Bool = false, creatingHint: String? = nil) throws -> SQLiteJobStore {
        // A new one's path is refused before the home is made, so nothing is left of the attempt.
        let isNew = try !requireDatabase(creating: creating, creatingHint: creatingHint)
        if isNew {
            try opening { try SQLiteDatabase.checkPathLength(databasePath, creating: true) }
        }
        // Before the home is made: one made in another user's directory would be root's there.
        try checkOwner()
        try requireDirectory()
        let lockTimeout = try self.lockTimeout()
        let path = databasePath
        let store = try opening {
            let writer: any DatabaseWriter = concurrentReads
                ? try SQLiteDatabase.openPool(path: path, lockTimeout: lockTimeout)
                : try SQLiteDatabase.openConnection(path: path, lockTimeout: lockTimeout)
            return SQLiteServerStore.jobStore(writer: writer, lockTimeout: lockTimeout)
        }
        // The default home is the directory the command runs in: a queue made there, after a
        // `cd` elsewhere, is most likely not the one meant.
        if isNew, SQLiteDatabase.madeOne.load(ordering: .relaxed), named == nil, Environment.value("LIFELINE_HOME") == nil {
            Output.standardError.writeLine("lifeline: made a new queue in ./\(home) (LIFELINE_HOME is not set: commands run elsewhere use the queue there)")
        }
        return store
    }

    /// Whether the queue named is a SQLite file not made yet: a write refused before it is
    /// opened then leaves none made.
    func queueNotMadeYet() throws -> Bool {
        guard try postgresLocation() == nil else { return false }
        var info = stat()
        return stat(databasePath, &info) != 0 && errno == ENOENT
    }

    /// Starts a copy into the queue named (`store copy --to`): a new file, or an empty
    /// PostgreSQL queue, which keeps the copy only once it has checked out.
    func openCopyTarget() async throws -> (target: any CopyTarget, location: String) {
        if let location = try postgresLocation() {
            // The copy creates the schema in its own transaction: nothing stays of one that fails.
            let store = PostgresServerStore.jobStore(session: PostgresSession(location: location))
            return (try await PostgresCopyTarget(store: store), location.description)
        }
        try checkOwner()
        try requireDirectory()
        let (path, lockTimeout) = (databasePath, try self.lockTimeout())
        return (try opening { try SQLiteCopyTarget(path: path, lockTimeout: lockTimeout) }, path)
    }

    /// Opens the queue for a read command: creates nothing, and writes nothing and never waits
    /// for a writer unless the queue is of an older schema, which is brought up to date first,
    /// on SQLite as on PostgreSQL: a new build's reads work on the queue its last build left.
    func openReader(acceptingNewer: Bool = false) async throws -> OpenQueue {
        if let location = try postgresLocation() {
            return try await openPostgres(location, creating: false, acceptingNewer: acceptingNewer)
        }
        try requireDatabase()
        let path = databasePath
        let readOnly = { SQLiteServerStore.jobStore(writer: try SQLiteDatabase.openReadOnly(path: path, acceptingNewer: acceptingNewer)) }
        do {
            return .sqlite(try opening(readOnly), named: namedDatabasePath, file: path)
        } catch let failure as CLIFailure {
            guard case .olderSchema? = failure.cause as? DatabaseOpenError else { throw failure }
            do {
                try openSQLite(creating: false).close()
            } catch {
                throw CLIFailure(.runtime, "\(failure.description); bringing it up to date failed: \(error)", cause: failure.cause)
            }
            return .sqlite(try opening(readOnly), named: namedDatabasePath, file: path)
        }
    }

    /// The queue on PostgreSQL its URL names, its schema not looked at yet (its server does not
    /// answer): for `serve`, which comes up to say so, and checks it once the server answers.
    /// Nil for a queue on SQLite.
    func postgresUnchecked() throws -> OpenQueue? {
        guard let location = try postgresLocation() else { return nil }
        return .postgres(PostgresServerStore.jobStore(session: PostgresSession(location: location)), location: location)
    }

    private func openPostgres(_ location: PostgresLocation, creating: Bool, acceptingNewer: Bool = false, creatingHint: String? = nil) async throws -> OpenQueue {
        .postgres(try await postgresStore(location, creating: creating, acceptingNewer: acceptingNewer, creatingHint: creatingHint), location: location)
    }

    private func postgresStore(_ location: PostgresLocation, creating: Bool, acceptingNewer: Bool = false, creatingHint: String? = nil) async throws -> PostgresJobStore {
        let session = PostgresSession(location: location)
        do {
            if creating { try await session.migrate() } else { try await session.checkSchema(acceptingNewer: acceptingNewer) }
        } catch PostgresStoreError.notInitialized(let shown) {
            // A store named by another flag (store copy's --from) is not one a write would make.
            let hint = dbFlag == "--db" ? "\(creatingHint ?? "a write such as enqueue creates it"); set LIFELINE_DATABASE_URL or --db" : "named by \(namedBy)"
            throw CLIFailure(.notFound, "no Lifeline queue at \(shown) (\(hint))")
        }
        return PostgresServerStore.jobStore(session: session)
    }

    /// A typo in --db must not quietly start a new queue somewhere else: a named file's
    /// directory must exist. The home is made when missing.
    private func requireDirectory() throws {
        guard named != nil else { return try SQLiteDatabase.ensureDirectory(home) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: databaseDirectory, isDirectory: &isDirectory) else {
            throw CLIFailure(.notFound, "no directory \(databaseDirectory) for \(namedBy) \(databasePath); create it first")
        }
        guard isDirectory.boolValue else {
            throw CLIFailure(.notFound, "no directory \(databaseDirectory) for \(namedBy) \(databasePath): a file of that name is there")
        }
    }

    /// Root's writes are refused where another user owns the database, the directory it is in
    /// (or would be made in), or the link it was named by (see ``QueueOwner``).
    private func checkOwner() throws {
        try QueueOwner.check(database: databasePath, in: databaseDirectory)
        if namedDatabasePath != databasePath { try QueueOwner.check(namedDatabasePath) }
    }

    /// The directory the database file is in: "." for a bare file name.
    private var databaseDirectory: String {
        let directory = PathText.directory(of: databasePath)
        return directory.isEmpty ? "." : directory
    }

    /// The database must exist, unless `creating`; either way, one hidden from this user by a
    /// directory it may not enter is said to be, not taken for missing (nor made again).
    /// Returns whether it exists.
    @discardableResult
    private func requireDatabase(creating: Bool = false, creatingHint: String? = nil) throws -> Bool {
        var info = stat()
        guard stat(databasePath, &info) == 0 else {
            if errno == EACCES { throw CLIFailure(.runtime, "cannot read \(databasePath): permission denied") }
            let inTheWay = errno == ENOTDIR ? ": a file is in the way of its directory" : ""
            if creating { return false }
            let hint = named == nil ? "set LIFELINE_HOME or --db" : "named by \(namedBy): a file path or a postgres:// URL"
            throw CLIFailure(.notFound, "no Lifeline database at \(databasePath)\(inTheWay) (\([hint, creatingHint].compactMap { $0 }.joined(separator: "; ")))")
        }
        return true
    }

    /// SQLite says only that it could not open the database when the WAL's files it makes
    /// beside a database that has none cannot be made: a read-only mount, say.
    private func openFailure(_ error: DatabaseError) -> String {
        let writable = access(databaseDirectory, W_OK) == 0
        let why = errno
        guard error.resultCode == .SQLITE_CANTOPEN, !writable else { return StoreErrorText.describe(error) ?? "\(error)" }
        let directory = why == EROFS ? "is on a read-only mount" : "cannot be written: \(String(cString: strerror(why)))"
        return "its directory \(databaseDirectory) \(directory), where SQLite must make the database's -wal and -shm files (nothing was written)"
    }

    private func opening<Store>(_ open: () throws -> Store) throws -> Store {
        do {
            return try open()
        } catch let error as DatabaseError {
            throw CLIFailure(.runtime, "cannot open \(databasePath): \(openFailure(error))", cause: error)
        } catch let error as DatabaseOpenError {
            // A directory or a device where the database belongs is a wrong path, given by the
            // flag named, or by LIFELINE_HOME, where the file's own name is not the user's.
            switch error {
            case .directory(let path) where named == nil, .notRegularFile(let path) where named == nil:
                let what = if case .directory = error { "a directory" } else { "not a regular file (a device, pipe or socket)" }
                throw CLIFailure(.invalidInput, "\(path) is \(what), where the database file of LIFELINE_HOME (./queue when unset) belongs; move it away, or give another LIFELINE_HOME or --db")
            case .directory, .notRegularFile, .pathTooLong: throw CLIFailure(.invalidInput, error.description(flag: dbFlag))
            default: throw CLIFailure(.runtime, error.description(flag: dbFlag), cause: error)
            }
        }
    }

    /// How long a write waits for another process's writer lock: `LIFELINE_LOCK_TIMEOUT`.
    private func lockTimeout() throws -> Duration {
        guard let text = Environment.value("LIFELINE_LOCK_TIMEOUT") else { return SQLiteDatabase.defaultLockTimeout }
        return try InputParsing.duration(text, flag: "LIFELINE_LOCK_TIMEOUT")
    }

    /// The job kinds this build knows: the built-in ones and the recovery stages, which read
    /// the queue `queue` gives and act on `infrastructure` when they run (a worker makes it at
    /// start, so a bad setting stops it there). A command that only enqueues gives neither:
    /// its registry prepares jobs and runs none.
    func registry(queue: (@Sendable () async throws -> OpenQueue)? = nil, infrastructure: (any Infrastructure)? = nil) -> JobRegistry {
        var registry = JobRegistry()
        BuiltinKinds.register(in: &registry)
        // The URL is made only when a stage runs without a given infrastructure: making one is
        // a twentieth of an enqueue's start.
        let home = self.home
        let queue = queue ?? { preconditionFailure("a job ran from a registry made to enqueue") }
        StageJobs.register(
            in: &registry, infrastructure: { try infrastructure ?? InfrastructureChoice.make(root: Self.infraRoot(home: home)) },
            jobState: { id in try await queue().jobs.jobGet(id)?.state },
            currentJob: { name in try await queue().servers.serverGet(name)?.lifecycle.currentJob }
        )
        return registry
    }

    /// Inserts one job into the SQLite database when it exists and is ready, without GRDB
    /// (``DirectInsert``); nil when the store must be opened in full.
    func insertDirectly(_ job: NewJob) throws -> InsertedJob? {
        try checkOwner()
        return try DirectInsert.insert(job, path: databasePath, lockTimeout: try lockTimeout())
    }
}
