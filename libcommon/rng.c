/* rng.c - Philox4x32-10 (Salmon et al., SC'11) and helpers on top of it. */
#include "rng.h"

#include <math.h>

#include "philox.h"

void philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]) {
    philox4x32_10(key, ctr, out);
}

void rng_init(rng_t *r, uint64_t seed, uint64_t stream) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = r->ctr[1] = 0;
    r->ctr[2] = (uint32_t)stream;
    r->ctr[3] = (uint32_t)(stream >> 32);
    r->pos = 4;
}

uint32_t rng_u32(rng_t *r) {
    if (r->pos == 4) {
        philox4x32(r->key, r->ctr, r->out);
        if (++r->ctr[0] == 0) r->ctr[1]++;
        r->pos = 0;
    }
    return r->out[r->pos++];
}

uint64_t rng_u64(rng_t *r) {
    uint64_t hi = rng_u32(r);
    return hi << 32 | rng_u32(r);
}

float rng_float(rng_t *r) { return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

double rng_double(rng_t *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

uint32_t rng_below(rng_t *r, uint32_t n) {
    uint32_t limit = (uint32_t)(-n) % n; /* reject the 2^32 mod n lowest values */
    for (;;) {
        uint32_t x = rng_u32(r);
        if (x >= limit) return x % n;
    }
}

double rng_range(rng_t *r, double lo, double hi) { return lo + (hi - lo) * rng_double(r); }

double rng_normal(rng_t *r) {
    double u1 = 1.0 - rng_double(r); /* (0, 1]: log is finite */
    double u2 = rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t rng_mix(uint64_t a, uint64_t b) { return splitmix64(splitmix64(a) ^ b); }
