import CLifelineSQLite
import GRDB

/// The schema, as frozen migrations. A shipped migration is never edited: changes come as
/// new migrations appended here. They are SQL (v5 and v6 edit the jobs table's definition
/// with a few lines of Swift around it) and import no application type. v6 also runs
/// ``raiseJobIDFloor(_:atLeast:)``, which a copy runs on the newest schema: it may read only
/// what schema 6 has.
enum SchemaMigrations {
    /// `PRAGMA application_id` of every Lifeline database ("LFLN"), so a file of another
    /// program is told apart before anything touches it.
    static let applicationID: Int32 = 0x4C46_4C4E

    /// The schema version this build knows, kept in `PRAGMA user_version` too.
    static let version = 10

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-jobs-events-queues") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2-servers-transitions") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3-queue-retention") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4-job-counts") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5-comparisons-not-lists") { db in
            try db.execute(sql: v5)
            try editJobsChecks(db)
        }
        migrator.registerMigration("v6-job-ids-never-reused") { db in
            try db.execute(sql: "PRAGMA user_version = 6")
            try makeJobIDsIncreasing(db)
        }
        migrator.registerMigration("v7-claim-index-of-available-jobs") { db in
            try db.execute(sql: v7)
        }
        migrator.registerMigration("v8-hot-paths-counted-by-statement") { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9-wall-clock-steps") { db in
            try db.execute(sql: v9)
        }
        migrator.registerMigration("v10-outcomes-counted-per-queue") { db in
            try db.execute(sql: v10)
        }
        return migrator
    }

    private static let v1 = """
        PRAGMA application_id = \(applicationID);
        PRAGMA user_version = 1;

        CREATE TABLE jobs (
            id               INTEGER PRIMARY KEY,
            queue            TEXT    NOT NULL,
            kind             TEXT    NOT NULL,
            args             TEXT    NOT NULL CHECK (json_valid(args)),
            state            TEXT    NOT NULL CHECK (state IN
                ('scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
            priority         INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 9),
            attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
            max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
            timeout_ms       INTEGER NOT NULL CHECK (timeout_ms > 0),
            backoff_ms       INTEGER NOT NULL CHECK (backoff_ms >= 0),
            backoff_cap_ms   INTEGER NOT NULL CHECK (backoff_cap_ms >= backoff_ms),
            backoff_jitter   REAL    NOT NULL CHECK (backoff_jitter BETWEEN 0 AND 1),
            run_at           INTEGER NOT NULL,
            lease_owner      TEXT,
            lease_expires_at INTEGER,
            heartbeat_at     INTEGER,
            progress         TEXT,
            result           TEXT,
            errors           TEXT    NOT NULL DEFAULT '[]',
            idempotency_key  TEXT,
            server           TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
            created_at       INTEGER NOT NULL,
            attempted_at     INTEGER,
            finished_at      INTEGER,
            CHECK ((state IN ('completed', 'discarded', 'cancelled')) = (finished_at IS NOT NULL)),
            CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
        );

        -- Serves the claim: WHERE queue = ? AND state = 'available' ORDER BY priority, run_at, id.
        CREATE INDEX jobs_claim ON jobs (queue, state, priority, run_at, id);
        -- Scheduled and retryable jobs that have come due.
        CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');
        -- Leases to take back from crashed workers.
        CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE INDEX jobs_server ON jobs (server, id) WHERE server IS NOT NULL;
        CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;

        CREATE TABLE events (
            seq    INTEGER PRIMARY KEY AUTOINCREMENT,
            at     INTEGER NOT NULL,
            type   TEXT    NOT NULL,
            job    INTEGER,
            server TEXT,
            data   TEXT    NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_job ON events (job, seq) WHERE job IS NOT NULL;
        CREATE INDEX events_server ON events (server, seq) WHERE server IS NOT NULL;
        -- Append-only: rows are added, and deleted only by pruning, never changed.
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        BEGIN
            SELECT RAISE(ABORT, 'events are append-only');
        END;

        CREATE TABLE queues (
            name              TEXT    PRIMARY KEY,
            concurrency_limit INTEGER CHECK (concurrency_limit IS NULL OR concurrency_limit >= 0),
            paused            INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1))
        ) WITHOUT ROWID;
        """

    private static let v2 = """
        PRAGMA user_version = 2;

        CREATE TABLE servers (
            name             TEXT    PRIMARY KEY,
            machine          TEXT    NOT NULL,
            disks            INTEGER NOT NULL CHECK (disks BETWEEN 1 AND 64),
            disk_size        INTEGER NOT NULL CHECK (disk_size > 0),
            state            TEXT    NOT NULL CHECK (state IN
                ('creating', 'standby', 'starting_failover', 'finalization', 'finalization_failed', 'failover',
                 'cancelling_failover', 'failing_back', 'ready_for_failback', 'releasing_resources',
                 'cancelling_failback', 'starting_test', 'testing_failover', 'stopping_test', 'deleting')),
            current_job      INTEGER,
            recovery_point   TEXT,
            last_error       TEXT,
            last_test_at     INTEGER,
            last_test_result TEXT,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- Every move of every server, kept after the server is removed.
        CREATE TABLE transitions (
            id         INTEGER PRIMARY KEY,
            server     TEXT    NOT NULL,
            from_state TEXT,
            to_state   TEXT,
            cause      TEXT    NOT NULL,
            job        INTEGER,
            at         INTEGER NOT NULL
        );
        CREATE INDEX transitions_server ON transitions (server, id);
        """

    /// How long each queue keeps finished jobs, in milliseconds: NULL is the default (7 days
    /// completed, 30 days discarded or cancelled), 0 keeps them forever.
    private static let v3 = """
        PRAGMA user_version = 3;

        ALTER TABLE queues ADD COLUMN retain_completed_ms INTEGER CHECK (retain_completed_ms IS NULL OR retain_completed_ms >= 0);
        ALTER TABLE queues ADD COLUMN retain_failed_ms INTEGER CHECK (retain_failed_ms IS NULL OR retain_failed_ms >= 0);
        """

    /// Counts kept by triggers in the transaction of every change, so `stats`, `queues` and
    /// `/metrics` read a few rows instead of counting a million: jobs per queue and state, and
    /// outcome events per type and second for the throughput windows (workers' pruning trims
    /// those past 15 minutes). Running jobs are left out: they are few, and read from their
    /// own index, which saves each job two of the statements its triggers would run.
    private static let v4 = """
        PRAGMA user_version = 4;

        CREATE TABLE job_counts (
            queue TEXT    NOT NULL,
            state TEXT    NOT NULL CHECK (state <> 'running'),
            n     INTEGER NOT NULL,
            PRIMARY KEY (queue, state)
        ) WITHOUT ROWID;
        INSERT INTO job_counts (queue, state, n) SELECT queue, state, count(*) FROM jobs WHERE state <> 'running' GROUP BY queue, state;

        CREATE TRIGGER jobs_counted_insert AFTER INSERT ON jobs WHEN new.state <> 'running'
        BEGIN
            INSERT INTO job_counts (queue, state, n) VALUES (new.queue, new.state, 1)
                ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER jobs_counted_delete AFTER DELETE ON jobs WHEN old.state <> 'running'
        BEGIN
            UPDATE job_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
        END;
        CREATE TRIGGER jobs_counted_leave AFTER UPDATE OF queue, state ON jobs
            WHEN old.state <> 'running' AND (old.queue IS NOT new.queue OR old.state IS NOT new.state)
        BEGIN
            UPDATE job_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
        END;
        CREATE TRIGGER jobs_counted_enter AFTER UPDATE OF queue, state ON jobs
            WHEN new.state <> 'running' AND (old.queue IS NOT new.queue OR old.state IS NOT new.state)
        BEGIN
            INSERT INTO job_counts (queue, state, n) VALUES (new.queue, new.state, 1)
                ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
        END;

        CREATE TABLE outcome_counts (
            type   TEXT    NOT NULL,
            second INTEGER NOT NULL,
            n      INTEGER NOT NULL,
            PRIMARY KEY (type, second)
        ) WITHOUT ROWID;
        INSERT INTO outcome_counts (type, second, n)
        SELECT type, at / 1000, count(*) FROM events
        WHERE type IN ('completed', 'retrying', 'discarded') AND at >= (SELECT max(at) FROM events) - 900000
        GROUP BY type, at / 1000;
        CREATE TRIGGER events_counted AFTER INSERT ON events WHEN new.type IN ('completed', 'retrying', 'discarded')
        BEGIN
            INSERT INTO outcome_counts (type, second, n) VALUES (new.type, new.at / 1000, 1)
                ON CONFLICT (type, second) DO UPDATE SET n = n + 1;
        END;
        """

    /// After IN, a list of three or more constants is a lookup table that SQLite builds again
    /// for every row a CHECK or a trigger's condition looks at (two or fewer, it compares), so
    /// the jobs table's state checks and the outcome counter's condition, met by every job
    /// change and every event, cost a worker about a tenth of its CPU. The same conditions,
    /// as comparisons.
    private static let v5 = """
        PRAGMA user_version = 5;

        DROP TRIGGER events_counted;
        CREATE TRIGGER events_counted AFTER INSERT ON events
            WHEN new.type = 'completed' OR new.type = 'retrying' OR new.type = 'discarded'
        BEGIN
            INSERT INTO outcome_counts (type, second, n) VALUES (new.type, new.at / 1000, 1)
                ON CONFLICT (type, second) DO UPDATE SET n = n + 1;
        END;
        """

    /// Job ids are never given twice: a stage attempt's fence token is its job id and attempt
    /// (see `StageFence`), and a later stage must carry a larger one. Without AUTOINCREMENT,
    /// SQLite gives a new row one more than the largest id left, so once the newest jobs were
    /// pruned their ids came back. The keyword changes the table's definition only (the file's
    /// format is the same, and the ids given so far are kept as a floor in `sqlite_sequence`),
    /// so it is written into the definition in place, as the CHECKs of schema 5 are.
    private static func makeJobIDsIncreasing(_ db: Database) throws {
        try editJobsDefinition(db, from: "id               INTEGER PRIMARY KEY,", to: "id               INTEGER PRIMARY KEY AUTOINCREMENT,")
        try raiseJobIDFloor(db)
    }

    /// Numbers new jobs after the largest id known, pruned jobs' included where events or a
    /// server's history name them, and after `atLeast` (the ids a copy's source gave).
    static func raiseJobIDFloor(_ db: Database, atLeast floor: Int64 = 0) throws {
        let known = """
            max(coalesce((SELECT max(id) FROM jobs), 0), coalesce((SELECT max(job) FROM events), 0),
                coalesce((SELECT max(job) FROM transitions), 0), ?)
            """
        try db.execute(sql: "UPDATE sqlite_sequence SET seq = max(seq, \(known)) WHERE name = 'jobs'", arguments: [floor])
        try db.execute(sql: """
            INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs', \(known)
            WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs')
            """, arguments: [floor])
    }

    /// The largest job id given so far, pruned jobs' included.
    static func jobIDFloor(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: """
            SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), coalesce((SELECT max(id) FROM jobs), 0),
                       coalesce((SELECT max(job) FROM events), 0), coalesce((SELECT max(job) FROM transitions), 0))
            """) ?? 0
    }

    /// The claim's index holds available jobs only, as PostgreSQL's does: a claim takes its jobs
    /// out and nothing after touches it. Over every state, each claim and each completion
    /// moved the job's entry (a deletion and an insertion). The floor's claim+complete (the
    /// same statements), four alternating pairs: 60,159-61,390 jobs/s before, 69,228-70,951
    /// after. Running jobs per queue are read from the lease index instead: they are few.
    private static let v7 = """
        PRAGMA user_version = 7;

        DROP INDEX jobs_claim;
        CREATE INDEX jobs_claim ON jobs (queue, priority, run_at, id) WHERE state = 'available';
        """

    /// The statements that move jobs into and out of `running` (a claim, a finish, a lease taken
    /// back) and every event written keep the counts themselves, once per statement
    /// (`KeptCounts`): a trigger runs a program of its own for each row, and a worker's claims
    /// and finishes ran three for every job. Triggers still count the rest (inserts, deletes, a
    /// job promoted, cancelled while waiting or retried), each move in one. The floor's claim
    /// and complete, six alternating pairs: 29,377-39,279 jobs/s with the triggers of schema 4,
    /// 38,375-45,741 counting as this schema does (median ratio 1.26).
    private static let v8 = """
        PRAGMA user_version = 8;

        DROP TRIGGER jobs_counted_leave;
        DROP TRIGGER jobs_counted_enter;
        DROP TRIGGER events_counted;
        CREATE TRIGGER jobs_counted_move AFTER UPDATE OF queue, state ON jobs
            WHEN old.state <> 'running' AND new.state <> 'running' AND (old.queue IS NOT new.queue OR old.state IS NOT new.state)
        BEGIN
            UPDATE job_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
            INSERT INTO job_counts (queue, state, n) VALUES (new.queue, new.state, 1)
                ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
        END;
        """

    /// Where this host's wall clock stood against its boot-time clock at the last write that
    /// looked (``WallClockSteps``): one row, for the boot it was read in. And an index of the
    /// servers by machine: a server's twins are looked up with every read of it
    /// (``ServerInfo/workloadHolderColumns``).
    private static let v9 = """
        PRAGMA user_version = 9;

        CREATE TABLE wall_clock (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            boot_id TEXT NOT NULL,
            offset_ms INTEGER NOT NULL
        );
        CREATE INDEX servers_machine ON servers (machine);
        """

    /// Outcome events are counted per queue too, for each queue's throughput. The counts of the
    /// last 15 minutes are made again from the events whose jobs are still kept.
    private static let v10 = """
        PRAGMA user_version = 10;

        DROP TABLE outcome_counts;
        CREATE TABLE outcome_counts (
            queue  TEXT    NOT NULL,
            type   TEXT    NOT NULL,
            second INTEGER NOT NULL,
            n      INTEGER NOT NULL,
            PRIMARY KEY (queue, type, second)
        ) WITHOUT ROWID;
        INSERT INTO outcome_counts (queue, type, second, n)
        SELECT j.queue, e.type, e.at / 1000, count(*) FROM events e JOIN jobs j ON j.id = e.job
        WHERE (e.type = 'completed' OR e.type = 'retrying' OR e.type = 'discarded') AND e.at >= (SELECT max(at) FROM events) - 900000
        GROUP BY j.queue, e.type, e.at / 1000;
        """

    /// The jobs table's two state CHECKs of schema 1, as comparisons. They change in wording
    /// only: every row already meets them and the file's format is the same, so the table's
    /// definition is edited in place, as SQLite documents for such changes, rather than copied
    /// row by row into a new table under the writer lock.
    private static func editJobsChecks(_ db: Database) throws {
        try editJobsDefinition(
            db,
            from: "CHECK (state IN\n        ('scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled'))",
            to: "CHECK (state = 'scheduled' OR state = 'available' OR state = 'running' OR state = 'retryable'\n"
                + "        OR state = 'completed' OR state = 'discarded' OR state = 'cancelled')"
        )
        try editJobsDefinition(
            db, from: "CHECK ((state IN ('completed', 'discarded', 'cancelled')) = (finished_at IS NOT NULL))",
            to: "CHECK ((state = 'completed' OR state = 'discarded' OR state = 'cancelled') = (finished_at IS NOT NULL))"
        )
    }

    /// Replaces `old` by `new` in the jobs table's definition, in place. Only for changes
    /// that leave the file's format as it is.
    private static func editJobsDefinition(_ db: Database, from old: String, to new: String) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        // A build of SQLite that is defensive by default would refuse the edit.
        let defensive = lifeline_sqlite_set_defensive(UnsafeMutableRawPointer(db.sqliteConnection), 0)
        defer { if defensive > 0 { _ = lifeline_sqlite_set_defensive(UnsafeMutableRawPointer(db.sqliteConnection), 1) } }
        let definition = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
        // A definition worded otherwise than the schema that made it would be left as it was: say so.
        guard let definition, definition.contains(old) else {
            throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "the jobs table is not defined as Lifeline's schema made it")
        }
        try db.execute(sql: "PRAGMA writable_schema = ON")
        defer { try? db.execute(sql: "PRAGMA writable_schema = OFF") }
        try db.execute(
            sql: "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'jobs'",
            arguments: [definition.replacingOccurrences(of: old, with: new)]
        )
        try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
    }
}
