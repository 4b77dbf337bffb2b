#define _GNU_SOURCE
#include "lifeline_system.h"
#include "program_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Everything below runs in a child forked from a multi-threaded process: system calls only,
// no allocation, no locks, no stdio. _Fork skips the fork handlers, which may take locks.
//
// The reaper is the one copy of the worker's memory a program costs: the program is started
// with vfork and the sentinel shares the reaper's memory, for each copy is paid twice, its page
// tables made at the fork and torn down at the exit or exec, and hundreds of programs ending
// at once (a burst of timeouts) wait on those teardowns.

enum { CONTROL_FD = 3, STATUS_FD = 4, FIRST_FREE_FD = 5 };

/// Where the kernel reads this process's command line (/proc/PID/cmdline: what ps and pgrep -f
/// show): argv's strings, one after another. glibc hands ELF constructors argc and argv.
static char *arguments;
static size_t arguments_size;

__attribute__((constructor)) static void remember_arguments(int argc, char **argv) {
    if (argc < 1 || argv == NULL || argv[0] == NULL) return;
    // Only as the kernel laid them out, each string right after the one before: a host that
    // loaded this library may have moved them (setproctitle), and then only the comm changes.
    uintptr_t end = (uintptr_t)argv[0];
    for (int i = 0; i < argc; i++) {
        if (argv[i] == NULL || (uintptr_t)argv[i] != end) return;
        end += strlen(argv[i]) + 1;
    }
    arguments = argv[0];
    arguments_size = end - (uintptr_t)argv[0];
}

/// Shows this process as `name` (its comm: 15 bytes) and as `name program` (its command line,
/// cut to the room the worker's arguments had): a reaper is a fork of the worker, and would
/// otherwise show in ps and count in pgrep -f as one more worker.
static void show_as(const char *name, const char *program) {
    lifeline_name_process(name);
    if (arguments == NULL || arguments_size == 0) return;
    memset(arguments, 0, arguments_size);
    // The last byte stays NUL: the kernel then reads the area as strings, not as one title.
    size_t room = arguments_size - 1, at = 0;
    const char *parts[2] = {name, program};
    for (int i = 0; i < 2 && at < room; i++) {
        size_t length = strlen(parts[i]);
        if (length > room - at) length = room - at;
        memcpy(arguments + at, parts[i], length);
        at += length + 1;
    }
}

static void send_message(int kind, int value) {
    struct lifeline_reaper_message message = {kind, value};
    ssize_t n;
    do {
        n = write(STATUS_FD, &message, sizeof message);
    } while (n < 0 && errno == EINTR);
}

/// Puts the given descriptors on 0..4 and closes every other one, so the reaper holds no
/// copy of another job's pipes (it does not exec, so close-on-exec does not apply).
static int arrange_descriptors(int stdin_fd, int stdout_fd, int stderr_fd, int control_fd, int status_fd) {
    int input = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    int wanted[5] = {input, stdout_fd, stderr_fd, control_fd, status_fd};
    int moved[5];
    // Above every target first, so no dup2 below overwrites a descriptor still to be moved.
    for (int i = 0; i < 5; i++) {
        moved[i] = wanted[i] < 0 ? -1 : fcntl(wanted[i], F_DUPFD, 16);
        if (moved[i] < 0) return -1;
    }
    for (int i = 0; i < 5; i++) {
        if (dup2(moved[i], i) < 0) return -1;
    }
    lifeline_close_from(FIRST_FREE_FD);
    fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC);
    fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
    return 0;
}

// Runs argv[0] as execvpe does, looked up in the PATH of `envp`, but for one thing: execvpe runs
// a file the kernel cannot execute (no #! line, not a binary: ENOEXEC) with /bin/sh, and a job's
// program is never a shell's to interpret. Returns why it could not run it.
static int exec_program(char *const argv[], char *const envp[]) {
    const char *file = argv[0];
    if (strchr(file, '/') != NULL) {
        execve(file, argv, envp);
        return errno;
    }
    const char *path = "/bin:/usr/bin";  // execvpe's, when the environment has none
    for (char *const *entry = envp; *entry != NULL; entry++) {
        if (strncmp(*entry, "PATH=", 5) == 0) {
            path = *entry + 5;  // the first, as getenv finds it
            break;
        }
    }
    size_t length = strlen(file);
    if (length == 0) return ENOENT;
    char candidate[4096];
    bool denied = false;
    for (const char *start = path;; ) {
        const char *end = strchrnul(start, ':');
        size_t directory = (size_t)(end - start);
        if (directory + length + 2 <= sizeof candidate) {
            // An empty entry is the current directory.
            size_t at = 0;
            if (directory > 0) {
                memcpy(candidate, start, directory);
                candidate[directory] = '/';
                at = directory + 1;
            }
            memcpy(candidate + at, file, length + 1);
            execve(candidate, argv, envp);
            switch (errno) {
            case EACCES: denied = true; break;
            case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT: break;
            default: return errno;  // found, and not runnable (ENOEXEC among them)
            }
        }
        if (*end == '\0') break;
        start = end + 1;
    }
    return denied ? EACCES : ENOENT;
}

