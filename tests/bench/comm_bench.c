/* comm_bench.c - the communicator's gradient all-reduce (comm_grads: sum of
 * the ranks' buffers, scaled) on a buffer the size of BLIP-base's gradients,
 * with the engine blip-train would use. Run by tests/bench/comm.sh:
 *
 *   mpirun -np N build/bench/comm_bench [ITERS]
 *
 * Rank 0 prints "floats seconds_per_allreduce algbw_GBps busbw_GBps" (bus
 * bandwidth as nccl-tests counts it: 2 (N-1)/N x bytes / time). The buffer
 * starts at 1 and the scale is 1/N, so every all-reduce leaves it at 1: a
 * wrong sum is an error, not a number. */
#include <stdio.h>
#include <stdlib.h>

#include "blip_config.h"
#include "cli.h"
#include "comm.h"
#include "err.h"
#include "model.h"
#include "ops.h"
#include "progress.h"

int main(int argc, char **argv) {
    err_init(argv[0]);
    int iters = argc > 1 ? (int)opt_long(argv[1], "ITERS", 1, 1000) : 3;
    blip_config_t cfg;
    blip_config_base(&cfg);
    blip_model_t *m = blip_model_new(&cfg, 1, 1, 0);
    size_t n = m->nfloats;
    blip_model_free(m);
    comm_t *c = comm_open(&(comm_opts_t){.engine = COMM_AUTO, .timeout = 600});
    int W = comm_world(c);
    float *host = xmalloc(n * sizeof *host);
    for (size_t i = 0; i < n; i++) host[i] = 1.0f;
    float *dev = be_alloc(n * sizeof *dev);
    be_upload(dev, host, n * sizeof *dev);
    comm_grads(c, dev, n, 1.0f / (float)W); /* warm-up */
    comm_barrier(c);
    double t0 = now_seconds();
    for (int i = 0; i < iters; i++) comm_grads(c, dev, n, 1.0f / (float)W);
    comm_barrier(c);
    double t = (now_seconds() - t0) / iters;
    be_download(host, dev, n * sizeof *dev);
    for (size_t i = 0; i < n; i += 4099)
        if (host[i] != 1.0f) die("element %zu is %g after the all-reduces, not 1", i, (double)host[i]);
    double bytes = (double)n * sizeof(float);
    if (comm_rank(c) == 0)
        printf("%zu %.4f %.3f %.3f\n", n, t, bytes / t / 1e9, 2.0 * (W - 1) / W * bytes / t / 1e9);
    be_free(dev);
    free(host);
    comm_close(c);
    return 0;
}
