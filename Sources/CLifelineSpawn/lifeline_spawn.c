#define _GNU_SOURCE
#include "lifeline_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void child(char *const argv[], char *const envp[], const char *cwd,
                  int stdin_fd, int stdout_fd, int stderr_fd, int death_signal, pid_t parent, int report_fd) {
    // Only async-signal-safe calls from here on: the parent is multi-threaded.
    int err = 0;
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, death_signal) != 0 || getppid() != parent) _exit(127);
    int input = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    if (input < 0 || dup2(input, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
        err = errno;
    } else if (cwd != NULL && chdir(cwd) != 0) {
        err = errno;
    } else {
        execvpe(argv[0], argv, envp);
        err = errno;
    }
    (void)!write(report_fd, &err, sizeof err);
    _exit(127);
}

int lifeline_spawn(char *const argv[], char *const envp[], const char *cwd,
                   int stdin_fd, int stdout_fd, int stderr_fd, int death_signal, pid_t *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return err;
    }
    if (pid == 0) child(argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, death_signal, parent, report[1]);
    // Both sides set the group, so it exists before either side relies on it.
    setpgid(pid, pid);
    close(report[1]);
    int err = 0;
    ssize_t n;
    do {
        n = read(report[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof err) {  // exec failed; reap the child, which exits with 127
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return err;
    }
    *pid_out = pid;
    return 0;
}

int lifeline_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
