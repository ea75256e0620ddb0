/* comm_mpi.c - the MPI engine: collectives on host memory; device buffers
 * travel through a host staging buffer one bucket at a time (be_download,
 * MPI, be_upload), so it serves any backend. Only the main thread calls
 * MPI (MPI_THREAD_FUNNELED). */
#include "comm_internal.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "err.h"
#include "ops.h"

typedef struct {
    float *stage; /* [COMM_BUCKET_BYTES / 4] host staging */
} mpi_t;

void comm_mpi_init(void) {
    int done;
    MPI_Initialized(&done);
    if (done) return;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        die("MPI_Init_thread failed");
}

static void check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len;
    MPI_Error_string(rc, msg, &len);
    die("MPI %s: %s", what, msg);
}

static void bcast_host(void *buf, size_t bytes, int root) {
    for (size_t off = 0; off < bytes; off += INT_MAX) {
        size_t n = bytes - off < INT_MAX ? bytes - off : INT_MAX;
        check(MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
    }
}

static void mpi_bcast(comm_t *c, void *buf, size_t bytes, int root, int on_device) {
    if (!on_device) {
        bcast_host(buf, bytes, root);
        return;
    }
    mpi_t *m = c->impl;
    for (size_t off = 0; off < bytes; off += COMM_BUCKET_BYTES) {
        size_t n = bytes - off < COMM_BUCKET_BYTES ? bytes - off : COMM_BUCKET_BYTES;
        if (c->env.rank == root) be_download(m->stage, (char *)buf + off, n);
        bcast_host(m->stage, n, root);
        if (c->env.rank != root) be_upload((char *)buf + off, m->stage, n);
    }
}

static void mpi_grads(comm_t *c, float *dev, size_t n, float scale) {
    mpi_t *m = c->impl;
    const size_t bucket = COMM_BUCKET_BYTES / sizeof(float);
    for (size_t off = 0; off < n; off += bucket) {
        size_t k = n - off < bucket ? n - off : bucket;
        be_download(m->stage, dev + off, k * sizeof(float));
        check(MPI_Allreduce(MPI_IN_PLACE, m->stage, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "all-reduce of gradients");
        if (scale != 1.0f)
            for (size_t i = 0; i < k; i++) m->stage[i] *= scale;
        be_upload(dev + off, m->stage, k * sizeof(float));
    }
}

static void mpi_sum(comm_t *c, double *x, int n) {
    check(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "all-reduce of scalars");
}

static void mpi_close(comm_t *c) {
    mpi_t *m = c->impl;
    free(m->stage);
    free(m);
    MPI_Finalize();
}

static const comm_ops_t MPI_OPS = {mpi_bcast, mpi_grads, mpi_sum, mpi_close};

void comm_mpi_open(comm_t *c) {
    comm_mpi_init();
    MPI_Comm_rank(MPI_COMM_WORLD, &c->env.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->env.world);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* errors name the operation */
    mpi_t *m = xcalloc(1, sizeof *m);
    m->stage = xmalloc(COMM_BUCKET_BYTES);
    c->impl = m;
    c->ops = &MPI_OPS;
}
