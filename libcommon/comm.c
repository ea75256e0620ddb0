/* comm.c - the communicator (see comm.h): launcher environment, engine
 * choice, the one-process engine, the watchdog around every operation, and
 * the operations built from the engines' primitives (gradient buckets,
 * barrier, all-gather, ZeRO-1 shards). */
#include "comm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "ops.h"
#include "progress.h"

/* ---- launcher environment ---------------------------------------------- */

/* Integer value of variable `name` in [lo, hi], or dflt when unset. */
static int env_int(const char *name, int lo, int hi, int dflt) {
    const char *s = getenv(name);
    if (!s) return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        die("environment variable %s: expected an integer in [%d, %d], got '%s'", name, lo, hi, s);
    return (int)v;
}

/* One launcher's variable names, in the order they are tried. */
typedef struct {
    const char *launcher, *world, *rank, *local_rank;
} launcher_vars_t;

static const launcher_vars_t LAUNCHERS[] = {
    {"mpirun", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"torchrun", "WORLD_SIZE", "RANK", "LOCAL_RANK"},
    /* srun sets SLURM_STEP_NUM_TASKS for a job step, not in the batch script */
    {"srun", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID", "SLURM_LOCALID"},
};

void comm_env(comm_env_t *e) {
    *e = (comm_env_t){.rank = 0, .world = 1, .local_rank = 0, .launcher = "none"};
    for (size_t i = 0; i < ARRAY_LEN(LAUNCHERS); i++) {
        const launcher_vars_t *l = &LAUNCHERS[i];
        if (!getenv(l->world)) continue;
        e->launcher = l->launcher;
        e->world = env_int(l->world, 1, 1 << 20, 1);
        if (!getenv(l->rank)) die("environment: %s is set but %s is not", l->world, l->rank);
        e->rank = env_int(l->rank, 0, e->world - 1, 0);
        e->local_rank = env_int(l->local_rank, 0, e->world - 1, 0);
        return;
    }
}

/* ---- the one-process engine --------------------------------------------- */

static void none_bcast(comm_t *c, void *buf, size_t bytes, int root, int on_device) {}
static void none_reduce(comm_t *c, float *dev, size_t n, int root, float scale, int now) {
    if (scale != 1.0f) op_scale(dev, scale, n);
}
static void none_wait(comm_t *c) {}
static void none_sum(comm_t *c, double *x, int n) {}
static void none_close(comm_t *c) {}
static const comm_ops_t NONE_OPS = {none_bcast, none_reduce, none_wait, none_sum, none_close};

/* ---- watchdog ----------------------------------------------------------- */

static void *watchdog(void *arg) {
    comm_t *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->wake, &c->mu, &ts);
        if (c->op && now_seconds() - c->op_start > c->timeout) {
            fprintf(stderr,
                    "%s: rank %d of %d: %s did not complete within %g s: another rank died or hangs; "
                    "aborting (the last checkpoint stays usable)\n",
                    prog_name(), c->env.rank, c->env.world, c->op, c->timeout);
            _exit(1);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Mark the start (op) or the end (NULL) of an operation. */
static void watch(comm_t *c, const char *op) {
    if (!c->dog_running) return;
    pthread_mutex_lock(&c->mu);
    c->op = op;
    c->op_start = now_seconds();
    pthread_mutex_unlock(&c->mu);
}

/* ---- open / close ------------------------------------------------------- */

static const char *const ENGINE_NAMES[] = {"auto", "none", "mpi", "nccl"};

static comm_engine_t pick_engine(comm_engine_t want, int gpu, const comm_env_t *e) {
    if (want == COMM_AUTO) want = e->world == 1 ? COMM_NONE : gpu ? COMM_NCCL : COMM_MPI;
    if (want == COMM_NONE && e->world > 1)
        die("communication engine none: the %s launcher started %d ranks", e->launcher, e->world);
    if (want == COMM_MPI && strcmp(e->launcher, "torchrun") == 0)
        die("RANK/WORLD_SIZE give %d ranks, but no MPI launcher started them and training on CPU "
            "exchanges gradients over MPI: launch with mpirun -np %d (or srun)",
            e->world, e->world);
    if (want == COMM_NCCL && !gpu) die("communication engine nccl: needs a CUDA device (--device cuda)");
    return want;
}

comm_t *comm_open(const comm_opts_t *o) {
    comm_t *c = xcalloc(1, sizeof *c);
    comm_env(&c->env);
    c->timeout = o->timeout;
    c->bucket = (o->bucket_bytes ? o->bucket_bytes : COMM_BUCKET_BYTES) / sizeof(float);
    if (!c->bucket) c->bucket = 1;
    comm_engine_t e = c->engine = pick_engine(o->engine, o->gpu, &c->env);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (c->env.world > 1 && o->timeout > 0) {
        if (pthread_create(&c->dog, NULL, watchdog, c) != 0) die("cannot start the communication watchdog");
        c->dog_running = 1;
    }
    watch(c, "joining the job");
    switch (e) {
    case COMM_MPI: comm_mpi_open(c); break;
#ifdef BLIP_CUDA
    case COMM_NCCL: comm_nccl_open(c, o->rendezvous); break;
#endif
    default: c->ops = &NONE_OPS; break;
    }
    watch(c, NULL);
    snprintf(c->name, sizeof c->name, "%s (%s), rank %d of %d", ENGINE_NAMES[e], c->env.launcher,
             c->env.rank, c->env.world);
    return c;
}

void comm_close(comm_t *c) {
    if (!c) return;
    if (c->dog_running) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->dog, NULL);
    }
    c->ops->close(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    free(c);
}

int comm_rank(const comm_t *c) { return c->env.rank; }
int comm_world(const comm_t *c) { return c->env.world; }
comm_engine_t comm_engine(const comm_t *c) { return c->engine; }
int comm_local_rank(const comm_t *c) { return c->env.local_rank; }
const char *comm_name(const comm_t *c) { return c->name; }

/* ---- operations --------------------------------------------------------- */

void comm_bcast(comm_t *c, void *buf, size_t bytes, int root, int on_device) {
    watch(c, "broadcast");
    c->ops->bcast(c, buf, bytes, root, on_device);
    watch(c, NULL);
}

/* ---- gradients in buckets ----------------------------------------------- */

void comm_grads_begin(comm_t *c, float *dev, size_t n, float scale, size_t shard) {
    if (c->grads.dev) die("comm: a gradient reduction is already in progress");
    c->grads.dev = dev, c->grads.n = c->grads.hi = n, c->grads.shard = shard, c->grads.scale = scale;
}

/* Start dev[lo, hi): to every rank, or each shard's piece to its owner
 * (now: the end of the pass, which waits next). */
static void launch(comm_t *c, size_t lo, size_t hi, int now) {
    float *dev = c->grads.dev;
    size_t S = c->grads.shard;
    watch(c, "all-reduce of gradients"); /* an engine may wait for a free staging buffer */
    for (size_t a = lo; a < hi;) {
        size_t b = S ? (a / S + 1) * S : hi;
        if (b > hi) b = hi;
        c->ops->reduce(c, dev + a, b - a, S ? (int)(a / S) : -1, c->grads.scale, now);
        a = b;
    }
    watch(c, NULL);
}

/* Start the full buckets of dev[off, hi). */
static void launch_buckets(comm_t *c, size_t off, int now) {
    while (c->grads.hi - off >= c->bucket) {
        launch(c, c->grads.hi - c->bucket, c->grads.hi, now);
        c->grads.hi -= c->bucket;
    }
}

void comm_grads_ready(comm_t *c, size_t off) {
    if (!c->grads.dev || off > c->grads.hi) die("comm: gradients ready out of order (offset %zu)", off);
    launch_buckets(c, off, 0);
}

void comm_grads_end(comm_t *c) {
    launch_buckets(c, 0, 1);
    if (c->grads.hi) launch(c, 0, c->grads.hi, 1);
    watch(c, "all-reduce of gradients");
    c->ops->wait(c);
    watch(c, NULL);
    c->grads.dev = NULL;
}

void comm_grads(comm_t *c, float *dev, size_t n, float scale) {
    comm_grads_begin(c, dev, n, scale, 0);
    comm_grads_end(c);
}

/* ---- other operations --------------------------------------------------- */

static void sum_as(comm_t *c, double *x, int n, const char *op) {
    watch(c, op);
    c->ops->sum(c, x, n);
    watch(c, NULL);
}

void comm_sum(comm_t *c, double *x, int n) { sum_as(c, x, n, "all-reduce of scalars"); }

void comm_barrier(comm_t *c) {
    double x = 0;
    sum_as(c, &x, 1, "barrier");
}

char *comm_allgather(comm_t *c, const void *buf, size_t len, size_t *total) {
    int W = c->env.world;
    double *lens = xcalloc((size_t)W, sizeof *lens);
    lens[c->env.rank] = (double)len;
    sum_as(c, lens, W, "all-gather (lengths)");
    size_t all = 0;
    for (int r = 0; r < W; r++) all += (size_t)lens[r];
    char *out = xmalloc(all ? all : 1);
    size_t off = 0;
    for (int r = 0; r < W; r++) {
        size_t n = (size_t)lens[r];
        if (r == c->env.rank && n) memcpy(out + off, buf, n);
        watch(c, "all-gather");
        c->ops->bcast(c, out + off, n, r, 0);
        watch(c, NULL);
        off += n;
    }
    free(lens);
    *total = all;
    return out;
}

/* ---- ZeRO-1 shards ------------------------------------------------------ */

size_t comm_shard(const comm_t *c, size_t n) {
    size_t W = (size_t)c->env.world;
    return ((n + W - 1) / W + 15) / 16 * 16;
}

/* Rank r's shard [*off, *off + *len) of n floats. */
static void shard_of(size_t n, size_t shard, int r, size_t *off, size_t *len) {
    size_t lo = (size_t)r * shard;
    *off = lo < n ? lo : n;
    *len = lo < n ? (n - lo < shard ? n - lo : shard) : 0;
}

void comm_shard_range(const comm_t *c, size_t n, size_t shard, size_t *off, size_t *len) {
    shard_of(n, shard, c->env.rank, off, len);
}

void comm_allgather_shards(comm_t *c, float *dev, size_t n, size_t shard) {
    watch(c, "all-gather of weights");
    for (int r = 0; r < c->env.world; r++) {
        size_t off, len;
        shard_of(n, shard, r, &off, &len);
        if (len) c->ops->bcast(c, dev + off, len * sizeof(float), r, 1);
    }
    watch(c, NULL);
}

/* Move every rank's shard between its `mine` and rank 0's `full`, a bucket
 * at a time by broadcasts from the sender (the ranks in neither role
 * receive into scratch). */
static void move_shards(comm_t *c, float *full, float *mine, size_t n, size_t shard, int gather) {
    int me = c->env.rank;
    float *scratch = NULL;
    watch(c, gather ? "gather of optimizer state" : "scatter of optimizer state");
    for (int r = 0; r < c->env.world; r++) {
        size_t off, len;
        shard_of(n, shard, r, &off, &len);
        for (size_t a = 0; a < len; a += c->bucket) {
            size_t k = len - a < c->bucket ? len - a : c->bucket;
            if (r == 0) { /* rank 0's own shard stays on rank 0 */
                if (me == 0) be_copy(gather ? full + a : mine + a, gather ? mine + a : full + a, k * sizeof(float));
                continue;
            }
            float *buf = me == r ? mine + a : me == 0 ? full + off + a : NULL;
            if (!buf) buf = scratch ? scratch : (scratch = be_alloc(c->bucket * sizeof(float)));
            c->ops->bcast(c, buf, k * sizeof(float), gather ? r : 0, 1);
        }
    }
    watch(c, NULL);
    be_free(scratch);
}

void comm_gather_shards(comm_t *c, float *full, float *mine, size_t n, size_t shard) {
    move_shards(c, full, mine, n, shard, 1);
}

void comm_scatter_shards(comm_t *c, float *full, float *mine, size_t n, size_t shard) {
    move_shards(c, full, mine, n, shard, 0);
}
