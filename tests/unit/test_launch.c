/* test_launch.c - launch_local: the ranks get their environment, success
 * when all succeed, and a failing rank stops the others promptly. The test
 * program is its own child: with TEST_LAUNCH_MODE set it acts as a rank. */
#include <signal.h>
#include <unistd.h>

#include "launch.h"
#include "progress.h"
#include "test.h"

/* As a rank: "env" exits 0 when the launcher's variables are right;
 * "fail" makes rank 1 exit 3 while the others wait to be stopped. */
__attribute__((constructor)) static void act_as_rank(void) {
    const char *mode = getenv("TEST_LAUNCH_MODE");
    if (!mode) return;
    const char *r = getenv("RANK"), *w = getenv("WORLD_SIZE"), *lr = getenv("LOCAL_RANK");
    const char *lw = getenv("LOCAL_WORLD_SIZE"), *id = getenv("BLIP_RUN_ID");
    if (!r || !w || !lr || !lw || !id || strcmp(r, lr) || strcmp(w, lw) || atoi(r) >= atoi(w)) _exit(9);
    if (strcmp(mode, "fail") == 0) {
        if (atoi(r) == 1) _exit(3);
        sleep(60);
        _exit(8);
    }
    _exit(0);
}

static char *const ARGV[] = {"test_launch", NULL};

TEST(launch_all_succeed) {
    setenv("TEST_LAUNCH_MODE", "env", 1);
    CHECK_EQ_INT(launch_local(3, ARGV), 0);
    unsetenv("TEST_LAUNCH_MODE");
}

TEST(launch_failure_stops_the_others) {
    setenv("TEST_LAUNCH_MODE", "fail", 1);
    double t0 = now_seconds();
    CHECK_EQ_INT(launch_local(3, ARGV), 1);
    CHECK(now_seconds() - t0 < 8.0); /* SIGTERM, not the 60 s sleep or the SIGKILL grace */
    unsetenv("TEST_LAUNCH_MODE");
}
