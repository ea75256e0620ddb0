/* test_backend.c - backend selection (be_open) and the cpu-strict device:
 * ops work through it, host access to its buffers between ops faults. Each
 * case runs in a child process, since a backend can be opened only once. */
#include "test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ops.h"

/* Run fn in a child with stderr silenced; returns its wait status. */
static int in_child(void (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        fn();
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return st;
}

/* Ops through cpu-strict give the same values as plain arithmetic. */
static void strict_ops(void) {
    be_open("cpu-strict", NULL);
    float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40}, out[4], sum;
    float *da = be_alloc(sizeof a), *db = be_alloc(sizeof b), *ds = be_alloc(sizeof(float));
    be_upload(da, a, sizeof a);
    be_upload(db, b, sizeof b);
    op_add_inplace(db, da, 4);
    op_sum(ds, db, 4);
    be_download(out, db, sizeof out);
    be_download(&sum, ds, sizeof sum);
    be_free(da);
    _exit(out[0] == 11 && out[3] == 44 && sum == 110 ? 0 : 3);
}

static void strict_host_read(void) {
    be_open("cpu-strict", "fp32");
    volatile float *d = be_alloc(64);
    float x = d[0]; /* must fault */
    (void)x;
}

static void plain_host_read(void) {
    volatile float *d = be_alloc(64);
    _exit(d[0] == 0.0f ? 0 : 3);
}

static void bf16_on_cpu(void) { be_open("cpu", "bf16"); }
static void bad_device(void) { be_open("tpu", NULL); }
static void bad_index(void) { be_open("cuda:x", NULL); }
static void cuda_not_built(void) { be_open("cuda", NULL); }
static void twice(void) { be_open("cpu", NULL); be_open("cpu", NULL); }

#define EXITED(st, code) (WIFEXITED(st) && WEXITSTATUS(st) == (code))

TEST(strict_ops_work) { CHECK(EXITED(in_child(strict_ops), 0)); }

TEST(strict_host_access_faults) {
    int st = in_child(strict_host_read);
#ifdef __SANITIZE_ADDRESS__ /* ASan reports the SEGV and exits 1 */
    CHECK_MSG(EXITED(st, 1), "status 0x%x", st);
#else
    CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status 0x%x", st);
#endif
}

TEST(default_backend_is_cpu) { CHECK(EXITED(in_child(plain_host_read), 0)); }

TEST(open_errors) {
    CHECK(EXITED(in_child(bf16_on_cpu), 1));
    CHECK(EXITED(in_child(bad_device), 2));
    CHECK(EXITED(in_child(bad_index), 2));
    CHECK(EXITED(in_child(twice), 1));
#ifndef BLIP_CUDA
    CHECK(EXITED(in_child(cuda_not_built), 1));
#endif
}
