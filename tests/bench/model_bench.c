/* model_bench.c - times the BLIP captioner on the CPU backend: forward, and a
 * training step (forward + backward + AdamW), with peak RSS. Built and run by
 * tests/bench/model.sh.
 *
 *   model_bench CONFIG B T MODE    CONFIG: a config.json or "base";
 *                                  MODE: forward | train
 * Prints "MODE B T seconds-per-iteration peak-rss-MiB". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "blip_config.h"
#include "err.h"
#include "model.h"
#include "optim.h"
#include "progress.h"
#include "rng.h"

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc != 5) usage_die("usage: model_bench CONFIG|base B T forward|train");
    blip_config_t cfg;
    if (strcmp(argv[1], "base") == 0)
        blip_config_base(&cfg);
    else
        blip_config_load(&cfg, argv[1]);
    int B = atoi(argv[2]), T = atoi(argv[3]), train = strcmp(argv[4], "train") == 0;
    blip_model_t *m = blip_model_new(&cfg, B, T, train);
    blip_model_init(m, 42);
    size_t S = (size_t)cfg.image_size, np = (size_t)B * 3 * S * S, nt = (size_t)B * T;
    float *pixels = xmalloc(np * sizeof *pixels);
    int32_t *ids = xmalloc(nt * sizeof *ids), *labels = xmalloc(nt * sizeof *labels);
    rng_t r;
    rng_init(&r, 1, 0);
    for (size_t i = 0; i < np; i++) pixels[i] = (float)rng_normal(&r);
    for (size_t i = 0; i < nt; i++) ids[i] = labels[i] = (int32_t)rng_below(&r, (uint32_t)cfg.vocab);
    blip_batch_t b = {.pixels = pixels, .ids = ids, .labels = labels, .B = B, .T = T};
    adamw_cfg_t oc;
    adamw_defaults(&oc);
    int iters = 0;
    double t0 = 0, elapsed = 0;
    /* one warm-up iteration, then at least 2 and at least 2 seconds */
    for (int it = 0; it < 3 || elapsed < 2.0; it++) {
        if (it == 1) t0 = now_seconds();
        if (train) {
            blip_zero_grad(m);
            blip_forward(m, &b);
            blip_backward(m);
            blip_adamw_step(m, &oc, 1e-5f, it + 1);
        } else {
            b.labels = NULL;
            blip_forward(m, &b);
        }
        if (it >= 1) iters++, elapsed = now_seconds() - t0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s %d %d %.4f %.0f\n", argv[4], B, T, elapsed / iters, ru.ru_maxrss / 1024.0);
    blip_model_free(m);
    free(pixels);
    free(ids);
    free(labels);
    return 0;
}
