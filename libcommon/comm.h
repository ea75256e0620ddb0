/* comm.h - data-parallel communication between the ranks of one training
 * job, over established engines: none (one process), MPI (any backend;
 * device buffers are staged through host memory) and NCCL (CUDA builds;
 * device buffers directly, on a communication stream ordered against the
 * backend's compute stream with events).
 *
 * Rank, world size and local rank come from the launcher's environment:
 *   mpirun (OpenMPI)  OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK
 *   srun (Slurm)      SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID
 *   torchrun style    RANK / WORLD_SIZE / LOCAL_RANK (also `blip-train --gpus N`)
 * MPI carries CPU training; with torchrun-style variables alone there is no
 * transport for CPU tensors, so that combination is an error. NCCL gets its
 * unique id over MPI when an MPI launcher started the job, else through the
 * file RENDEZVOUS/nccl-id-RUNID written by rank 0 (RUNID: $BLIP_RUN_ID, else
 * $TORCHELASTIC_RUN_ID, else "default").
 *
 * Gradients are reduced in buckets (DDP's bucket_cap_mb, 25 MiB by default)
 * while the backward pass still runs: comm_grads_ready() names the part
 * of the buffer that became final, and each full bucket in it starts on
 * the communication engine (NCCL: on its stream; MPI: on a reducer thread
 * that is then the only caller of MPI, MPI_THREAD_SERIALIZED) while the
 * caller computes on. Every element is the same sum of the ranks' values
 * whatever the bucketing, so for 2 ranks the result is bit-identical to
 * one reduction after the pass. ZeRO-1 reduces each piece of a bucket to
 * the rank that owns it instead (comm_shard), which updates its shard with
 * its share of the optimizer state and all-gathers the weights.
 *
 * Every operation is collective: all ranks call it in the same order. A
 * watchdog thread ends the process (exit 1, naming the operation) when one
 * takes longer than the timeout: a rank that died or hangs never leaves the
 * others waiting silently. */
#ifndef BLIP_COMM_H
#define BLIP_COMM_H

#include <stddef.h>

typedef enum { COMM_AUTO, COMM_NONE, COMM_MPI, COMM_NCCL } comm_engine_t;

typedef struct {
    int rank, world, local_rank;
    const char *launcher; /* "mpirun", "srun", "torchrun", or "none" */
} comm_env_t;

/* Read the launcher's environment; dies naming a malformed variable. */
void comm_env(comm_env_t *e);

typedef struct {
    comm_engine_t engine;   /* AUTO: none for one rank, else NCCL for GPU buffers, else MPI */
    int gpu;                /* the backend's buffers are on a GPU (be_open'ed "cuda") */
    const char *rendezvous; /* directory for the NCCL id file (NULL: the current one) */
    double timeout;         /* seconds one operation may take (<= 0: no limit) */
    size_t bucket_bytes;    /* gradient bucket (0: COMM_BUCKET_BYTES) */
} comm_opts_t;

/* DDP's default bucket_cap_mb = 25. */
#define COMM_BUCKET_BYTES ((size_t)25 << 20)

typedef struct comm comm_t;

/* Join the job. Dies with a clear message when the engine cannot serve the
 * launcher (a CPU build asked for NCCL, torchrun-style variables without
 * MPI on CPU, ...). */
comm_t *comm_open(const comm_opts_t *o);
void comm_close(comm_t *c);
int comm_rank(const comm_t *c);
int comm_world(const comm_t *c);
int comm_local_rank(const comm_t *c);
/* The engine serving the job (never COMM_AUTO). */
comm_engine_t comm_engine(const comm_t *c);
/* "mpi (mpirun), rank 0 of 2" */
const char *comm_name(const comm_t *c);

/* Copy `bytes` at buf from rank root to every rank; buf is device memory
 * (backend buffers) when on_device, else host memory. */
void comm_bcast(comm_t *c, void *buf, size_t bytes, int root, int on_device);
/* Gradients, in buckets: dev[n] (device) = scale * (sum over ranks of dev).
 * The same as comm_grads_begin(c, dev, n, scale, 0) + comm_grads_end(c). */
void comm_grads(comm_t *c, float *dev, size_t n, float scale);
/* Overlapped: begin before the backward pass (scale must be known: reduce
 * the token count first); comm_grads_ready(c, off) each time dev[off, n) is
 * final on this rank, off decreasing (no other operation until the end);
 * comm_grads_end starts the rest and waits for all. Then dev = scale *
 * (sum over ranks of dev) on every element, or with shard > 0 (ZeRO-1,
 * comm_shard) only on this rank's shard, the rest of dev left as it was. */
void comm_grads_begin(comm_t *c, float *dev, size_t n, float scale, size_t shard);
void comm_grads_ready(comm_t *c, size_t off);
void comm_grads_end(comm_t *c);
/* ZeRO-1 shards of a buffer of n floats: rank r owns [r * S, (r + 1) * S)
 * clipped to n, where S (returned) is ceil(n / world) rounded up to 16. */
size_t comm_shard(const comm_t *c, size_t n);
/* This rank's shard [off, off + len) of a buffer of n floats. */
void comm_shard_range(const comm_t *c, size_t n, size_t shard, size_t *off, size_t *len);
/* dev[n] (device): every rank's shard to every rank (the updated weights). */
void comm_allgather_shards(comm_t *c, float *dev, size_t n, size_t shard);
/* Between full[n] (device, on rank 0 only; NULL elsewhere) and each rank's
 * own shard mine[len] (device): gather into rank 0, or scatter from it. */
void comm_gather_shards(comm_t *c, float *full, float *mine, size_t n, size_t shard);
void comm_scatter_shards(comm_t *c, float *full, float *mine, size_t n, size_t shard);
/* x[n] (host) = sum over ranks of x. */
void comm_sum(comm_t *c, double *x, int n);
void comm_barrier(comm_t *c);
/* Every rank's `len` bytes at buf, concatenated in rank order, on every
 * rank (new buffer; its length in *total). */
char *comm_allgather(comm_t *c, const void *buf, size_t len, size_t *total);

#endif
