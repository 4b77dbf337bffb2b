import CLifelineSQLite
import Foundation
import Synchronization
import GRDB
import LifelineQueue
import GRDBSQLite

#if canImport(Glibc)
import Glibc
#endif

/// Opens Lifeline databases: on disk as a WAL pool shared by many processes, or in memory
/// for tests.
public enum SQLiteDatabase {
    /// How long a write waits for another process's writer lock unless told otherwise
    /// (`LIFELINE_LOCK_TIMEOUT` in the CLI).
    public static let defaultLockTimeout: Duration = .seconds(30)

    /// `UPDATE … RETURNING` and `json_insert(…, '$[#]', …)` need 3.35.
    static let minimumSQLite = (major: 3, minor: 35)

    /// Opens (creating if needed) the database at `path`, owner-only, and brings its schema
    /// up to date, as a pool whose reads do not wait for its writes: for workers and `serve`.
    /// A file that is not a Lifeline database of this or an older schema is refused untouched.
    public static func openPool(path: String, lockTimeout: Duration = defaultLockTimeout) throws -> DatabasePool {
        try openWriter(path: path, lockTimeout: lockTimeout) { try DatabasePool(path: fileName(path), configuration: $0) }
    }

    /// Like ``openPool(path:lockTimeout:)``, as one connection: for a command that writes
    /// once and exits. A pool's first open writes a transaction of its own to the empty WAL
    /// file (GRDB's guard for its readers), which is one more sync than such a command needs.
    public static func openConnection(path: String, lockTimeout: Duration = defaultLockTimeout) throws -> DatabaseQueue {
        try openWriter(path: path, lockTimeout: lockTimeout) { try DatabaseQueue(path: fileName(path), configuration: $0) }
    }

    private static func openWriter<Writer: DatabaseWriter>(
        path: String, lockTimeout: Duration, _ make: (Configuration) throws -> Writer
    ) throws -> Writer {
        try prepareLibrary()
        if !FileManager.default.fileExists(atPath: path) {
            try checkPathLength(path, creating: true)
            try create(path: path)
        }
        try checkPathLength(path, creating: false)
        makeSidecarsWritable(path: path, file: try DatabaseFileCheck.check(path: path))
        // Opening may write (a pool's first WAL frame, migrations): it goes through the writer
        // lock like any write, or processes opening at once can fail with SQLITE_BUSY.
        func openUpToDate() throws -> Writer {
            let writer = try make(configuration(lockTimeout: lockTimeout))
            let version = try writer.writeWithoutTransaction { db in try prepareWriter(db) }
            // Each migration sets user_version in its own transaction, so a current version
            // means a current schema; skipping the migrator saves every command a write.
            guard version <= SchemaMigrations.version else {
                throw DatabaseOpenError.newerSchema(path: path, version: version, known: SchemaMigrations.version)
            }
            if version < SchemaMigrations.version { try migrate(writer) }
            return writer
        }
        return try WriterLock(databasePath: path, timeout: lockTimeout).map { try $0.hold(openUpToDate) } ?? openUpToDate()
    }

    /// SQLite opens no database whose full path, links resolved, with the longest suffix of the
    /// files it keeps beside it (`-journal`), passes 512 bytes, and says only "unable to open
    /// database file". A new database is built under a longer name first (``create(path:)``):
    /// its suffix and a process id of up to 7 digits.
    /// A new database's directories may not exist yet: the part that does is resolved, and the
    /// rest counted as given, so a path too long is refused before any directory is made.
    public static func checkPathLength(_ path: String, creating: Bool) throws {
        var (resolving, rest) = creating ? (PathText.directory(of: path), [PathText.name(of: path)]) : (path, [])
        var resolved = realpath(resolving.isEmpty ? "." : resolving, nil)
        while resolved == nil && creating && errno == ENOENT && !resolving.isEmpty && resolving != "/" {
            rest.insert(PathText.name(of: resolving), at: 0)
            resolving = PathText.directory(of: resolving)
            resolved = realpath(resolving.isEmpty ? "." : resolving, nil)
        }
        guard let resolved else { return }
        defer { free(resolved) }
        let bytes = strlen(resolved) + rest.reduce(0) { $0 + 1 + $1.utf8.count }
        let limit = 512 - "-journal".utf8.count - (creating ? stagingMarker.utf8.count + 7 : 0)
        guard bytes > limit else { return }
        throw DatabaseOpenError.pathTooLong(path: path, bytes: bytes, limit: limit)
    }

    private static let stagingMarker = ".creating-"

