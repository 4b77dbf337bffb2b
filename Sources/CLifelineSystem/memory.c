#include <malloc.h>

#include "lifeline_system.h"

int lifeline_keep_freed_memory(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }
