/* The floor of `rdaemon list`'s reads: for every daemon of an rdaemon directory, what `list`
 * reads of it and nothing else, one thread, no parsing: NAME.json and NAME.status (openat
 * beside the directory's fd, fstat, one read, close, as rdaemon does) and /proc/PID/stat of
 * the pid the status names (open, one read, close). It prints the CPU time per daemon, user
 * and system, of the best of five passes, to set beside `list`'s own (docs/performance.md).
 *
 *     gcc -O2 -o list_floor bench/list_floor.c && ./list_floor RDAEMON_DIR
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static double usec(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

/* Reads DIR/NAME into buf the way rdaemon reads a record; the bytes read, or -1. */
static ssize_t read_record(int dir, const char *name, char *buf, size_t cap) {
    int fd = openat(dir, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size + 1 < cap)
        n = read(fd, buf, st.st_size + 1);
    close(fd);
    if (n >= 0) buf[n] = 0;
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s RDAEMON_DIR\n", argv[0]);
        return 2;
    }
    int dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *listing = dir < 0 ? NULL : fdopendir(dup(dir));
    if (!listing) {
        perror(argv[1]);
        return 1;
    }
    /* The daemons' names: every NAME.status. */
    size_t count = 0, cap = 1024;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(listing))) {
        size_t len = strlen(e->d_name);
        if (len <= 7 || strcmp(e->d_name + len - 7, ".status") != 0) continue;
        if (count == cap) names = realloc(names, (cap *= 2) * sizeof *names);
        names[count++] = strndup(e->d_name, len - 7);
    }
    if (count == 0) {
        fprintf(stderr, "%s: no daemons\n", argv[1]);
        return 1;
    }
    double best_user = 1e18, best_sys = 1e18;
    size_t alive = 0;
    for (int pass = 0; pass < 5; pass++) {
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        alive = 0;
        for (size_t i = 0; i < count; i++) {
            char path[4096], buf[65536];
            snprintf(path, sizeof path, "%s.json", names[i]);
            read_record(dir, path, buf, sizeof buf);
            snprintf(path, sizeof path, "%s.status", names[i]);
            if (read_record(dir, path, buf, sizeof buf) < 0) continue;
            const char *at = strstr(buf, "\"pid\": ");
            if (!at) continue;
            snprintf(path, sizeof path, "/proc/%d/stat", atoi(at + 7));
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            if (read(fd, buf, 1024) > 0) alive++;
            close(fd);
        }
        getrusage(RUSAGE_SELF, &after);
        double user = usec(after.ru_utime) - usec(before.ru_utime);
        double sys = usec(after.ru_stime) - usec(before.ru_stime);
        if (user + sys < best_user + best_sys) best_user = user, best_sys = sys;
    }
    printf("%zu daemons (%zu running): %.1f us of CPU per daemon (user %.1f, system %.1f)\n",
           count, alive, (best_user + best_sys) / count, best_user / count, best_sys / count);
    return 0;
}
