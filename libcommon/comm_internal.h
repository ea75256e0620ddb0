/* comm_internal.h - what the communication engines (comm_mpi.c,
 * comm_nccl.c) share with comm.c: the communicator and the engine table. */
#ifndef BLIP_COMM_INTERNAL_H
#define BLIP_COMM_INTERNAL_H

#include <mpi.h>
#include <pthread.h>

#include "comm.h"

typedef struct {
    void (*bcast)(comm_t *c, void *buf, size_t bytes, int root, int on_device);
    /* start reducing dev[n] (device): dev = scale * (sum over ranks of
     * dev) on every rank (root < 0) or on rank root; finished by wait
     * (now: the caller waits next, the engine may finish it at once) */
    void (*reduce)(comm_t *c, float *dev, size_t n, int root, float scale, int now);
    void (*wait)(comm_t *c);
    void (*sum)(comm_t *c, double *x, int n);
    void (*close)(comm_t *c);
} comm_ops_t;

struct comm {
    const comm_ops_t *ops;
    comm_engine_t engine;
    comm_env_t env;
    char name[96];
    void *impl;                /* the engine's state */
    size_t bucket;             /* floats per gradient bucket */
    /* the gradient reduction in progress (comm_grads_begin): dev[hi, n)
     * has been started */
    struct {
        float *dev;
        size_t n, hi, shard;
        float scale;
    } grads;
    /* watchdog: the operation in progress and when it began */
    double timeout;
    pthread_t dog;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    const char *op;
    double op_start;
    int dog_running, stop;
};

/* Engines: fill c->ops and c->impl, and c->env from the engine where it
 * knows better than the environment. comm_nccl_open exists in CUDA builds. */
void comm_mpi_open(comm_t *c);
void comm_nccl_open(comm_t *c, const char *rendezvous);

/* OpenMPI's entry points and predefined handles, from libmpi loaded at run
 * time (only a job an MPI launcher started needs it: the tools start on
 * machines without OpenMPI, such as a stock CUDA image). */
typedef struct {
    int (*Init_thread)(int *argc, char ***argv, int required, int *provided);
    int (*Comm_rank)(MPI_Comm comm, int *rank);
    int (*Comm_size)(MPI_Comm comm, int *size);
    int (*Comm_set_errhandler)(MPI_Comm comm, MPI_Errhandler errhandler);
    int (*Error_string)(int errorcode, char *string, int *resultlen);
    int (*Bcast)(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm);
    int (*Allreduce)(const void *in, void *out, int count, MPI_Datatype type, MPI_Op op, MPI_Comm comm);
    int (*Reduce)(const void *in, void *out, int count, MPI_Datatype type, MPI_Op op, int root, MPI_Comm comm);
    int (*Finalize)(void);
    MPI_Comm world;
    MPI_Datatype byte, float32, float64;
    MPI_Op sum;
    MPI_Errhandler errors_return;
} mpi_api_t;

/* Load libmpi and initialise MPI (MPI_THREAD_SERIALIZED: the MPI engine's
 * reducer thread calls it while the main thread does not), once for the
 * process; the NCCL engine uses it for its id. Dies naming what failed. */
const mpi_api_t *comm_mpi_load(void);

#endif
