#include "lifeline_sqlite.h"

#include <sqlite3.h>

// sqlite3_config() is variadic, which Swift cannot call.
int lifeline_sqlite_skip_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
