#include <errno.h>
#include <sys/prctl.h>

#include "lifeline_system.h"

int lifeline_forbid_inspection(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int lifeline_name_process(const char *name) {
    return prctl(PR_SET_NAME, name, 0, 0, 0) == 0 ? 0 : errno;
}