static void run_program(char *const argv[], char *const envp[], const char *cwd, pid_t reaper, int report_fd) {
    lifeline_prepare_program();
    // If the reaper itself is killed, the program goes with it.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != reaper) _exit(127);
    struct lifeline_reaper_message failure = {LIFELINE_REAPER_CWD_FAILED, 0};
    if (cwd != NULL && chdir(cwd) != 0) {
        failure.value = errno;
    } else {
        failure.kind = LIFELINE_REAPER_EXEC_FAILED;
        failure.value = exec_program(argv, envp);
    }
    (void)!write(report_fd, &failure, sizeof failure);
    _exit(127);
}

/// Writes the decimal digits of `value` at `out`; returns the end.
static char *put_number(char *out, long value) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0) *out++ = digits[--n];
    return out;
}

/// SIGKILLs every child of the reaper and its process group. Children are descendants of the
/// program that outlived their parents and were handed to the reaper; killing them hands
/// their own children over in turn, until none is left. Returns false when the kernel cannot
/// list them (no CONFIG_PROC_CHILDREN): then the reaper does not wait for them.
static bool kill_children(void) {
    static char buffer[65536];
    char path[64] = "/proc/self/task/";
    char *end = put_number(path + strlen(path), (long)getpid());
    memcpy(end, "/children", sizeof "/children");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t length = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    long pid = 0;
    for (ssize_t i = 0; i < length; i++) {
        if (buffer[i] >= '0' && buffer[i] <= '9') {
            pid = pid * 10 + (buffer[i] - '0');
        } else if (pid > 0) {
            // An unreaped child's pid cannot be reused, nor a group that it leads.
            kill((pid_t)-pid, SIGKILL);
            kill((pid_t)pid, SIGKILL);
            pid = 0;
        }
    }
    return true;
}

/// Reaps every child that has ended. The program's group is killed before the program is
/// reaped, while its id still cannot name anything else. Returns false once no child is left.
static bool reap(pid_t program, bool *program_done, int *program_status) {
    for (;;) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno != ECHILD;
        if (info.si_pid == 0) return true;
        if (info.si_pid == program) kill(-program, SIGKILL);
        int status = 0;
        while (waitpid(info.si_pid, &status, 0) < 0 && errno == EINTR) {}
        if (info.si_pid == program) {
            *program_done = true;
            *program_status = status;
            // Before anything else can happen to the reaper: a worker that finds it gone
            // kills the program's group only while this has not been said.
            send_message(LIFELINE_REAPER_COLLECTED, 0);
        }
    }
}

static int64_t boot_time_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/// Arms `timer_fd` to become readable at `instant` (CLOCK_BOOTTIME nanoseconds).
static void arm_timer(int timer_fd, int64_t instant) {
    struct itimerspec when = {.it_value = {.tv_sec = instant / 1000000000, .tv_nsec = instant % 1000000000}};
    // A zero value would disarm it: the first nanosecond has long passed anyway.
    if (instant <= 0) when.it_value.tv_nsec = 1;
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &when, NULL);
}

static void stop_program(pid_t program, bool program_done, int stop_signal) {
    if (!program_done) kill(-program, stop_signal);
    if (stop_signal == SIGKILL) kill_children();
}

/// Requests read from the control pipe, kept until whole.
struct requests {
    size_t length;
    unsigned char bytes[16 * sizeof(struct lifeline_reaper_request)];
};

enum { REQUESTS_READ, REQUESTS_CLOSED };

