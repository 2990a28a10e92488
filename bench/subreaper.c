/* A small subreaper: runs argv[1..] as its child, adopts every orphan below it and reaps them
 * at once, so that the late reaping of PID 1 does not distort a measurement. Exits with the
 * child's status when the child exits. */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: subreaper PROGRAM [ARGS...]\n"); return 2; }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) { perror("subreaper: prctl"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("subreaper: fork"); return 1; }
    if (child == 0) { execvp(argv[1], argv + 1); perror("subreaper: exec"); _exit(127); }
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) return 1;
        if (pid == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
}
