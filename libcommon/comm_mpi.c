/* comm_mpi.c - the MPI engine: collectives on host memory; device buffers
 * travel through a host staging buffer one bucket at a time (be_download,
 * MPI, be_upload), so it serves any backend. Only the main thread calls
 * MPI (MPI_THREAD_FUNNELED). libmpi is loaded when a job needs it. */
#include "comm_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include "err.h"
#include "ops.h"

typedef struct {
    float *stage; /* [COMM_BUCKET_BYTES / 4] host staging */
} mpi_t;

static mpi_api_t api;

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) die("libmpi: no symbol %s (OpenMPI 4 or 5 expected)", name);
    return p;
}

const mpi_api_t *comm_mpi_load(void) {
    if (api.world) return &api;
    void *lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL); /* GLOBAL: OpenMPI's plugins link to it */
    if (!lib) die("an MPI launcher started this process, but OpenMPI cannot be loaded: %s", dlerror());
    *(void **)&api.Init_thread = sym(lib, "MPI_Init_thread");
    *(void **)&api.Comm_rank = sym(lib, "MPI_Comm_rank");
    *(void **)&api.Comm_size = sym(lib, "MPI_Comm_size");
    *(void **)&api.Comm_set_errhandler = sym(lib, "MPI_Comm_set_errhandler");
    *(void **)&api.Error_string = sym(lib, "MPI_Error_string");
    *(void **)&api.Bcast = sym(lib, "MPI_Bcast");
    *(void **)&api.Allreduce = sym(lib, "MPI_Allreduce");
    *(void **)&api.Finalize = sym(lib, "MPI_Finalize");
    /* the predefined handles are the addresses of these globals (mpi.h) */
    api.byte = (MPI_Datatype)sym(lib, "ompi_mpi_byte");
    api.float32 = (MPI_Datatype)sym(lib, "ompi_mpi_float");
    api.float64 = (MPI_Datatype)sym(lib, "ompi_mpi_double");
    api.sum = (MPI_Op)sym(lib, "ompi_mpi_op_sum");
    api.errors_return = (MPI_Errhandler)sym(lib, "ompi_mpi_errors_return");
    int provided;
    if (api.Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) die("MPI_Init_thread failed");
    api.world = (MPI_Comm)sym(lib, "ompi_mpi_comm_world");
    api.Comm_set_errhandler(api.world, api.errors_return); /* errors name the operation */
    return &api;
}

static void check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len;
    api.Error_string(rc, msg, &len);
    die("MPI %s: %s", what, msg);
}

static void bcast_host(void *buf, size_t bytes, int root) {
    for (size_t off = 0; off < bytes; off += INT_MAX) {
        size_t n = bytes - off < INT_MAX ? bytes - off : INT_MAX;
        check(api.Bcast((char *)buf + off, (int)n, api.byte, root, api.world), "broadcast");
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
        check(api.Allreduce(MPI_IN_PLACE, m->stage, (int)k, api.float32, api.sum, api.world),
              "all-reduce of gradients");
        if (scale != 1.0f)
            for (size_t i = 0; i < k; i++) m->stage[i] *= scale;
        be_upload(dev + off, m->stage, k * sizeof(float));
    }
}

static void mpi_sum(comm_t *c, double *x, int n) {
    check(api.Allreduce(MPI_IN_PLACE, x, n, api.float64, api.sum, api.world), "all-reduce of scalars");
}

static void mpi_close(comm_t *c) {
    mpi_t *m = c->impl;
    free(m->stage);
    free(m);
    api.Finalize();
}

static const comm_ops_t MPI_OPS = {mpi_bcast, mpi_grads, mpi_sum, mpi_close};

void comm_mpi_open(comm_t *c) {
    comm_mpi_load();
    api.Comm_rank(api.world, &c->env.rank);
    api.Comm_size(api.world, &c->env.world);
    mpi_t *m = xcalloc(1, sizeof *m);
    m->stage = xmalloc(COMM_BUCKET_BYTES);
    c->impl = m;
    c->ops = &MPI_OPS;
}