/// Reads everything the control pipe holds (it does not block): applies holds to
/// `held_until`, and says whether the pipe was closed. All of it, before any hold is looked
/// at: a program whose start waited its turn finds every hold sent meanwhile queued, and the
/// first ones may have run out long since.
static int read_requests(struct requests *pending, int64_t *held_until) {
    for (;;) {
        ssize_t got = read(CONTROL_FD, pending->bytes + pending->length, sizeof pending->bytes - pending->length);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno == EAGAIN) return REQUESTS_READ;
        if (got <= 0) return REQUESTS_CLOSED;
        pending->length += (size_t)got;
        size_t used = 0;
        while (pending->length - used >= sizeof(struct lifeline_reaper_request)) {
            struct lifeline_reaper_request request;
            memcpy(&request, pending->bytes + used, sizeof request);
            used += sizeof request;
            if (request.kind == LIFELINE_REAPER_HOLD) *held_until = request.value;
        }
        memmove(pending->bytes, pending->bytes + used, pending->length - used);
        pending->length -= used;
    }
}

/// A system call that leaves errno alone, for the sentinel: it shares the reaper's memory,
/// its thread-local errno included, which the reaper reads between its own calls. Returns the
/// kernel's result (a negative errno value on failure).
static long sentinel_call(long number, long a, long b, long c, long d) {
#if defined(__x86_64__)
    long result;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return result;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
#error "the sentinel's system calls are written for x86_64 and aarch64"
#endif
}

struct sentinel {
    pid_t group, reaper;
};

/// A member of the program's group that does nothing but outlive its reaper: should the
/// reaper die before it has killed the group (SIGKILL, alone or with its worker, which would
/// otherwise kill the group), the sentinel's parent-death signal has it kill its own group, the
/// program's children included, which nothing else would, and the job's next attempt would run
/// beside them. Every signal stays blocked (the reaper's mask): what is sent to the group is
/// the program's business; SIGKILL ends the sentinel with the group. It runs in the reaper's
/// memory on a stack of its own (its command line is the reaper's), through `sentinel_call`
/// only: nothing of glibc's, which would write the reaper's errno.
static int run_sentinel(void *argument) {
    const struct sentinel *sentinel = argument;
    pid_t group = sentinel->group, reaper = sentinel->reaper;
    sentinel_call(SYS_prctl, PR_SET_NAME, (long)"lifeline-sentry", 0, 0);
    sentinel_call(SYS_close, CONTROL_FD, 0, 0, 0);  // the worker's pipes are the reaper's alone
    sentinel_call(SYS_close, STATUS_FD, 0, 0, 0);
    // On failure the program has ended, and its group with it.
    if (sentinel_call(SYS_setpgid, 0, group, 0, 0) == 0 && sentinel_call(SYS_prctl, PR_SET_PDEATHSIG, SIGUSR2, 0, 0) == 0) {
        // The kernel's signal set: one bit a signal, 64 of them.
        unsigned long death = 1UL << (SIGUSR2 - 1);
        // A SIGUSR2 sent to the group is not a death: only a parent that changed is.
        while (sentinel_call(SYS_getppid, 0, 0, 0, 0) == reaper) {
            sentinel_call(SYS_rt_sigtimedwait, (long)&death, 0, 0, sizeof death);
        }
        sentinel_call(SYS_kill, 0, SIGKILL, 0, 0);
    }
    sentinel_call(SYS_exit, 0, 0, 0, 0);
    return 0;
}

enum { SENTINEL_STACK = 64 * 1024 };

