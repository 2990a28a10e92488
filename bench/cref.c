/* The C reference for `rdaemon start` (issue 18, target 2): the least a C program must do to
 * start a daemon the way rdaemon does, so that rdaemon's start can be measured against it.
 *
 *   cref [--log FILE] [--record FILE] [--cgroup DIR] PIDFILE PROGRAM [ARGS...]
 *   cref --state DIR --name NAME [--log FILE] [--cgroup DIR] PIDFILE PROGRAM [ARGS...]
 *   cref --bare [--log FILE] PROGRAM [ARGS...]
 *
 * Both: the log (default /dev/null) is opened for appending in the parent, before the fork;
 * fork; the child calls setsid and forks again and reports the grandchild's pid on a
 * close-on-exec report pipe, then exits; the grandchild waits for "go", leads a process group
 * of its own, resets every signal disposition and the mask, chdir("/"), umask(022), stdin from
 * /dev/null, stdout and stderr to the log, marks every fd above 2 close-on-exec
 * (close_range(3, ~0, CLOSE_RANGE_CLOEXEC)) and calls execve; a failure at any step goes back
 * on the report pipe as (step, errno). The parent is a child subreaper, reads the pid, and
 * waits for end-of-file on the report pipe: the exec is then confirmed. It prints
 * "started (pid N)" and exits 0.
 *
 * Default, rdaemon's protocol: the temporary pidfile (.NAME.PID.tmp beside PIDFILE) is created
 * before the fork, the boot id read; once the grandchild's pid is known (it waits for "go"), its
 * start time is read from /proc/PID/stat, the record (one JSON line, default PIDFILE.json) is
 * written to a temporary file and renamed into place, then the pid is written to the temporary
 * pidfile and renamed onto PIDFILE — record first, as rdaemon does, so that no pidfile ever
 * exists without a record vouching for it — and only then is "go" written.
 *
 * --state DIR --name NAME: rdaemon version 2's state instead of the one record (SPEC §1): the
 * per-name lock (DIR/NAME.lock, created O_EXCL | O_NOFOLLOW 0600 if missing, else opened; an
 * exclusive flock) is taken first; the spec (DIR/NAME.json: what to run, wanted running) is
 * written to DIR/NAME.json.new and renamed while the intermediate child forks; the status
 * (DIR/NAME.status: pid, start time, boot id) is written the same way once the pid is known,
 * before the pidfile. Each is written once. The lock is released at exit.
 *
 * --cgroup DIR: also what rdaemon's default (--cgroup auto) does: DIR, a new cgroup v2
 * directory, is made before the fork (mkdir, 0755) and opened, and the intermediate creates the
 * grandchild straight in it (clone3 with CLONE_INTO_CGROUP, Linux 5.7) instead of fork. The
 * caller removes DIR once the daemon is gone.
 *
 * --bare: no pidfile, no record, no "go" pipe: fork, setsid, fork, report pipe, reset, dup2,
 * close_range, execve.
 *
 * Not done here (rdaemon does it): the name lock (unless --state), reading an old record, checking a stale
 * pidfile, resolving the program on PATH (PROGRAM must be an absolute path: the exec runs from /),
 * finding the cgroup mount, --user.
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/build/cref bench/cref.c (bench/run.sh does). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

enum step { STEP_PID = 1, STEP_SETSID, STEP_FORK, STEP_SETPGID, STEP_CHDIR, STEP_STDIO, STEP_EXEC };
static const char *step_name[] = {"", "pid", "setsid", "fork", "setpgid", "chdir", "stdio", "execve"};

/* Everything the children need, prepared before the fork: they only make system calls. */
static int report_w = -1, go_r = -1, go_w = -1, null_fd = -1, log_fd = -1, cgroup_fd = -1;
static char **child_argv;

static void report(int step, int value) {
    int msg[2] = {step, value};
    ssize_t n = write(report_w, msg, sizeof msg); /* ≤ PIPE_BUF: atomic */
    (void)n;
}

static void fail(int step) {
    report(step, errno);
    _exit(127);
}

