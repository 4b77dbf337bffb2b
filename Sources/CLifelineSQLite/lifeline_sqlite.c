#include "lifeline_sqlite.h"

#include <sqlite3.h>

// sqlite3_config() and sqlite3_db_config() are variadic, which Swift cannot call.

int lifeline_sqlite_skip_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int lifeline_sqlite_set_defensive(void *connection, int on) {
    int before = 0, after = 0;
    if (sqlite3_db_config(connection, SQLITE_DBCONFIG_DEFENSIVE, -1, &before) != SQLITE_OK) return -1;
    if (sqlite3_db_config(connection, SQLITE_DBCONFIG_DEFENSIVE, on, &after) != SQLITE_OK) return -1;
    return before;
}
