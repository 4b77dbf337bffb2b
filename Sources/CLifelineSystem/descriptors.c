#define _GNU_SOURCE
#include "lifeline_system.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int lifeline_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int lifeline_socketpair_cloexec(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

int lifeline_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int lifeline_start_writeback(int fd, int64_t offset, int64_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int lifeline_copy_range(int in_fd, int out_fd, int64_t offset, int64_t length, const void *bytes) {
    loff_t in = offset, out = offset;
    int64_t left = length;
    while (left > 0) {
        ssize_t copied = copy_file_range(in_fd, &in, out_fd, &out, (size_t)left, 0);
        if (copied > 0) {
            left -= copied;
        } else if (copied == 0) {
            return ENODATA;
        } else if (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
            break;
        } else if (errno != EINTR) {
            return errno;
        }
    }
    while (left > 0) {
        ssize_t written = pwrite(out_fd, (const char *)bytes + (length - left), (size_t)left, offset + (length - left));
        if (written > 0) {
            left -= written;
        } else if (written == 0) {
            return EIO;
        } else if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}
