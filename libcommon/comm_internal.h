/* comm_internal.h - what the communication engines (comm_mpi.c,
 * comm_nccl.c) share with comm.c: the communicator and the engine table. */
#ifndef BLIP_COMM_INTERNAL_H
#define BLIP_COMM_INTERNAL_H

#include <pthread.h>

#include "comm.h"

typedef struct {
    void (*bcast)(comm_t *c, void *buf, size_t bytes, int root, int on_device);
    void (*grads)(comm_t *c, float *dev, size_t n, float scale);
    void (*sum)(comm_t *c, double *x, int n);
    void (*close)(comm_t *c);
} comm_ops_t;

struct comm {
    const comm_ops_t *ops;
    comm_env_t env;
    char name[96];
    void *impl;                /* the engine's state */
    /* watchdog: the operation in progress and when it began */
    double timeout;
    pthread_t dog;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    const char *op;
    double op_start;
    int dog_running, stop;
};

/* Bytes per gradient bucket (DDP's bucket_cap_mb = 25). */
#define COMM_BUCKET_BYTES ((size_t)25 << 20)

/* Engines: fill c->ops and c->impl, and c->env from the engine where it
 * knows better than the environment. comm_nccl_open exists in CUDA builds. */
void comm_mpi_open(comm_t *c);
void comm_nccl_open(comm_t *c, const char *rendezvous);
/* MPI_Init once for the process (the NCCL engine uses MPI for its id). */
void comm_mpi_init(void);

#endif
