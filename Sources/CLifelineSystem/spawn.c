#define _GNU_SOURCE
#include "lifeline_system.h"
#include "program_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int lifeline_spawn(const char *path, char *const argv[], char *const envp[], const char *directory, int in, int out,
                   int err, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    // The caller's thread may block signals (a dispatch worker blocks them all), and this
    // process may ignore some: the program starts with none blocked and every default.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    rc = posix_spawnattr_setsigmask(&attributes, &none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &all);
    if (rc == 0) rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0) {
        rc = in < 0 ? posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                    : posix_spawn_file_actions_adddup2(&actions, in, 0);
    }
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, out, 1);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, err, 2);
    if (rc == 0 && directory) rc = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int lifeline_spawn_direct(const char *path, char *const argv[], char *const envp[], int in, int want_pidfd, pid_t *pid_out,
                          int *pidfd_out) {
    // No handler of this process may run in the child, which shares its memory until it execs.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();
    // Written by the child, read once it has exec'd or exited: they share memory until then.
    volatile int failure = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        // dup2 leaves a descriptor that is already 0 (this process's stdin was closed) as it
        // is, close-on-exec; a closed stdout or stderr would take the runner's first file.
        if ((in == STDIN_FILENO ? fcntl(in, F_SETFD, 0) : dup2(in, STDIN_FILENO)) < 0) {
            failure = errno;
            _exit(127);
        }
        for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
            if (fd == in) close(fd);  // the socket, on a number stdout or stderr left free
            if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_WRONLY) != fd) {
                failure = EBADF;
                _exit(127);
            }
        }
        // Before the open-files limit goes back to the process's original one, which the
        // one-by-one fallback would stop at.
        lifeline_close_from(3);
        lifeline_prepare_program();
        // Another thread's exit(2) before the prctl leaves it orphaned: it does not run then.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
            failure = errno;
            _exit(127);
        }
        if (getppid() != parent) {
            failure = ESRCH;
            _exit(127);
        }
        execve(path, argv, envp);
        failure = errno;
        _exit(127);
    }
    int forked = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (pid < 0) return forked;
    int error = failure;
    int pidfd = -1;
    if (error == 0 && want_pidfd) {
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        // Refused, not failed: the caller watches the process by its pid instead.
        if (pidfd < 0 && errno != ENOSYS && errno != EPERM) {
            error = errno;
            kill(pid, SIGKILL);
        }
    }
    if (error != 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return error;
    }
    *pid_out = pid;
    *pidfd_out = pidfd;
    return 0;
}

int lifeline_pidfd_signal(int pidfd, int signal) {
    return syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) == 0 ? 0 : errno;
}
