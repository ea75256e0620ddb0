/* gen_bench.c - times caption generation (libcommon/generate.h) with
 * BLIP-base (random weights, seed 42) on the CPU backend. Built and run by
 * tests/bench/gen.sh.
 *
 *   gen_bench B BEAMS BATCHES    BATCHES batches of B random images
 * Prints "B BEAMS images seconds captions-per-second mean-new-tokens". */
#include <stdio.h>
#include <stdlib.h>

#include "blip_config.h"
#include "err.h"
#include "generate.h"
#include "model.h"
#include "progress.h"
#include "rng.h"

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc != 4) usage_die("usage: gen_bench B BEAMS BATCHES");
    int B = atoi(argv[1]), beams = atoi(argv[2]), batches = atoi(argv[3]);
    blip_config_t mc;
    blip_config_base(&mc);
    gen_cfg_t gc;
    gen_cfg_blip(&gc, &mc);
    gc.beams = beams;
    blip_model_t *m = blip_model_new(&mc, B, gc.max_length, 0);
    blip_model_init(m, 42);
    gen_t *g = gen_new(m, &gc, B);
    size_t np = (size_t)B * 3 * mc.image_size * mc.image_size;
    float *pixels = xmalloc(np * sizeof *pixels);
    rng_t r;
    rng_init(&r, 1, 0);
    const int32_t prompt[4] = {30522, 1037, 3861, 1997}; /* [DEC] a picture of */
    gen_out_t *out = xcalloc((size_t)B, sizeof *out);
    long tokens = 0;
    double t0 = now_seconds();
    for (int b = 0; b < batches; b++) {
        for (size_t i = 0; i < np; i++) pixels[i] = (float)rng_normal(&r);
        gen_run(g, pixels, B, prompt, 4, (uint64_t)b * B, out);
        for (int i = 0; i < B; i++) tokens += out[i].n - 4;
        gen_out_free(out, B);
    }
    double dt = now_seconds() - t0;
    int n = B * batches;
    printf("%d %d %d %.3f %.4f %.1f\n", B, beams, n, dt, n / dt, (double)tokens / n);
    free(out);
    free(pixels);
    gen_free(g);
    blip_model_free(m);
    return 0;
}
