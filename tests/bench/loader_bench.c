/* loader_bench.c - throughput of the training data pipeline (decode, BLIP's
 * train transform, normalize, caption framing) on the shards given.
 * Usage: loader_bench SHARDS VOCAB IMAGE_SIZE BATCH THREADS BATCHES
 * Prints two numbers: images per wall-clock second, and images per CPU
 * second (user + system time of the whole process over the timed part), the
 * per-core figure that other processes' load disturbs least. BATCHES should
 * be the whole epoch (or more): the producer then stops with the last batch
 * taken, so the CPU time counts exactly the images counted. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "err.h"
#include "loader.h"
#include "progress.h"

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc != 7) usage_die("usage: loader_bench SHARDS VOCAB IMAGE_SIZE BATCH THREADS BATCHES");
    shard_set_t *s = shard_open(argv[1]);
    tokenizer_t *t = tok_load(argv[2]);
    loader_cfg_t c = {.image_size = atoi(argv[3]), .batch_size = atoi(argv[4]), .seed = 1,
                      .threads = atoi(argv[5]), .prefetch = 2, .train = 1, .world = 1, .tok = t};
    int batches = atoi(argv[6]);
    loader_t *l = loader_new(s, &c);
    double cpu0 = cpu_seconds(), t0 = now_seconds();
    loader_start(l, 0, 0);
    int n = 0;
    const batch_t *b;
    while (n < batches && (b = loader_next(l))) n++;
    double dt = now_seconds() - t0, cpu = cpu_seconds() - cpu0;
    printf("%.1f %.1f\n", n * c.batch_size / dt, n * c.batch_size / cpu);
    loader_free(l);
    tok_free(t);
    shard_close(s);
    return 0;
}