    /// SQLite makes the WAL and its index with the mode the database file has then: a read
    /// while the file was read-only (0400) left them so, and every write failed, "read-only
    /// here", after the file was made writable again. Ours and the file's owner's, they are
    /// made writable with it (`file`: the database file's status, as its check found it).
    static func makeSidecarsWritable(path: String, file database: stat) {
        guard database.st_uid == geteuid(), database.st_mode & S_IWUSR != 0 else { return }
        for suffix in ["-wal", "-shm"] {
            let fd = open(path + suffix, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var sidecar = stat()
            guard fstat(fd, &sidecar) == 0, sidecar.st_mode & S_IFMT == S_IFREG, sidecar.st_uid == database.st_uid, sidecar.st_mode & S_IWUSR == 0
            else { continue }
            fchmod(fd, (sidecar.st_mode & 0o777) | S_IWUSR)
        }
    }

    /// Opens the existing database at `path` for reading only: nothing is created or written,
    /// no lock is taken, and a stopped or busy writer does not hold it up (WAL readers never
    /// wait for writers). Works on a full disk and on a read-only mount.
    /// `acceptingNewer` takes a file a newer Lifeline has upgraded, read by this one's code: for
    /// a pool's runner process, whose writer had the file open before the upgrade and goes on
    /// with its own code, as every process already running does.
    public static func openReadOnly(path: String, acceptingNewer: Bool = false) throws -> DatabaseQueue {
        try prepareLibrary()
        try checkPathLength(path, creating: false)
        try DatabaseFileCheck.check(path: path, acceptingNewer: acceptingNewer)
        var config = Configuration()
        config.label = "lifeline-reader"
        config.readonly = true
        config.busyMode = .timeout(5)
        let read = { (location: String) throws -> (DatabaseQueue, Int) in
            let queue = try DatabaseQueue(path: location, configuration: config)
            return (queue, try queue.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 })
        }
        let (queue, version): (DatabaseQueue, Int)
        do {
            (queue, version) = try read(fileName(path))
        } catch let error as DatabaseError where [.SQLITE_CANTOPEN, .SQLITE_READONLY].contains(error.resultCode) && !hasWALFrames(path) {
            // A reader needs the WAL and its index beside the file, and makes them when they
            // are missing; in a directory it cannot write (a read-only mount: CANTOPEN; a
            // directory without write permission: READONLY), it cannot. With no WAL frames
            // either, the file alone is the queue, and no writer can change it there: it is
            // read as it is.
            (queue, version) = try read(immutableURI(path))
        }
        guard acceptingNewer || version <= SchemaMigrations.version else {
            throw DatabaseOpenError.newerSchema(path: path, version: version, known: SchemaMigrations.version)
        }
        guard version >= SchemaMigrations.version else {
            throw DatabaseOpenError.olderSchema(path: path, version: version, known: SchemaMigrations.version)
        }
        return queue
    }

    /// Whether the WAL file beside `path` may hold commits the database file lacks.
    private static func hasWALFrames(_ path: String) -> Bool {
        var info = stat()
        return stat(path + "-wal", &info) == 0 && info.st_size > 0
    }

    /// The name SQLite opens for the file at `path`: one that starts with `file:` it takes for a
    /// URI (`file:x.db?mode=memory` names no file at all), so such a relative path gets `./`.
    static func fileName(_ path: String) -> String {
        path.hasPrefix("file:") ? "./" + path : path
    }

    /// `path` as a URI that SQLite opens as a file nothing changes (no locks, no WAL index).
    private static func immutableURI(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:" + (path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path) + "?immutable=1"
    }

    /// A private in-memory database with the current schema.
    public static func openInMemory() throws -> DatabaseQueue {
        try prepareLibrary()
        let queue = try DatabaseQueue(configuration: configuration())
        try migrate(queue)
        return queue
    }

    static func configuration(lockTimeout: Duration = defaultLockTimeout) -> Configuration {
        var config = Configuration()
        config.label = "lifeline"
        config.maximumReaderCount = 2
        config.prepareDatabase { db in
            BusyWait.install(on: db.sqliteConnection!, timeout: lockTimeout)
            try keepWALFile(db)
        }
        return config
    }

    /// Readies a connection that will write, and returns the schema version it found. SQLite
    /// opens a file it cannot write (a read-only mount) for reading: that is said now, with
    /// the file's name, rather than at the first write.
    static func prepareWriter(_ db: some StatementSource) throws -> Int {
        if sqlite3_db_readonly(db.connectionHandle, "main") == 1 { throw DatabaseError(resultCode: .SQLITE_READONLY) }
        // GRDB's pool sets synchronous=NORMAL, which can lose the last commits on power loss.
        try db.exec("PRAGMA synchronous = FULL")
        let version = try RawStatement(db, "PRAGMA user_version", [])
        defer { version.reset() }
        return try version.step() ? Int(version.int64(0)) : 0
    }