/* The kernel's struct sigaction (x86_64, aarch64): zeroed is SIG_DFL, no flags, empty mask. */
struct ksigaction { unsigned long handler, flags, restorer, mask; };

static void grandchild(void) {
    if (go_w >= 0) {
        close(go_w);
        char byte;
        ssize_t n;
        while ((n = read(go_r, &byte, 1)) < 0 && errno == EINTR) {}
        if (n != 1) _exit(1); /* the parent gave up: never run the program */
        close(go_r);
    }
    if (setpgid(0, 0) < 0) fail(STEP_SETPGID);
    if (chdir("/") < 0) fail(STEP_CHDIR);
    umask(022);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) fail(STEP_STDIO);
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < max; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    /* Raw rt_sigaction: glibc's sigaction refuses its two reserved real-time signals. */
    struct ksigaction dfl = {0, 0, 0, 0};
    for (int sig = 1; sig <= SIGRTMAX; sig++) syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(child_argv[0], child_argv, environ);
    fail(STEP_EXEC);
}

/* The kernel's struct clone_args, up to its cgroup field (CLONE_ARGS_SIZE_VER2). */
struct clone_args_v2 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

static void intermediate(void) {
    if (setsid() < 0) fail(STEP_SETSID);
    pid_t pid;
    if (cgroup_fd >= 0) {
        struct clone_args_v2 args = {0};
        args.flags = CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)cgroup_fd;
        pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    } else {
        pid = fork();
    }
    if (pid < 0) fail(STEP_FORK);
    if (pid == 0) grandchild();
    report(STEP_PID, pid);
    _exit(0);
}

/* Reads one (step, value) message: 1, or 0 at end-of-file. */
static int read_message(int fd, int msg[2]) {
    for (;;) {
        ssize_t n = read(fd, msg, 2 * sizeof(int));
        if (n == 2 * (ssize_t)sizeof(int)) return 1;
        if (n == 0) return 0;
        if (n < 0 && errno == EINTR) continue;
        fprintf(stderr, "cref: bad read from the report pipe\n");
        exit(1);
    }
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Field 22 of /proc/PID/stat, the start time in clock ticks since boot. */
static int start_time(pid_t pid, unsigned long long *out) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p += 2; /* field 3, the state */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) return -1;
        p++;
    }
    *out = strtoull(p, NULL, 10);
    return 0;
}

/* Appends s to the JSON buffer as a JSON string. */
static size_t json_str(char *buf, size_t at, size_t cap, const char *s) {
    if (at < cap) buf[at++] = '"';
    for (; *s && at + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { buf[at++] = '\\'; buf[at++] = (char)c; }
        else if (c < 0x20) at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", c);
        else buf[at++] = (char)c;
    }
    if (at < cap) buf[at++] = '"';
    return at;
}

/* Writes len bytes to path.new, then renames it onto path. */
static int write_replace(const char *path, const char *buf, size_t len, mode_t mode) {
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return -1;
    if (write_all(fd, buf, len) < 0) { close(fd); unlink(tmp); return -1; }
    if (close(fd) < 0 || rename(tmp, path) < 0) { unlink(tmp); return -1; }
    return 0;
}

/* The JSON array of the program's argv. */
static size_t json_argv(char *buf, size_t at, size_t cap) {
    if (at < cap) buf[at++] = '[';
    for (char **a = child_argv; *a && at < cap - 64; a++) {
        if (a != child_argv) buf[at++] = ',';
        at = json_str(buf, at, cap, *a);
    }
    if (at < cap) buf[at++] = ']';
    return at;
}

