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
} comm_opts_t;

typedef struct comm comm_t;

/* Join the job. Dies with a clear message when the engine cannot serve the
 * launcher (a CPU build asked for NCCL, torchrun-style variables without
 * MPI on CPU, ...). */
comm_t *comm_open(const comm_opts_t *o);
void comm_close(comm_t *c);
int comm_rank(const comm_t *c);
int comm_world(const comm_t *c);
int comm_local_rank(const comm_t *c);
/* "mpi (mpirun), rank 0 of 2" */
const char *comm_name(const comm_t *c);

/* Copy `bytes` at buf from rank root to every rank; buf is device memory
 * (backend buffers) when on_device, else host memory. */
void comm_bcast(comm_t *c, void *buf, size_t bytes, int root, int on_device);
/* Gradients, in buckets: dev[n] (device) = scale * (sum over ranks of dev). */
void comm_grads(comm_t *c, float *dev, size_t n, float scale);
/* x[n] (host) = sum over ranks of x. */
void comm_sum(comm_t *c, double *x, int n);
void comm_barrier(comm_t *c);
/* Every rank's `len` bytes at buf, concatenated in rank order, on every
 * rank (new buffer; its length in *total). */
char *comm_allgather(comm_t *c, const void *buf, size_t len, size_t *total);

#endif
