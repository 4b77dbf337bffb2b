#ifndef LIFELINE_SPAWN_H
#define LIFELINE_SPAWN_H

#include <sys/types.h>

/// Starts `argv[0]` (looked up in PATH) without a shell, in a process group of its own, with
/// stdin, stdout and stderr on the given descriptors (stdin -1: /dev/null). The child receives
/// `death_signal` when the thread that spawned it dies, so call this from a thread that lives
/// as long as the process. Returns 0 and the pid, or an errno value (the exec's own error
/// included).
int lifeline_spawn(char *const argv[], char *const envp[], const char *cwd,
                   int stdin_fd, int stdout_fd, int stderr_fd, int death_signal, pid_t *pid_out);

/// pipe2(fds, O_CLOEXEC), which Swift's Glibc module does not expose.
int lifeline_pipe_cloexec(int fds[2]);

#endif
