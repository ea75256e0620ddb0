/* comm_nccl.c - the NCCL communicator on one GPU (world size 1, the way a
 * single-GPU run would use it with --comm nccl): every operation through
 * NCCL on device buffers of the CUDA backend, gradients over more than one
 * bucket. Run by tests/gpu/run; several ranks need several GPUs (blip-train
 * --gpus N). */
#include "comm.h"
#include "ops.h"
#include "test.h"

TEST(nccl_one_rank) {
    be_open("cuda", "fp32");
    comm_t *c = comm_open(&(comm_opts_t){.engine = COMM_NCCL, .gpu = 1, .timeout = 120});
    CHECK_STR(comm_name(c), "nccl (none), rank 0 of 1");
    /* 9M floats: two 25 MB buckets and a partial third */
    size_t n = (size_t)9 << 20;
    float *h = malloc(n * sizeof *h), *back = malloc(n * sizeof *back);
    for (size_t i = 0; i < n; i++) h[i] = (float)(i % 1000) - 500.0f;
    float *d = be_alloc(n * sizeof *d);
    be_upload(d, h, n * sizeof *d);
    comm_grads(c, d, n, 0.25f);
    /* a kernel right after: its launch check must not see the event
     * polling's "not ready" (comm_nccl.c clears it) */
    op_scale(d, 1.0f, n);
    be_download(back, d, n * sizeof *d);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += back[i] != h[i] * 0.25f;
    CHECK_EQ_INT(bad, 0);
    comm_bcast(c, d, n * sizeof *d, 0, 1);
    be_download(back, d, 16);
    CHECK(back[1] == h[1] * 0.25f);
    double x[3] = {1.5, -2, 1e300};
    comm_sum(c, x, 3);
    CHECK(x[0] == 1.5 && x[1] == -2 && x[2] == 1e300);
    char host[5] = "ab\0c";
    comm_bcast(c, host, sizeof host, 0, 0);
    CHECK(memcmp(host, "ab\0c", 5) == 0);
    size_t total;
    char *all = comm_allgather(c, "xyz", 3, &total);
    CHECK_EQ_INT(total, 3);
    CHECK(memcmp(all, "xyz", 3) == 0);
    free(all);
    comm_barrier(c);
    comm_close(c);
    be_free(d);
    free(h);
    free(back);
}
