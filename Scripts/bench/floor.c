/*
 * The floor: Lifeline's own schema and statements (insert, claim, complete, each with its
 * event), issued straight through the SQLite C API in batches, with the same durability
 * (WAL, synchronous=FULL) and nothing around them. Lifeline's overhead is its ratio to this.
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
    sqlite3_stmt *event = prepare(db, "INSERT INTO events (at, type, job, server, data) VALUES (?1, ?2, ?3, NULL, '{}')");
    sqlite3_stmt *claim = prepare(db,
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = 'floor', lease_expires_at = ?1 + 30000,"
        " heartbeat_at = ?1, attempted_at = ?1 WHERE id IN (SELECT id FROM jobs WHERE queue = 'default' AND"
        " state = 'available' ORDER BY priority, run_at, id LIMIT ?2) RETURNING id, attempt");
    sqlite3_stmt *complete = prepare(db,
        "UPDATE jobs SET state = 'completed', finished_at = ?1, lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id = ?2 AND state = 'running' AND attempt = ?3 AND lease_owner = 'floor'");

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
    int finished = 0;
    start = now();
    while (finished < jobs) {
        int claimed = 0;
        exec(db, "BEGIN IMMEDIATE");
        sqlite3_bind_int64(claim, 1, wall_ms());
        sqlite3_bind_int(claim, 2, batch);
        while (sqlite3_step(claim) == SQLITE_ROW) {
            ids[claimed] = sqlite3_column_int64(claim, 0);
            attempts[claimed++] = sqlite3_column_int64(claim, 1);
        }
        sqlite3_reset(claim);
        for (int i = 0; i < claimed; i++) {
            sqlite3_bind_int64(event, 1, wall_ms());
            sqlite3_bind_text(event, 2, "started", -1, SQLITE_STATIC);
            sqlite3_bind_int64(event, 3, ids[i]);
            check(sqlite3_step(event), db, "event");
            sqlite3_reset(event);
        }
        exec(db, "COMMIT");
        if (claimed == 0) break;
        exec(db, "BEGIN IMMEDIATE");
        for (int i = 0; i < claimed; i++) {
            long long at = wall_ms();
            sqlite3_bind_int64(complete, 1, at);
            sqlite3_bind_int64(complete, 2, ids[i]);
            sqlite3_bind_int64(complete, 3, attempts[i]);
            check(sqlite3_step(complete), db, "complete");
            sqlite3_reset(complete);
            sqlite3_bind_int64(event, 1, at);
            sqlite3_bind_text(event, 2, "completed", -1, SQLITE_STATIC);
            sqlite3_bind_int64(event, 3, ids[i]);
            check(sqlite3_step(event), db, "event");
            sqlite3_reset(event);
        }
        exec(db, "COMMIT");
        finished += claimed;
    }
    double drained = now() - start;
    printf("{\"insert_per_s\": %.0f, \"claim_complete_per_s\": %.0f}\n", jobs / inserted, finished / drained);
    sqlite3_close(db);
    return 0;
}
