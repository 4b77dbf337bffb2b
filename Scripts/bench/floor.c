/*
 * The floor: Lifeline's own schema and statements (insert, claim, complete, each with its
 * event and the counts it keeps), writing the same rows and event payloads, issued straight
 * through the SQLite C API in batches, with the same durability (WAL, synchronous=FULL) and
 * nothing around them.
 * Lifeline's overhead is its ratio to this.
 *
 *   floor DB JOBS BATCH    prints {"insert_per_s": …, "claim_complete_per_s": …}
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "floor: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *statement;
    check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, NULL), db, sql);
    return statement;
}

static void exec(sqlite3 *db, const char *sql) { check(sqlite3_exec(db, sql, NULL, NULL, NULL), db, sql); }

/* The statement for `count` rows: `head`, then `row` written `count` times, then `tail`;
   prepared on first use and kept in `cache` by count. */
static sqlite3_stmt *multi_row(sqlite3 *db, sqlite3_stmt **cache, char *sql, int count, const char *head, const char *row,
                               const char *tail) {
    if (!cache[count]) {
        int length = sprintf(sql, "%s", head);
        for (int i = 0; i < count; i++) length += sprintf(sql + length, "%s%s", i ? ", " : "", row);
        sprintf(sql + length, "%s", tail);
        cache[count] = prepare(db, sql);
    }
    return cache[count];
}

/* Adds `n` to a kept count; `second` is bound where the statement has it. */
static void count(sqlite3 *db, sqlite3_stmt *statement, int n, long long second) {
    if (n == 0) return;
    sqlite3_bind_int(statement, 1, n);
    if (sqlite3_bind_parameter_count(statement) > 1) sqlite3_bind_int64(statement, 2, second);
    check(sqlite3_step(statement), db, "count");
    sqlite3_reset(statement);
}

