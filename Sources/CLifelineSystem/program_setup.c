#define _GNU_SOURCE
#include "lifeline_system.h"
#include "program_setup.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

// What this process changes for itself at start, and what every program it starts gets back,
// by either way it starts one (under a reaper, or directly).

/// The open-files limit the process started with, which programs get back (0: unchanged).
static rlim_t original_open_files = 0;

/// The file-creation mask the process started with, which programs get back (-1: unchanged).
static int original_umask = -1;

void lifeline_make_files_private(void) {
    mode_t original = umask(077);
    if (original_umask < 0) original_umask = (int)original;
}

int lifeline_raise_open_files_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return errno;
    if (limit.rlim_cur >= limit.rlim_max) return 0;
    rlim_t original = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return errno;
    original_open_files = original;
    return 0;
}

void lifeline_close_from(int first) {
    if (close_range((unsigned)first, ~0U, 0) != 0) {
        // Kernels before 5.9 (or a seccomp filter) lack close_range: close them one by one.
        struct rlimit limit;
        rlim_t last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536 ? limit.rlim_cur : 65536;
        for (rlim_t fd = (rlim_t)first; fd < last; fd++) close((int)fd);
    }
}

void lifeline_prepare_program(void) {
    // Out of the caller's group first: a signal for it (Ctrl-C) no longer reaches the child.
    setpgid(0, 0);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        // Ignored first, which drops what is pending, blocked, from before the group changed.
        signal(sig, SIG_IGN);
        signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (original_umask >= 0) umask((mode_t)original_umask);
    if (original_open_files != 0) {
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
            limit.rlim_cur = original_open_files;
            setrlimit(RLIMIT_NOFILE, &limit);
        }
    }
}
