/* comm_mpi.c - the MPI engine: collectives on host memory; device buffers
 * travel through host staging buffers (be_download, MPI, be_upload), so it
 * serves any backend. Gradient buckets started during the backward pass
 * are reduced by a reducer thread: the main thread stages each one and goes
 * on computing, the thread reduces the staged buckets in order (the only
 * MPI caller while it has work: MPI_THREAD_SERIALIZED), and the main thread
 * uploads the results when it needs a staging buffer back or waits. The
 * buckets started at the end of the pass are reduced by the main thread
 * itself, after the thread's. Only the main thread touches device memory.
 * libmpi is loaded when a job needs it. */
#include "comm_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include "err.h"
#include "ops.h"

/* Staging buffers, so this many buckets can be in flight. */
#define STAGES 4

/* One bucket (or a ZeRO-1 piece of one) being reduced. */
typedef struct {
    float *host;  /* [c->bucket] staging */
    float *dev;   /* where it came from and goes back to */
    size_t n;
    int root;     /* -1: all-reduce */
    float scale;
} piece_t;

typedef struct {
    piece_t q[STAGES];            /* a ring: piece i is q[i % STAGES] */
    unsigned long started, reduced, done; /* pieces staged, reduced by the thread, uploaded */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit, running;            /* the thread starts with the first overlapped bucket */
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
    *(void **)&api.Reduce = sym(lib, "MPI_Reduce");
    *(void **)&api.Finalize = sym(lib, "MPI_Finalize");
    /* the predefined handles are the addresses of these globals (mpi.h) */
    api.byte = (MPI_Datatype)sym(lib, "ompi_mpi_byte");
    api.float32 = (MPI_Datatype)sym(lib, "ompi_mpi_float");
    api.float64 = (MPI_Datatype)sym(lib, "ompi_mpi_double");
    api.sum = (MPI_Op)sym(lib, "ompi_mpi_op_sum");
    api.errors_return = (MPI_Errhandler)sym(lib, "ompi_mpi_errors_return");
    int provided;
    if (api.Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) die("MPI_Init_thread failed");
    if (provided < MPI_THREAD_SERIALIZED)
        die("MPI provides thread level %d; the gradient reducer thread needs MPI_THREAD_SERIALIZED", provided);
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
    float *stage = ((mpi_t *)c->impl)->q[0].host; /* idle: no reduction is in progress */
    size_t chunk = c->bucket * sizeof(float);
    for (size_t off = 0; off < bytes; off += chunk) {
        size_t n = bytes - off < chunk ? bytes - off : chunk;
        if (c->env.rank == root) be_download(stage, (char *)buf + off, n);
        bcast_host(stage, n, root);
        if (c->env.rank != root) be_upload((char *)buf + off, stage, n);
    }
}

/* The collective of one staged piece. */
static void reduce_piece(comm_t *c, piece_t *p) {
    int rc = p->root < 0 ? api.Allreduce(MPI_IN_PLACE, p->host, (int)p->n, api.float32, api.sum, api.world)
             : p->root == c->env.rank
                 ? api.Reduce(MPI_IN_PLACE, p->host, (int)p->n, api.float32, api.sum, p->root, api.world)
                 : api.Reduce(p->host, NULL, (int)p->n, api.float32, api.sum, p->root, api.world);
    check(rc, "reduction of gradients");
}

/* Scale a reduced piece and put it back where this rank receives it. */
static void put_back(comm_t *c, piece_t *p) {
    if (p->root >= 0 && p->root != c->env.rank) return;
    float *h = p->host, scale = p->scale; /* locals: a store to h[i] could alias p->scale */
    if (scale != 1.0f)
        for (size_t i = 0; i < p->n; i++) h[i] *= scale;
    be_upload(p->dev, h, p->n * sizeof(float));
}

/* The reducer thread: reduce the staged pieces in order. */
static void *reducer(void *arg) {
    comm_t *c = arg;
    mpi_t *m = c->impl;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->quit && m->reduced == m->started) pthread_cond_wait(&m->cv, &m->mu);
        if (m->reduced == m->started) break;
        piece_t *p = &m->q[m->reduced % STAGES];
        pthread_mutex_unlock(&m->mu);
        reduce_piece(c, p);
        pthread_mutex_lock(&m->mu);
        m->reduced++;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* Wait for the oldest piece in flight, scale it and put it back. */
static void finish_one(comm_t *c) {
    mpi_t *m = c->impl;
    pthread_mutex_lock(&m->mu);
    while (m->reduced == m->done) pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    put_back(c, &m->q[m->done % STAGES]);
    m->done++;
}

static void mpi_wait(comm_t *c) {
    mpi_t *m = c->impl;
    while (m->done < m->started) finish_one(c);
}

/* A piece the caller waits for anyway (now) is reduced here once the
 * thread has finished the earlier ones (handing it over was measured
 * slower); the others go to the thread. */
static void mpi_reduce(comm_t *c, float *dev, size_t n, int root, float scale, int now) {
    mpi_t *m = c->impl;
    if (now) mpi_wait(c);
    else if (m->started - m->done == STAGES) finish_one(c);
    if (!now && !m->running) { /* only then: an idle thread alone made the reductions after the pass slower */
        if (pthread_create(&m->thread, NULL, reducer, c) != 0) die("cannot start the MPI reducer thread");
        m->running = 1;
    }
    piece_t *p = &m->q[m->started % STAGES];
    *p = (piece_t){.host = p->host, .dev = dev, .n = n, .root = root, .scale = scale};
    be_download(p->host, dev, n * sizeof(float));
    if (now) {
        reduce_piece(c, p);
        put_back(c, p);
        return;
    }
    pthread_mutex_lock(&m->mu);
    m->started++;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void mpi_sum(comm_t *c, double *x, int n) {
    check(api.Allreduce(MPI_IN_PLACE, x, n, api.float64, api.sum, api.world), "all-reduce of scalars");
}

static void mpi_close(comm_t *c) {
    mpi_t *m = c->impl;
    pthread_mutex_lock(&m->mu);
    m->quit = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->running) pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    for (int i = 0; i < STAGES; i++) free(m->q[i].host);
    free(m);
    api.Finalize();
}

static const comm_ops_t MPI_OPS = {mpi_bcast, mpi_reduce, mpi_wait, mpi_sum, mpi_close};

void comm_mpi_open(comm_t *c) {
    comm_mpi_load();
    api.Comm_rank(api.world, &c->env.rank);
    api.Comm_size(api.world, &c->env.world);
    if (c->bucket > INT_MAX) die("MPI: a gradient bucket of %zu floats exceeds MPI's count", c->bucket);
    mpi_t *m = xcalloc(1, sizeof *m);
    for (int i = 0; i < STAGES; i++) m->q[i].host = xmalloc(c->bucket * sizeof(float));
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    c->impl = m;
    c->ops = &MPI_OPS;
}
