#ifndef LIFELINE_SYSTEM_H
#define LIFELINE_SYSTEM_H

#include <stdint.h>
#include <sys/types.h>

/// What a reaper writes on its status pipe, in this order: STARTED (value: the program's
/// pid) or one of the two failures (value: errno); UNHELD if it stopped the program because
/// its hold ran out; COLLECTED once it has reaped the program (its group killed first), whose
/// id may name another process from then on; then EXITED (value: the program's wait status)
/// once the program and everything it started are gone.
enum {
    LIFELINE_REAPER_STARTED = 1,
    LIFELINE_REAPER_CWD_FAILED = 2,
    LIFELINE_REAPER_EXEC_FAILED = 3,
    LIFELINE_REAPER_EXITED = 4,
    LIFELINE_REAPER_UNHELD = 5,
    LIFELINE_REAPER_COLLECTED = 6,
};

struct lifeline_reaper_message {
    int32_t kind;
    int32_t value;
};

/// What the caller writes on a reaper's control pipe: HOLD (value: a CLOCK_BOOTTIME instant in
/// nanoseconds) lets the program run until then, and the reaper kills its group (SIGKILL) at
/// that instant unless a later HOLD comes first. Each request is one write, smaller than
/// PIPE_BUF, so it arrives whole.
enum {
    LIFELINE_REAPER_HOLD = 2,
};

struct lifeline_reaper_request {
    int32_t kind;
    int32_t unused;
    int64_t value;
};

/// Starts `argv[0]` (looked up in PATH), without a shell, under a *reaper*: a small process
/// of this one that is the program's parent and the subreaper of everything the program
/// starts, so descendants that leave the program's process group (setsid, daemons) still end
/// with it. The program runs in a process group of its own with stdin, stdout and stderr on
/// the given descriptors (stdin -1: /dev/null).
///
/// The reaper is driven by `control_fd`, the read end of a pipe whose write end the caller
/// keeps and writes requests on (struct lifeline_reaper_request); end of file (the caller
/// closed its end, or died) sends `stop_signal` to the program's group. A hold that runs out
/// kills it, which a caller that stops answering (stopped, starved) cannot prevent. When the program ends, its group is
/// killed before the program is reaped, then every remaining descendant is killed; then the
/// reaper reports and exits. Messages go to `status_fd`, the write end of a pipe.
///
/// The reaper keeps a process in the program's group that kills the group should the reaper
/// die before it has.
///
/// Returns 0 and the reaper's pid, or an errno value.
int lifeline_spawn_reaped(char *const argv[], char *const envp[], const char *cwd, int stdin_fd, int stdout_fd,
                          int stderr_fd, int control_fd, int status_fd, int stop_signal, pid_t *reaper_out);

/// Starts `argv[0]` (a path) directly, without a reaper: a child made with vfork, which copies
/// nothing of this process, not even its page tables. It gets `in` as its stdin, this
/// process's stdout and stderr, no other descriptor, and what ``lifeline_spawn_reaped``'s
/// programs get back (signal dispositions, mask, umask, open-files limit; a process group of
/// its own). The kernel kills it (SIGKILL) when the calling thread ends, this process's death
/// included: call it from a thread that lasts as long as the process. For a pool's runner
/// processes: this program, which stops its own attempts, and whose own programs have reapers.
///
/// Returns 0, its pid and, if `want_pidfd`, a pidfd for it (readable once it has ended; signals
/// through it never reach another process), or an errno value. Where pidfds are refused (a
/// kernel before 5.3, a sandbox's seccomp filter), the process runs with -1 as its pidfd.
int lifeline_spawn_direct(const char *path, char *const argv[], char *const envp[], int in, int want_pidfd, pid_t *pid_out,
                          int *pidfd_out);

/// Sends `signal` to the process `pidfd` names; nothing once it has been reaped. Returns 0 or an errno value.
int lifeline_pidfd_signal(int pidfd, int signal);

/// Raises the soft limit on open files to the hard limit (programs started later get the
/// original back). Returns 0 or an errno value.
int lifeline_raise_open_files_limit(void);

/// Makes what this process creates owner-only (umask 077); programs started later get the
/// mask the process started with back.
void lifeline_make_files_private(void);

/// Starts `path` with `argv` and `envp`, in `directory` (NULL: this process's): stdin from
/// `in` (/dev/null when it is -1), stdout and stderr on `out` and `err`, no other descriptor, no signal blocked or
/// ignored. Returns 0 or an errno value. (Foundation's Process walks /proc/self/fd with an
/// over-read that crashes now and then: swift-corelibs-foundation #5472.)
int lifeline_spawn(const char *path, char *const argv[], char *const envp[], const char *directory, int in, int out,
                   int err, pid_t *pid);

/// pipe2(fds, O_CLOEXEC), which Swift's Glibc module does not expose.
int lifeline_pipe_cloexec(int fds[2]);

/// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): a channel both ways, kept from programs
/// started later unless handed to one on purpose.
int lifeline_socketpair_cloexec(int fds[2]);

/// An eventfd, non-blocking and close-on-exec.
int lifeline_eventfd(void);

/// Takes a flock on `fd`, exclusive or (`shared` non-zero) shared, waiting at most
/// `timeout_ms`. Returns 0, ETIMEDOUT, or another errno value. The wait blocks in the kernel
/// (the lock passes on the moment it is free); a timer interrupts it at the deadline.
int lifeline_flock_deadline(int fd, int shared, int64_t timeout_ms);

/// Starts writing the range of the file to disk without waiting for it, so that a later
/// fsync finds little left to do (sync_file_range with SYNC_FILE_RANGE_WRITE).
int lifeline_start_writeback(int fd, int64_t offset, int64_t length);

/// Copies `length` bytes at `offset` of `in_fd` to the same offset of `out_fd` inside the
/// kernel (copy_file_range), as cp does. `bytes` holds the same bytes, already read: they are
/// written with pwrite instead where the kernel cannot copy between the two files (another
/// file system). Returns 0 or an errno value; ENODATA if the source ended first.
int lifeline_copy_range(int in_fd, int out_fd, int64_t offset, int64_t length, const void *bytes);

/// Has glibc's allocator take blocks smaller than `largest_block` from its arenas (not each
/// from its own mapping) and keep up to twice that free at the top of an arena instead of
/// handing it back to the kernel (mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD, fixed where
/// glibc would otherwise move both with the largest block freed). Returns 1, or 0 on failure.
int lifeline_keep_freed_memory(int largest_block);

/// Has glibc's allocator make at most `arenas` memory pools, however many threads allocate
/// (mallopt M_ARENA_MAX). Returns 1, or 0 on failure.
int lifeline_limit_arenas(int arenas);

/// Makes this process non-dumpable (prctl PR_SET_DUMPABLE 0): other processes of its user,
/// the programs its jobs run among them, can no longer read its memory or its environment
/// in /proc, nor trace it, and it leaves no core dump. A program it starts is dumpable again
/// from its exec. Returns 0, or -1 with errno set.
int lifeline_forbid_inspection(void);

/// Names this process as ps and top show it (its comm; 15 bytes are kept): the calling thread's
/// name, which call from the main thread. Returns 0 or an errno value.
int lifeline_name_process(const char *name);

#endif
