#ifndef LIFELINE_SQLITE_H
#define LIFELINE_SQLITE_H

/// Turns off SQLite's memory statistics, which take a process-wide mutex around every
/// allocation SQLite makes (SQLite's own performance advice: SQLITE_DEFAULT_MEMSTATUS=0;
/// Lifeline reads none of them), and keeps statement journals in memory up to 1 MiB (see
/// lifeline_sqlite.c); both take effect only before SQLite's first use in the process. Then
/// makes the default VFS one whose WAL files gather consecutive writes into one system call
/// (see wal_writes.c), which takes effect at any time. Returns SQLite's result code
/// (SQLITE_MISUSE when SQLite was in use already).
int lifeline_sqlite_configure_library(void);

/// Sets the defensive flag of `connection` (an `sqlite3 *`), which forbids editing the
/// schema through `writable_schema`; some builds of SQLite set it by default. Returns the
/// flag as it was before, or -1 if SQLite refused.
int lifeline_sqlite_set_defensive(void *connection, int on);

#endif
