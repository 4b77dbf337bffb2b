#define _GNU_SOURCE
#include "lifeline_system.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

int lifeline_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int lifeline_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}
