/* launch.c - one process per local rank, stopped together (see launch.h). */
#include "launch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "progress.h"

#define KILL_GRACE_S 10.0

static void set_env_int(const char *name, long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    if (setenv(name, buf, 1) != 0) die("setenv %s: %s", name, strerror(errno));
}

static pid_t spawn(int rank, int n, char *const argv[]) {
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid > 0) return pid;
    set_env_int("RANK", rank);
    set_env_int("LOCAL_RANK", rank);
    set_env_int("WORLD_SIZE", n);
    set_env_int("LOCAL_WORLD_SIZE", n);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "%s: rank %d: cannot run /proc/self/exe: %s\n", prog_name(), rank, strerror(errno));
    _exit(127);
}

static void describe(int status, char *buf, size_t cap) {
    if (WIFSIGNALED(status)) snprintf(buf, cap, "was killed by signal %d (%s)", WTERMSIG(status),
                                      strsignal(WTERMSIG(status)));
    else snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
}

/* Stop the ranks still running: SIGTERM, then SIGKILL after the grace time. */
static void stop_all(pid_t *pids, int n, int *alive) {
    for (int r = 0; r < n; r++)
        if (pids[r] > 0) kill(pids[r], SIGTERM);
    double t0 = now_seconds();
    int killed = 0;
    while (*alive > 0) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            for (int r = 0; r < n; r++)
                if (pids[r] == p) pids[r] = 0, (*alive)--;
            continue;
        }
        if (!killed && now_seconds() - t0 > KILL_GRACE_S) {
            for (int r = 0; r < n; r++)
                if (pids[r] > 0) kill(pids[r], SIGKILL);
            killed = 1;
        }
        usleep(20000);
    }
}

int launch_local(int n, char *const argv[]) {
    char id[64];
    snprintf(id, sizeof id, "%ld-%ld", (long)getpid(), (long)time(NULL));
    if (setenv("BLIP_RUN_ID", id, 1) != 0 || setenv("BLIP_LAUNCHED", "1", 1) != 0)
        die("setenv: %s", strerror(errno));
    pid_t *pids = xcalloc((size_t)n, sizeof *pids);
    for (int r = 0; r < n; r++) pids[r] = spawn(r, n, argv);
    int alive = n, rc = 0;
    while (alive > 0) {
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR) continue;
            die("waitpid: %s", strerror(errno));
        }
        int r = 0;
        while (r < n && pids[r] != p) r++;
        if (r == n) continue;
        pids[r] = 0, alive--;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
        char how[96];
        describe(status, how, sizeof how);
        fprintf(stderr, "%s: rank %d of %d %s; stopping the other ranks\n", prog_name(), r, n, how);
        stop_all(pids, n, &alive);
        rc = 1;
    }
    free(pids);
    return rc;
}