static void usage(void) {
    fprintf(stderr, "usage: cref [--log FILE] [--record FILE] [--cgroup DIR] PIDFILE PROGRAM [ARGS...]\n"
                    "       cref --state DIR --name NAME [--log FILE] [--cgroup DIR] PIDFILE PROGRAM [ARGS...]\n"
                    "       cref --bare [--log FILE] PROGRAM [ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int bare = 0;
    const char *log = "/dev/null", *record = NULL, *pidfile = NULL, *cgroup = NULL;
    const char *state = NULL, *name = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--")) { i++; break; }
        else if (!strcmp(argv[i], "--bare")) bare = 1;
        else if (!strcmp(argv[i], "--log") && i + 1 < argc) log = argv[++i];
        else if (!strcmp(argv[i], "--record") && i + 1 < argc) record = argv[++i];
        else if (!strcmp(argv[i], "--cgroup") && i + 1 < argc) cgroup = argv[++i];
        else if (!strcmp(argv[i], "--state") && i + 1 < argc) state = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else usage();
    }
    if (!bare) {
        if (i >= argc) usage();
        pidfile = argv[i++];
    }
    if (!state != !name || (state && (bare || record))) usage();
    if (i >= argc) usage();
    child_argv = argv + i;

    char record_buf[PATH_MAX], record_tmp[PATH_MAX + 8], pid_tmp[PATH_MAX + 32], boot_id[64] = "";
    char spec_path[PATH_MAX], status_path[PATH_MAX];
    int pid_tmp_fd = -1;
    if (state) {
        /* The name's lock first, as every rdaemon verb that writes takes it. */
        char lock_path[PATH_MAX];
        snprintf(lock_path, sizeof lock_path, "%s/%s.lock", state, name);
        int lock_fd = open(lock_path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (lock_fd < 0 && errno == EEXIST) lock_fd = open(lock_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) { perror(lock_path); return 1; }
        snprintf(spec_path, sizeof spec_path, "%s/%s.json", state, name);
        snprintf(status_path, sizeof status_path, "%s/%s.status", state, name);
        record = status_path;
    }
    if (!bare) {
        if (!record) {
            snprintf(record_buf, sizeof record_buf, "%s.json", pidfile);
            record = record_buf;
        }
        snprintf(record_tmp, sizeof record_tmp, "%s.new", record);
        /* The temporary pidfile beside the pidfile, created before the fork as rdaemon does. */
        const char *slash = strrchr(pidfile, '/');
        int dirlen = slash ? (int)(slash - pidfile + 1) : 0;
        snprintf(pid_tmp, sizeof pid_tmp, "%.*s.%s.%d.tmp", dirlen, pidfile,
                 pidfile + dirlen, (int)getpid());
        pid_tmp_fd = open(pid_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (pid_tmp_fd < 0) { perror(pid_tmp); return 1; }
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, boot_id, sizeof boot_id - 1);
        if (fd >= 0) close(fd);
        if (n < 36) { fprintf(stderr, "cref: cannot read the boot id\n"); return 1; }
        boot_id[36] = 0;
    }

    log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) { perror(log); return 1; }
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) { perror("/dev/null"); return 1; }
    if (cgroup) {
        if (mkdir(cgroup, 0755) < 0) { perror(cgroup); return 1; }
        cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cgroup_fd < 0) { perror(cgroup); rmdir(cgroup); return 1; }
    }
    /* Best effort, as in rdaemon: the grandchild becomes our child once the intermediate exits. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    int report_pipe[2], go_pipe[2];
    if (pipe2(report_pipe, O_CLOEXEC) < 0) { perror("pipe2"); return 1; }
    report_w = report_pipe[1];
    if (!bare) {
        if (pipe2(go_pipe, O_CLOEXEC) < 0) { perror("pipe2"); return 1; }
        go_r = go_pipe[0];
        go_w = go_pipe[1];
    }

    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) intermediate();
    close(report_w);
    if (!bare) close(go_r);
    int spec_failed = 0;
    if (state) {
        /* The spec needs no pid: written while the intermediate forks, once, wanted running. */
        static char spec[8192];
        size_t at = (size_t)snprintf(spec, sizeof spec, "{\"name\":");
        at = json_str(spec, at, sizeof spec, name);
        at += (size_t)snprintf(spec + at, sizeof spec - at, ",\"pidfile\":");
        at = json_str(spec, at, sizeof spec, pidfile);
        at += (size_t)snprintf(spec + at, sizeof spec - at, ",\"command\":");
        at = json_argv(spec, at, sizeof spec);
        at += (size_t)snprintf(spec + at, sizeof spec - at,
                               ",\"chdir\":\"/\",\"umask\":\"0022\",\"stdout\":");
        at = json_str(spec, at, sizeof spec, log);
        at += (size_t)snprintf(spec + at, sizeof spec - at,
                               ",\"mode\":\"exec\",\"wanted\":\"running\"}\n");
        if (write_replace(spec_path, spec, at, 0600) < 0) { perror(spec_path); spec_failed = 1; }
    }

    int msg[2];
    if (!read_message(report_pipe[0], msg)) {
        fprintf(stderr, "cref: the intermediate process died\n");
        return 1;
    }
    if (msg[0] != STEP_PID) {
        fprintf(stderr, "cref: %s failed: %s\n", step_name[msg[0] % 8], strerror(msg[1]));
        return 1;
    }
    pid_t pid = msg[1];
    if (spec_failed) goto abort;

    if (!bare) {
        unsigned long long st;
        if (start_time(pid, &st) < 0) { fprintf(stderr, "cref: cannot read /proc/%d/stat\n", pid); goto abort; }
        /* The record: one JSON line with what a record names, written whole, then renamed. */
        static char json[8192];
        size_t at;
        if (state) {
            /* The status: what is true of this run only. */
            at = (size_t)snprintf(json, sizeof json,
                                  "{\"pid\":%d,\"start_time\":%llu,\"boot_id\":\"%s\",\"session\":%d}\n",
                                  (int)pid, st, boot_id, (int)child);
            if (write_replace(status_path, json, at, 0644) < 0) { perror(status_path); goto abort; }
            goto pidfile;
        }
        at = (size_t)snprintf(json, sizeof json, "{\"pidfile\":");
        at = json_str(json, at, sizeof json, pidfile);
        at += (size_t)snprintf(json + at, sizeof json - at,
                               ",\"pid\":%d,\"start_time\":%llu,\"boot_id\":\"%s\",\"command\":[",
                               (int)pid, st, boot_id);
        for (char **a = child_argv; *a && at < sizeof json - 64; a++) {
            if (a != child_argv) json[at++] = ',';
            at = json_str(json, at, sizeof json, *a);
        }
        at += (size_t)snprintf(json + at, sizeof json - at,
                               "],\"chdir\":\"/\",\"umask\":\"0022\",\"stdout\":");
        at = json_str(json, at, sizeof json, log);
        at += (size_t)snprintf(json + at, sizeof json - at, ",\"mode\":\"exec\"}\n");
        int fd = open(record_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, json, at) < 0 || close(fd) < 0 || rename(record_tmp, record) < 0) {
            perror(record);
            goto abort;
        }
    pidfile:;
        /* Then the pidfile. */
        char text[32];
        int len = snprintf(text, sizeof text, "%d\n", (int)pid);
        if (write_all(pid_tmp_fd, text, (size_t)len) < 0 || rename(pid_tmp, pidfile) < 0) {
            perror(pidfile);
            unlink(record);
            goto abort;
        }
        close(pid_tmp_fd);
        /* Go. */
        if (write_all(go_w, "g", 1) < 0) { perror("go"); goto abort; }
        close(go_w);
    }

    int exec_failed = read_message(report_pipe[0], msg);
    waitpid(child, NULL, 0);
    if (exec_failed) {
        waitpid(pid, NULL, 0);
        fprintf(stderr, "cref: %s failed: %s\n", step_name[msg[0] % 8], strerror(msg[1]));
        if (!bare) { unlink(pidfile); unlink(record); }
        if (state) unlink(spec_path);
        return 1;
    }
    printf("started (pid %d)\n", (int)pid);
    return 0;

abort:
    /* The grandchild waits for "go", which never comes: kill it and reap both. */
    waitpid(child, NULL, 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (!bare) unlink(pid_tmp);
    return 1;
}
