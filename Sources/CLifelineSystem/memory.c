#include <malloc.h>

#include "lifeline_system.h"

int lifeline_keep_freed_memory(int largest_block) {
    return mallopt(M_MMAP_THRESHOLD, largest_block) && mallopt(M_TRIM_THRESHOLD, 2 * largest_block);
}

int lifeline_limit_arenas(int arenas) {
    return mallopt(M_ARENA_MAX, arenas);
}