/* The events of a batch, in its order, in one statement. */
static void append_events(sqlite3 *db, sqlite3_stmt **cache, char *sql, long long at, const char *type, long long *jobs,
                          char (*data)[96], int count) {
    if (count == 0) return;
    sqlite3_stmt *insert = multi_row(db, cache, sql, count, "INSERT INTO events (at, type, job, server, data) VALUES ",
                                     "(?1, ?2, ?, ?, ?)", "");
    sqlite3_bind_int64(insert, 1, at);
    sqlite3_bind_text(insert, 2, type, -1, SQLITE_STATIC);
    for (int i = 0; i < count; i++) {
        sqlite3_bind_int64(insert, 3 + 3 * i, jobs[i]);
        sqlite3_bind_null(insert, 4 + 3 * i);
        sqlite3_bind_text(insert, 5 + 3 * i, data[i], -1, SQLITE_STATIC);
    }
    check(sqlite3_step(insert), db, "events");
    sqlite3_reset(insert);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: floor DB JOBS BATCH\n");
        return 64;
    }
    int jobs = atoi(argv[2]), batch = atoi(argv[3]);
    sqlite3 *db;
    check(sqlite3_open(argv[1], &db), db, "open");
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000");

    // The row of a `noop` job with its kind's defaults (JobDefaults in Sources/LifelineQueue).
    sqlite3_stmt *insert = prepare(db,
        "INSERT INTO jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,"
        " backoff_jitter, run_at, created_at) VALUES ('default', 'noop', '{}', 'available', 5, 20, 1800000, 1000,"
        " 3600000, 0.2, ?1, ?1) RETURNING id");
    // The job's whole row comes back, as Lifeline's worker needs it to run the job.
    sqlite3_stmt *claim = prepare(db,
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = 'vm:12345:1h54x5f', lease_expires_at = ?1 + 30000,"
        " heartbeat_at = ?1, attempted_at = ?1 WHERE id IN (SELECT id FROM jobs WHERE queue = 'default' AND"
        " state = 'available' ORDER BY priority, run_at, id LIMIT ?2) RETURNING id, queue, kind, args, state, priority,"
        " attempt, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms, backoff_jitter, run_at, lease_owner,"
        " lease_expires_at, heartbeat_at, progress, result, errors, idempotency_key, server, cancel_requested, created_at,"
        " attempted_at, finished_at");
    // A batch's completions and events, each in one statement of as many rows as the batch,
    // every value bound (MultiRow, EventLog and SQLiteJobStore+Finish); made once per size.
    sqlite3_stmt **completes = calloc((size_t)batch + 1, sizeof *completes);
    sqlite3_stmt **events = calloc((size_t)batch + 1, sizeof *events);
    // The enqueue's single-row insert and its event, as `enqueue --batch` makes them.
    sqlite3_stmt *event = prepare(db, "INSERT INTO events (at, type, job, server, data) VALUES (?1, ?2, ?3, NULL,"
        " '{\"kind\":\"noop\",\"queue\":\"default\",\"state\":\"available\"}')");
    char *sql = malloc(32 * (size_t)batch + 512);
    char (*data)[96] = malloc(96 * (size_t)batch);

    // The kept counts, as a claim and a finish move them: once per statement (KeptCounts).
    sqlite3_stmt *taken = prepare(db, "INSERT INTO job_counts (queue, state, n) VALUES ('default', 'available', -?1)"
        " ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n");
    sqlite3_stmt *completed_jobs = prepare(db, "INSERT INTO job_counts (queue, state, n) VALUES ('default', 'completed', ?1)"
        " ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n");
    sqlite3_stmt *outcomes = prepare(db, "INSERT INTO outcome_counts (queue, type, second, n) VALUES ('default', 'completed', ?2, ?1)"
        " ON CONFLICT (queue, type, second) DO UPDATE SET n = n + excluded.n");
    double start = now();
    for (int done = 0; done < jobs; done += batch) {
        exec(db, "BEGIN IMMEDIATE");
        for (int i = 0; i < batch && done + i < jobs; i++) {
            long long at = wall_ms();
            sqlite3_bind_int64(insert, 1, at);
            check(sqlite3_step(insert), db, "insert");
            long long id = sqlite3_column_int64(insert, 0);
            sqlite3_reset(insert);
            sqlite3_bind_int64(event, 1, at);
            sqlite3_bind_text(event, 2, "enqueued", -1, SQLITE_STATIC);
            sqlite3_bind_int64(event, 3, id);
            check(sqlite3_step(event), db, "event");
            sqlite3_reset(event);
        }
        exec(db, "COMMIT");
    }
    double inserted = now() - start;

    long long *ids = malloc(sizeof(long long) * batch), *attempts = malloc(sizeof(long long) * batch);
    long long *done = malloc(sizeof(long long) * batch);
    int finished = 0;
    start = now();
    while (finished < jobs) {
        int claimed = 0;
        exec(db, "BEGIN IMMEDIATE");
        sqlite3_bind_int64(claim, 1, wall_ms());
        sqlite3_bind_int(claim, 2, batch);
        while (sqlite3_step(claim) == SQLITE_ROW) {
            ids[claimed] = sqlite3_column_int64(claim, 0);
            attempts[claimed++] = sqlite3_column_int64(claim, 6);
        }
        sqlite3_reset(claim);
        // Lifeline's started events carry the attempt, the job's kind and the worker.
        for (int i = 0; i < claimed; i++)
            sprintf(data[i], "{\"attempt\":%lld,\"kind\":\"noop\",\"worker\":\"vm:12345:1h54x5f\"}", attempts[i]);
        append_events(db, events, sql, wall_ms(), "started", ids, data, claimed);
        count(db, taken, claimed, 0);
        exec(db, "COMMIT");
        if (claimed == 0) break;
        exec(db, "BEGIN IMMEDIATE");
        long long at = wall_ms();
        sqlite3_stmt *complete = multi_row(db, completes, sql, claimed,
            "UPDATE jobs SET state = 'completed', finished_at = ?1, result = f.result, lease_owner = NULL,"
            " lease_expires_at = NULL, cancel_requested = 0 FROM (SELECT column1 AS id, column2 AS attempt,"
            " column3 AS owner, column4 AS result FROM (VALUES ", "(?, ?, ?, ?)",
            ")) AS f WHERE jobs.id = f.id AND jobs.state = 'running' AND jobs.attempt = f.attempt"
            " AND jobs.lease_owner = f.owner AND jobs.server IS NULL RETURNING jobs.id");
        sqlite3_bind_int64(complete, 1, at);
        for (int i = 0; i < claimed; i++) {
            sqlite3_bind_int64(complete, 2 + 4 * i, ids[i]);
            sqlite3_bind_int64(complete, 3 + 4 * i, attempts[i]);
            sqlite3_bind_text(complete, 4 + 4 * i, "vm:12345:1h54x5f", -1, SQLITE_STATIC);
            sqlite3_bind_null(complete, 5 + 4 * i);
        }
        int completed = 0;
        while (sqlite3_step(complete) == SQLITE_ROW) done[completed++] = sqlite3_column_int64(complete, 0);
        sqlite3_reset(complete);
        // The completed events, in the claim's order, as Lifeline writes them.
        int kept = 0;
        for (int i = 0; i < claimed; i++) {
            int found = 0;
            for (int j = 0; j < completed && !found; j++) found = done[j] == ids[i];
            if (!found) continue;
            ids[kept] = ids[i];
            sprintf(data[kept++], "{\"attempt\":%lld}", attempts[i]);
        }
        append_events(db, events, sql, at, "completed", ids, data, kept);
        count(db, completed_jobs, kept, 0);
        count(db, outcomes, kept, at / 1000);
        exec(db, "COMMIT");
        finished += claimed;
    }
    double drained = now() - start;
    printf("{\"insert_per_s\": %.0f, \"claim_complete_per_s\": %.0f}\n", jobs / inserted, finished / drained);
    sqlite3_close(db);
    return 0;
}
