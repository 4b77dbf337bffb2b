#define _GNU_SOURCE
#include "lifeline_system.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

// A signal with a handler that does nothing and no SA_RESTART: its only effect is to make
// a blocking flock() return EINTR.
#define DEADLINE_SIGNAL (SIGRTMIN + 3)

static void interrupt(int sig) { (void)sig; }

static void install_handler(void) {
    struct sigaction action = {0};
    action.sa_handler = interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(DEADLINE_SIGNAL, &action, NULL);
}

static int64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int lifeline_flock_deadline(int fd, int shared, int64_t timeout_ms) {
    int operation = shared ? LOCK_SH : LOCK_EX;
    if (flock(fd, operation | LOCK_NB) == 0) return 0;
    if (errno != EWOULDBLOCK) return errno;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_handler);

    // The timer signals this thread only, at the deadline and every 10 ms after it, in case
    // one signal lands just before flock() starts to wait.
    struct sigevent event = {0};
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = DEADLINE_SIGNAL;
    event._sigev_un._tid = gettid();
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) return errno;
    int64_t first = timeout_ms > 0 ? timeout_ms : 1;
    struct itimerspec schedule = {
        .it_value = {.tv_sec = first / 1000, .tv_nsec = (first % 1000) * 1000000},
        .it_interval = {.tv_sec = 0, .tv_nsec = 10 * 1000000},
    };
    sigset_t unblock, previous;
    sigemptyset(&unblock);
    sigaddset(&unblock, DEADLINE_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &unblock, &previous);
    int64_t deadline = now_ms() + timeout_ms;
    timer_settime(timer, 0, &schedule, NULL);
    int result = 0;
    while (flock(fd, operation) != 0) {
        if (errno != EINTR) {
            result = errno;
            break;
        }
        if (now_ms() >= deadline) {
            result = ETIMEDOUT;
            break;
        }
    }
    timer_delete(timer);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return result;
}
