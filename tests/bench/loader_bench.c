/* loader_bench.c - images/s of the training data pipeline (decode, BLIP's
 * train transform, normalize, caption framing) on the shards given.
 * Usage: loader_bench SHARDS VOCAB IMAGE_SIZE BATCH THREADS BATCHES */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "loader.h"
#include "progress.h"

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc != 7) usage_die("usage: loader_bench SHARDS VOCAB IMAGE_SIZE BATCH THREADS BATCHES");
    shard_set_t *s = shard_open(argv[1]);
    tokenizer_t *t = tok_load(argv[2]);
    loader_cfg_t c = {.image_size = atoi(argv[3]), .batch_size = atoi(argv[4]), .seed = 1,
                      .threads = atoi(argv[5]), .prefetch = 2, .train = 1, .world = 1, .tok = t};
    int batches = atoi(argv[6]);
    loader_t *l = loader_new(s, &c);
    loader_start(l, 0, 0);
    double t0 = now_seconds();
    int n = 0;
    const batch_t *b;
    while (n < batches && (b = loader_next(l))) n++;
    double dt = now_seconds() - t0;
    printf("%.1f\n", n * c.batch_size / dt);
    loader_free(l);
    tok_free(t);
    shard_close(s);
    return 0;
}
