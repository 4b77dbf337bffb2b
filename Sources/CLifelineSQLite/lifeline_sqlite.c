#include "lifeline_sqlite.h"
#include "wal_writes.h"

#include <sqlite3.h>

// sqlite3_config() and sqlite3_db_config() are variadic, which Swift cannot call.

// Memory statistics off: a process-wide mutex around every allocation SQLite makes. A
// statement that can be rolled back alone (an insert with its triggers) keeps the pages it
// changes in a statement journal, in memory up to a threshold, in a temporary file past it, and
// in that file for the rest of the transaction: at SQLite's 64 KiB, a batch of 100,000 keyed
// inserts wrote 0.8 GB to it, 2.9 GB once job ids never came back (AUTOINCREMENT). 1 MiB keeps
// a statement's journal in memory.
// The VFS comes last: registering it initializes SQLite, after which it takes no settings.
int lifeline_sqlite_configure_library(void) {
    int status = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (status == SQLITE_OK) status = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 1 << 20);
    int gathering = lifeline_sqlite_gather_wal_writes();
    return status != SQLITE_OK ? status : gathering;
}

int lifeline_sqlite_set_defensive(void *connection, int on) {
    int before = 0, after = 0;
    if (sqlite3_db_config(connection, SQLITE_DBCONFIG_DEFENSIVE, -1, &before) != SQLITE_OK) return -1;
    if (sqlite3_db_config(connection, SQLITE_DBCONFIG_DEFENSIVE, on, &after) != SQLITE_OK) return -1;
    return before;
}