    /// The WAL file stays between connections: a command that opens, writes and closes
    /// would otherwise create it, sync its directory and delete it again, every time. With
    /// a size limit set, the last connection empties it when it closes, so the next one
    /// does not scan old frames; while open, checkpoints shrink it back to the limit.
    static func keepWALFile(_ db: some StatementSource) throws {
        var persist: Int32 = 1
        sqlite3_file_control(db.connectionHandle, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        try db.exec("PRAGMA journal_size_limit = 16777216")
    }

    private static func migrate(_ writer: some DatabaseWriter) throws {
        let migrator = SchemaMigrations.migrator
        if try writer.read({ try migrator.hasBeenSuperseded($0) }) {
            throw DatabaseOpenError.newerSchema(path: writer.path, version: -1, known: SchemaMigrations.version)
        }
        try migrator.migrate(writer)
    }

    /// Whether this process made a database (``create(path:)``), not one that another process
    /// racing it made first: a command says so only when it did.
    public static let madeOne = Atomic<Bool>(false)

    /// Creates the database beside its final path and links it in place once its schema is
    /// complete, so a crash never leaves a half-made database behind. When several processes
    /// race to create it, the first one's file wins and the others open it.
    private static func create(path: String) throws {
        let directory = PathText.directory(of: path)
        try ensureDirectory(directory.isEmpty ? "." : directory)
        removeAbandonedStaging(path: path, directory: directory.isEmpty ? "." : directory)
        let staging = path + stagingMarker + "\(getpid())"
        let fd = open(staging, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DatabaseOpenError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        close(fd)
        // SQLite's files beside the staging one, as well as itself.
        func removeStaging() {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(staging + suffix) }
        }
        do {
            // Without the shared configuration's kept WAL file: none is left beside the staging one.
            var config = Configuration()
            config.label = "lifeline-create"
            let queue = try DatabaseQueue(path: fileName(staging), configuration: config)
            // The schema is written through a rollback journal, so a write the disk refuses
            // fails its own transaction. In WAL mode it would succeed in the WAL and fail in the
            // checkpoint at close, which SQLite does not report, leaving a half-written file.
            try migrate(queue)
            // WAL lets readers go on while a writer writes; the file keeps the mode. Turning it
            // on writes the file's header only, and leaves an empty WAL that closing removes.
            guard try queue.writeWithoutTransaction({ try String.fetchOne($0, sql: "PRAGMA journal_mode = WAL") }) == "wal" else {
                throw DatabaseOpenError.cannotCreate(path: path, reason: "SQLite could not turn on WAL mode")
            }
            try queue.close()
            // link() never replaces an existing file, unlike rename().
            if link(staging, path) == 0 {
                madeOne.store(true, ordering: .relaxed)
            } else if errno != EEXIST {
                throw DatabaseOpenError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
            }
            removeStaging()
        } catch {
            removeStaging()
            throw error
        }
    }

    /// Removes what makers of the database killed before their end (SIGKILL, SIGTERM) left
    /// beside it: staging files, and SQLite's beside them, of process numbers no process has.
    /// Nothing else would: once the database exists, nothing is created aside again.
    private static func removeAbandonedStaging(path: String, directory: String) {
        let prefix = PathText.name(of: path) + stagingMarker
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasPrefix(prefix) {
            let rest = file.dropFirst(prefix.count)
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let maker = Int32(digits), maker != getpid(), ["", "-journal", "-wal", "-shm"].contains(String(rest.dropFirst(digits.count))),
                  kill(maker, 0) != 0, errno == ESRCH
            else { continue }
            unlink(directory + "/" + file)
        }
    }

    /// Creates a directory owner-only (0700), with its parents.
    public static func ensureDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw DatabaseOpenError.cannotCreate(path: path, reason: "a file is in the way of the directory")
            }
            return
        }
        // Each parent in turn, so that the reason given is the system's own for the part that failed.
        var made = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            made += (made.isEmpty || made.hasSuffix("/") ? "" : "/") + part
            if mkdir(made, 0o700) != 0 && errno != EEXIST {
                throw DatabaseOpenError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
            }
        }
    }

    /// Calls `notice` when a write of this process has waited a second for another process's
    /// writer lock and goes on waiting, with who holds it and the whole wait allowed: a command
    /// can say why it seems to hang.
    public static func onLongLockWait(_ notice: @escaping @Sendable (_ holder: LockHolder, _ timeout: Duration) -> Void) {
        WriterLock.longWaitNotice.withLock { $0 = notice }
    }

    /// Settles SQLite's process-wide settings before its first use (later calls change
    /// nothing), and refuses a library too old for Lifeline's SQL.
    static func prepareLibrary() throws {
        _ = librarySettled
        let version = String(cString: sqlite3_libversion())
        let parts = version.split(separator: ".").compactMap { Int($0) }
        guard parts.count >= 2, (parts[0], parts[1]) >= minimumSQLite else {
            throw DatabaseOpenError.sqliteTooOld(found: version, needed: "\(minimumSQLite.major).\(minimumSQLite.minor)")
        }
    }

    private static let librarySettled: Void = { _ = lifeline_sqlite_configure_library() }()
}
