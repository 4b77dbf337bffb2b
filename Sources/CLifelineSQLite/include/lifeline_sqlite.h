#ifndef LIFELINE_SQLITE_H
#define LIFELINE_SQLITE_H

/// Turns off SQLite's memory statistics, which take a process-wide mutex around every
/// allocation SQLite makes (SQLite's own performance advice: SQLITE_DEFAULT_MEMSTATUS=0).
/// Lifeline reads none of them. Takes effect only before SQLite's first use in the
/// process; returns SQLite's result code (SQLITE_MISUSE after it).
int lifeline_sqlite_skip_memory_statistics(void);

#endif
