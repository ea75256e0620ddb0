/* pool.c - thread pool with a shared atomic index per parallel-for job. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <unistd.h>

#include "err.h"

struct pool {
    int n;                      /* threads including the caller */
    pthread_t *threads;         /* n - 1 helpers */
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;   /* bumped for each job */
    int busy;                   /* helpers still in the current job */
    int quit;
    /* current job */
    pool_fn fn;
    void *ctx;
    size_t count;
    atomic_size_t next;
};

typedef struct {
    pool_t *p;
    int id;
} worker_arg;

int cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void run_job(pool_t *p, int worker) {
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->count) break;
        p->fn(p->ctx, i, worker);
    }
}

static void *worker_main(void *arg) {
    worker_arg *w = arg;
    pool_t *p = w->p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->start, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_job(p, w->id);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    free(w);
    return NULL;
}

pool_t *pool_new(int nthreads) {
    pool_t *p = xcalloc(1, sizeof *p);
    p->n = nthreads > 0 ? nthreads : cpu_count();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = xcalloc((size_t)p->n, sizeof *p->threads);
    for (int i = 1; i < p->n; i++) {
        worker_arg *w = xmalloc(sizeof *w);
        w->p = p;
        w->id = i;
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, w) != 0)
            die("cannot start thread %d of %d", i, p->n);
    }
    return p;
}

int pool_size(const pool_t *p) { return p->n; }

void pool_for(pool_t *p, size_t n, pool_fn fn, void *ctx) {
    if (n == 0) return;
    if (p->n == 1 || n == 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->count = n;
    atomic_store(&p->next, 0);
    p->busy = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    run_job(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void pool_free(pool_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}
