/* comm_nccl.c - the NCCL engine (CUDA builds): one GPU per rank, the one
 * the backend opened (blip-train opens cuda:LOCAL_RANK); collectives run on a communication stream of their own,
 * ordered after the backend's compute stream (be_cuda_stream(), ops_cuda.h)
 * by an event, and the compute stream waits for their end by another, so
 * the host never copies device buffers. Scalars and host bytes go through a
 * small device scratch buffer. The unique id travels over MPI when an MPI
 * launcher (mpirun, srun) started the job, else through a file in the
 * rendezvous directory. */
#ifdef BLIP_CUDA
#include "comm_internal.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "ops_cuda.h"

/* The CUDA backend's compute stream (ops_cuda.h); weak, so that until a
 * backend defines it the collectives order themselves by synchronizing
 * the device instead of by events. */
extern cudaStream_t be_cuda_stream(void) __attribute__((weak));

#define SCRATCH_BYTES ((size_t)1 << 20)

typedef struct {
    ncclComm_t comm;
    cudaStream_t stream;       /* communication */
    cudaEvent_t ready, done;   /* compute -> communication, communication -> compute */
    void *scratch;             /* [SCRATCH_BYTES] device */
    int mpi;                   /* MPI was initialised for the id */
} nccl_t;

static void cuda_check(cudaError_t rc, const char *what) {
    if (rc != cudaSuccess) die("CUDA %s: %s", what, cudaGetErrorString(rc));
}

static void nccl_check(ncclResult_t rc, const char *what) {
    if (rc != ncclSuccess) die("NCCL %s: %s", what, ncclGetErrorString(rc));
}

/* Queue the communication stream after the compute stream's work so far. */
static void begin(nccl_t *n) {
    if (!be_cuda_stream) {
        cuda_check(cudaDeviceSynchronize(), "synchronize");
        return;
    }
    cuda_check(cudaEventRecord(n->ready, be_cuda_stream()), "event record");
    cuda_check(cudaStreamWaitEvent(n->stream, n->ready, 0), "stream wait");
}

/* Order the compute stream after the communication and wait for it here,
 * polling NCCL's asynchronous errors (a peer that failed), so the watchdog
 * sees a hang as an operation that does not end. cudaEventQuery's "not
 * ready" also becomes the thread's last error: cleared here, or the
 * backend's next launch check (cudaGetLastError) would die of it. */
static void finish(nccl_t *n, const char *what) {
    cuda_check(cudaEventRecord(n->done, n->stream), "event record");
    if (be_cuda_stream) cuda_check(cudaStreamWaitEvent(be_cuda_stream(), n->done, 0), "stream wait");
    cudaError_t rc;
    while ((rc = cudaEventQuery(n->done)) == cudaErrorNotReady) {
        ncclResult_t async;
        nccl_check(ncclCommGetAsyncError(n->comm, &async), what);
        if (async != ncclSuccess) {
            ncclCommAbort(n->comm);
            die("NCCL %s: %s", what, ncclGetErrorString(async));
        }
        (void)cudaGetLastError();
        usleep(50);
    }
    cuda_check(rc, what);
}

static void nccl_bcast(comm_t *c, void *buf, size_t bytes, int root, int on_device) {
    nccl_t *n = c->impl;
    begin(n);
    if (on_device) {
        nccl_check(ncclBroadcast(buf, buf, bytes, ncclUint8, root, n->comm, n->stream), "broadcast");
        finish(n, "broadcast");
        return;
    }
    for (size_t off = 0; off < bytes; off += SCRATCH_BYTES) {
        size_t k = bytes - off < SCRATCH_BYTES ? bytes - off : SCRATCH_BYTES;
        if (c->env.rank == root)
            cuda_check(cudaMemcpyAsync(n->scratch, (char *)buf + off, k, cudaMemcpyHostToDevice, n->stream), "copy");
        nccl_check(ncclBroadcast(n->scratch, n->scratch, k, ncclUint8, root, n->comm, n->stream), "broadcast");
        cuda_check(cudaMemcpyAsync((char *)buf + off, n->scratch, k, cudaMemcpyDeviceToHost, n->stream), "copy");
        finish(n, "broadcast");
    }
}

/* Queue one bucket on the communication stream after the compute so far
 * (which produced it); the compute stream goes on. */
