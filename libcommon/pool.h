/* pool.h - a small fixed thread pool running parallel-for loops.
 *
 * pool_for(p, n, fn, ctx) calls fn(ctx, i, worker) for every i in [0, n) on
 * the pool's threads (the caller's thread works too) and returns when all are
 * done. Indices are handed out in increasing order, one at a time, so uneven
 * work balances; `worker` in [0, pool_size) lets fn use per-thread scratch. */
#ifndef BLIP_POOL_H
#define BLIP_POOL_H

#include <stddef.h>

typedef struct pool pool_t;
typedef void (*pool_fn)(void *ctx, size_t i, int worker);

/* nthreads <= 0 means one per online CPU. */
pool_t *pool_new(int nthreads);
int pool_size(const pool_t *p);
void pool_for(pool_t *p, size_t n, pool_fn fn, void *ctx);
void pool_free(pool_t *p);
/* Online CPUs (>= 1). */
int cpu_count(void);

#endif
