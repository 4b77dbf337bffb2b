#ifndef LIFELINE_WAL_WRITES_H
#define LIFELINE_WAL_WRITES_H

/// Makes the default VFS one whose WAL files gather consecutive writes into one system call
/// (see wal_writes.c). Returns SQLite's result code.
int lifeline_sqlite_gather_wal_writes(void);

#endif