static void nccl_reduce(comm_t *c, float *dev, size_t count, int root, float scale, int now) {
    nccl_t *n = c->impl;
    ncclRedOp_t op; /* may be destroyed once the call that uses it has returned */
    nccl_check(ncclRedOpCreatePreMulSum(&op, &scale, ncclFloat, ncclScalarHostImmediate, n->comm), "scaled sum");
    begin(n);
    if (root < 0) nccl_check(ncclAllReduce(dev, dev, count, ncclFloat, op, n->comm, n->stream), "all-reduce");
    else nccl_check(ncclReduce(dev, dev, count, ncclFloat, op, root, n->comm, n->stream), "reduce");
    nccl_check(ncclRedOpDestroy(op, n->comm), "scaled sum");
}

static void nccl_wait(comm_t *c) { finish(c->impl, "all-reduce of gradients"); }

static void nccl_sum(comm_t *c, double *x, int count) {
    nccl_t *n = c->impl;
    size_t bytes = (size_t)count * sizeof(double);
    if (bytes > SCRATCH_BYTES) die("NCCL: %d scalars exceed the scratch buffer", count);
    begin(n);
    cuda_check(cudaMemcpyAsync(n->scratch, x, bytes, cudaMemcpyHostToDevice, n->stream), "copy");
    nccl_check(ncclAllReduce(n->scratch, n->scratch, (size_t)count, ncclDouble, ncclSum, n->comm, n->stream),
               "all-reduce");
    cuda_check(cudaMemcpyAsync(x, n->scratch, bytes, cudaMemcpyDeviceToHost, n->stream), "copy");
    finish(n, "all-reduce of scalars");
}

static void nccl_close(comm_t *c) {
    nccl_t *n = c->impl;
    ncclCommDestroy(n->comm);
    cudaFree(n->scratch);
    cudaEventDestroy(n->ready);
    cudaEventDestroy(n->done);
    cudaStreamDestroy(n->stream);
    if (n->mpi) comm_mpi_load()->Finalize();
    free(n);
}

static const comm_ops_t NCCL_OPS = {nccl_bcast, nccl_reduce, nccl_wait, nccl_sum, nccl_close};

/* Path of the id file of this job in the rendezvous directory (new string). */
static char *id_path(const char *dir) {
    const char *run = getenv("BLIP_RUN_ID");
    if (!run) run = getenv("TORCHELASTIC_RUN_ID");
    char *name = xasprintf("nccl-id-%s", run ? run : "default");
    char *path = path_join(dir, name);
    free(name);
    return path;
}

/* Rank 0 writes the id atomically; the others wait for the file (the
 * watchdog bounds the wait). */
static void id_by_file(const comm_t *c, const char *path, ncclUniqueId *id) {
    if (c->env.rank == 0) {
        write_file_atomic(path, id, sizeof *id);
        return;
    }
    size_t len;
    char *buf;
    while (!(buf = try_read_file(path, &len))) usleep(100000);
    if (len != sizeof *id) die("%s: %zu bytes, not an NCCL id of %zu", path, len, sizeof *id);
    memcpy(id, buf, sizeof *id);
    free(buf);
}

void comm_nccl_open(comm_t *c, const char *rendezvous) {
    nccl_t *n = xcalloc(1, sizeof *n);
    n->mpi = strcmp(c->env.launcher, "mpirun") == 0 || strcmp(c->env.launcher, "srun") == 0;
    const mpi_api_t *mpi = n->mpi ? comm_mpi_load() : NULL;
    if (mpi) {
        mpi->Comm_rank(mpi->world, &c->env.rank);
        mpi->Comm_size(mpi->world, &c->env.world);
    }
    ncclUniqueId id;
    if (c->env.rank == 0) nccl_check(ncclGetUniqueId(&id), "unique id");
    char *path = NULL;
    if (mpi) {
        if (mpi->Bcast(&id, sizeof id, mpi->byte, 0, mpi->world) != MPI_SUCCESS) die("MPI: broadcast of the NCCL id");
    } else if (c->env.world > 1) {
        const char *dir = rendezvous ? rendezvous : ".";
        mkdir_p(dir);
        path = id_path(dir);
        id_by_file(c, path, &id);
    }
    nccl_check(ncclCommInitRank(&n->comm, c->env.world, id, c->env.rank), "init");
    if (path && c->env.rank == 0) unlink(path); /* every rank has joined */
    free(path);
    cuda_check(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking), "stream");
    cuda_check(cudaEventCreateWithFlags(&n->ready, cudaEventDisableTiming), "event");
    cuda_check(cudaEventCreateWithFlags(&n->done, cudaEventDisableTiming), "event");
    cuda_check(cudaMalloc(&n->scratch, SCRATCH_BYTES), "scratch");
    c->impl = n;
    c->ops = &NCCL_OPS;
}
#endif
