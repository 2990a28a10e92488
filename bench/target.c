/* The benchmark's target program. It appends exact CLOCK_MONOTONIC timestamps (ns) to the file
 * named by argv[1]: "main PID NS" at the top of main(), and on SIGTERM "term PID NS", then,
 * after an optional delay (env BENCH_EXIT_DELAY_MS="300-325": a random delay in that range),
 * "exit PID NS" just before _exit(0). So "running" and "signalled" are exact, not polled. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;
static struct timespec term_at;

static long long ns(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

static void stamp(int fd, const char *what, const struct timespec *t) {
    char buf[96];
    int n = snprintf(buf, sizeof buf, "%s %d %lld\n", what, (int)getpid(), ns(t));
    if (write(fd, buf, (size_t)n) < 0) _exit(2);
}

static void on_term(int sig) {
    (void)sig;
    clock_gettime(CLOCK_MONOTONIC, &term_at);
    got_term = 1;
}

int main(int argc, char **argv) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (argc < 2) return 2;
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return 2;
    /* The handler before the "main" line (whose instant was taken above): the driver stops the
     * program as soon as it sees that line, and a SIGTERM before the handler killed it without
     * an "exit" line (start-stop-daemon, which signals at once, hit it in one bench run). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    stamp(fd, "main", &now);

    sigset_t none, term, old;
    sigemptyset(&none);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old);
    while (!got_term) sigsuspend(&none);
    stamp(fd, "term", &term_at);

    const char *delay = getenv("BENCH_EXIT_DELAY_MS");
    if (delay) {
        int lo = 0, hi = 0;
        if (sscanf(delay, "%d-%d", &lo, &hi) == 2 && hi >= lo) {
            srand((unsigned)(ns(&term_at) ^ getpid()));
            long long wait_ns = (lo + rand() % (hi - lo + 1)) * 1000000LL + rand() % 1000000;
            struct timespec until = {term_at.tv_sec + wait_ns / 1000000000LL,
                                     term_at.tv_nsec + wait_ns % 1000000000LL};
            if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) != 0) {}
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    stamp(fd, "exit", &now);
    _exit(0);
}
