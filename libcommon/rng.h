/* rng.h - seeded counter-based random numbers (Philox4x32-10).
 *
 * A value depends only on (seed, stream, counter), never on call order in
 * other threads: a sample's randomness is rng_init(&r, seed, stream_id) with
 * stream_id derived from (epoch, sample index), so results do not depend on
 * thread count and resuming needs no saved RNG state. */
#ifndef BLIP_RNG_H
#define BLIP_RNG_H

#include <stdint.h>

typedef struct {
    uint32_t key[2];  /* from the seed */
    uint32_t ctr[4];  /* ctr[0..1]: block counter, ctr[2..3]: stream */
    uint32_t out[4];  /* current block */
    int pos;          /* next unused word of out, 4 = exhausted */
} rng_t;

/* One Philox4x32-10 block: out = philox(key, ctr). */
void philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);

void rng_init(rng_t *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(rng_t *r);
uint64_t rng_u64(rng_t *r);
/* Uniform in [0, 1) with 24 (float) or 53 (double) random bits. */
float rng_float(rng_t *r);
double rng_double(rng_t *r);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint32_t rng_below(rng_t *r, uint32_t n);
/* Uniform in [lo, hi). */
double rng_range(rng_t *r, double lo, double hi);
/* Standard normal (Box-Muller). */
double rng_normal(rng_t *r);
/* Mix several 64-bit values into one stream id (splitmix64 chain). */
uint64_t rng_mix(uint64_t a, uint64_t b);

#endif