/// Starts the sentinel of `program`'s group, sharing this process's memory. Its stack is left
/// mapped: it goes with the memory, once the sentinel and the reaper have both ended.
static void start_sentinel(pid_t program, pid_t reaper) {
    static struct sentinel sentinel;
    sentinel = (struct sentinel){program, reaper};
    void *stack = mmap(NULL, SENTINEL_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return;
    clone(run_sentinel, (char *)stack + SENTINEL_STACK, CLONE_VM | SIGCHLD, &sentinel);
}

static void run_reaper(char *const argv[], char *const envp[], const char *cwd, int stop_signal) {
    // A group of its own: a stop of the worker's process group (kill -STOP %1, which SIGSTOP
    // does not let anyone block) must not freeze the reaper too, for the reaper is what stops
    // the program once its hold runs out, while another worker may take its job.
    setpgid(0, 0);
    sigset_t all, child;
    // Only the control pipe stops the reaper: signals meant for the worker's process group
    // (Ctrl-C in a terminal) stay pending here instead of killing it.
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    int child_fd = signalfd(-1, &child, SFD_CLOEXEC | SFD_NONBLOCK);
    // Holds are kept on the clock leases are: it goes on through a suspend, and a wall-clock
    // step does not move it.
    int timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
    int report[2];
    if (child_fd < 0 || timer_fd < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0 || pipe2(report, O_CLOEXEC) != 0) {
        send_message(LIFELINE_REAPER_EXEC_FAILED, errno);
        _exit(0);
    }
    // The read end is the reaper's alone (the program and the sentinel close it).
    fcntl(CONTROL_FD, F_SETFL, fcntl(CONTROL_FD, F_GETFL) | O_NONBLOCK);
    pid_t reaper = getpid();
    // Shares the reaper's memory until it has exec'd or failed; signals stay blocked meanwhile.
    pid_t program = vfork();
    if (program == 0) run_program(argv, envp, cwd, reaper, report[1]);
    if (program < 0) {
        send_message(LIFELINE_REAPER_EXEC_FAILED, errno);
        _exit(0);
    }
    setpgid(program, program);  // both sides, so the group exists before either relies on it
    close(report[1]);
    for (int fd = 0; fd < 3; fd++) close(fd);  // the program's output ends when it is gone
    struct lifeline_reaper_message failure;
    ssize_t n;
    do {
        n = read(report[0], &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof failure) {
        while (waitpid(program, NULL, 0) < 0 && errno == EINTR) {}
        send_message(failure.kind, failure.value);
        _exit(0);
    }
    send_message(LIFELINE_REAPER_STARTED, program);
    start_sentinel(program, reaper);

    // `reading`: the control pipe is open. `killed`: the program's group got SIGKILL, so no
    // hold matters any more (a gentler stop signal leaves the hold in force).
    bool program_done = false, reading = true, killed = false;
    int program_status = 0;
    int64_t held_until = -1;  // none: the program runs until told otherwise
    struct requests pending = {.length = 0};
    for (;;) {
        struct pollfd fds[3] = {
            {.fd = child_fd, .events = POLLIN}, {.fd = timer_fd, .events = POLLIN}, {.fd = CONTROL_FD, .events = POLLIN}};
        // Once the program is gone, leftovers are looked for again now and then, in case one
        // was handed over after the last look.
        if (poll(fds, killed ? 1 : reading ? 3 : 2, program_done ? 50 : -1) < 0 && errno != EINTR) _exit(1);
        if (!killed && fds[1].revents != 0) {
            uint64_t expirations;  // read, or it stays readable
            (void)!read(timer_fd, &expirations, sizeof expirations);
        }
        if (reading && fds[2].revents != 0) {
            int64_t held_before = held_until;
            if (read_requests(&pending, &held_until) == REQUESTS_CLOSED) {
                reading = false;
                close(CONTROL_FD);
                stop_program(program, program_done, stop_signal);
                killed = stop_signal == SIGKILL;
            }
            if (held_until != held_before) arm_timer(timer_fd, held_until);
        }
        if (!killed && !program_done && held_until >= 0 && boot_time_now() >= held_until) {
            // Its caller did not hold it longer in time: another worker may run its job now,
            // so it goes at once, whatever its stop signal.
            send_message(LIFELINE_REAPER_UNHELD, 0);
            stop_program(program, program_done, SIGKILL);
            killed = true;
        }
        struct signalfd_siginfo drained[16];
        while (read(child_fd, drained, sizeof drained) > 0) {}
        bool children_left = reap(program, &program_done, &program_status);
        if (program_done) {
            if (!children_left || !kill_children()) break;
        }
    }
    send_message(LIFELINE_REAPER_EXITED, program_status);
    _exit(0);
}

int lifeline_spawn_reaped(char *const argv[], char *const envp[], const char *cwd, int stdin_fd, int stdout_fd,
                          int stderr_fd, int control_fd, int status_fd, int stop_signal, pid_t *reaper_out) {
    pid_t pid = _Fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        // First, so that ps never shows it as this process (closing descriptors takes a while).
        show_as("lifeline-reaper", argv[0]);
        if (arrange_descriptors(stdin_fd, stdout_fd, stderr_fd, control_fd, status_fd) != 0) _exit(127);
        run_reaper(argv, envp, cwd, stop_signal);
    }
    setpgid(pid, pid);  // both sides, so the group exists before either relies on it
    *reaper_out = pid;
    return 0;
}
