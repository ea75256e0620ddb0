/* test_comm.c - the communicator's launcher environment and its one-process
 * engine: gradients in buckets, ZeRO-1 shards (the MPI engine is exercised
 * by tests/cli/train_dp.sh). */
#include "comm.h"
#include "ops.h"
#include "test.h"

static const char *const VARS[] = {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
                                   "WORLD_SIZE", "RANK", "LOCAL_RANK", "SLURM_STEP_NUM_TASKS",
                                   "SLURM_PROCID", "SLURM_LOCALID"};

static void clear_env(void) {
    for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++) unsetenv(VARS[i]);
}

TEST(env_none) {
    clear_env();
    comm_env_t e;
    comm_env(&e);
    CHECK_STR(e.launcher, "none");
    CHECK_EQ_INT(e.world, 1);
    CHECK_EQ_INT(e.rank, 0);
}

TEST(env_launchers) {
    static const struct {
        const char *vars[3], *launcher;
    } cases[] = {
        {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"}, "mpirun"},
        {{"WORLD_SIZE", "RANK", "LOCAL_RANK"}, "torchrun"},
        {{"SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_LOCALID"}, "srun"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clear_env();
        setenv(cases[i].vars[0], "16", 1);
        setenv(cases[i].vars[1], "9", 1);
        setenv(cases[i].vars[2], "1", 1);
        comm_env_t e;
        comm_env(&e);
        CHECK_STR(e.launcher, cases[i].launcher);
        CHECK_EQ_INT(e.world, 16);
        CHECK_EQ_INT(e.rank, 9);
        CHECK_EQ_INT(e.local_rank, 1);
    }
    /* mpirun inside a Slurm allocation: OpenMPI's variables win */
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    comm_env_t e;
    comm_env(&e);
    CHECK_STR(e.launcher, "mpirun");
    CHECK_EQ_INT(e.world, 2);
    clear_env();
}

TEST(none_engine) {
    clear_env();
    comm_t *c = comm_open(&(comm_opts_t){.engine = COMM_AUTO, .timeout = 5});
    CHECK_EQ_INT(comm_rank(c), 0);
    CHECK_EQ_INT(comm_world(c), 1);
    CHECK_STR(comm_name(c), "none (none), rank 0 of 1");
    double x[2] = {1.5, -2};
    comm_sum(c, x, 2);
    CHECK(x[0] == 1.5 && x[1] == -2);
    float h[3] = {1, 2, 4}, back[3];
    float *d = be_alloc(sizeof h);
    be_upload(d, h, sizeof h);
    comm_grads(c, d, 3, 0.25f);
    be_download(back, d, sizeof back);
    CHECK(back[0] == 0.25f && back[1] == 0.5f && back[2] == 1.0f);
    comm_bcast(c, d, sizeof h, 0, 1);
    be_download(back, d, sizeof back);
    CHECK(back[2] == 1.0f);
    be_free(d);
    size_t n;
    char *all = comm_allgather(c, "ab\0c", 5, &n);
    CHECK_EQ_INT(n, 5);
    CHECK(memcmp(all, "ab\0c", 5) == 0);
    free(all);
    comm_barrier(c);
    comm_close(c);
}

TEST(none_engine_buckets_and_shards) {
    clear_env();
    comm_t *c = comm_open(&(comm_opts_t){.engine = COMM_NONE, .timeout = 5, .bucket_bytes = 8});
    enum { N = 40 };
    float h[N], back[N];
    for (int i = 0; i < N; i++) h[i] = (float)i;
    float *d = be_alloc(sizeof h);
    be_upload(d, h, sizeof h);
    /* buckets of 2 floats started as the tail becomes final, the rest at the end */
    comm_grads_begin(c, d, N, 0.5f, 0);
    comm_grads_ready(c, 35);
    comm_grads_ready(c, 11);
    comm_grads_end(c);
    be_download(back, d, sizeof back);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= back[i] == 0.5f * (float)i;
    CHECK_MSG(ok, "every element scaled once");
    /* one rank owns the whole buffer, rounded up to 16 floats */
    size_t S = comm_shard(c, N), off, len;
    CHECK_EQ_INT(S, 48);
    comm_shard_range(c, N, S, &off, &len);
    CHECK(off == 0 && len == N);
    float *mine = be_alloc(sizeof h), *full = be_alloc(sizeof h);
    be_upload(mine, h, sizeof h);
    comm_gather_shards(c, full, mine, N, S);
    be_download(back, full, sizeof back);
    CHECK(memcmp(back, h, sizeof h) == 0);
    op_zero(mine, N);
    comm_scatter_shards(c, full, mine, N, S);
    be_download(back, mine, sizeof back);
    CHECK(memcmp(back, h, sizeof h) == 0);
    comm_allgather_shards(c, d, N, S);
    be_free(mine);
    be_free(full);
    be_free(d);
    comm_close(c);
}
