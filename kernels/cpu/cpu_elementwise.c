/* cpu_elementwise.c - CPU backend: elementwise ops, reductions, GELU and
 * seeded dropout. */
#include "ops.h"

#include <math.h>

#include "cpu_internal.h"
#include "rng.h"

void cpu_op_zero(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] = 0.0f;
}

void cpu_op_add_inplace(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void cpu_op_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void cpu_op_scale(float *x, float s, size_t n) {
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

/* Deterministic: 64 fixed parts summed in double, then added in order. */
#define RED_PARTS 64
static void reduce(float *out, const float *x, size_t n, int square) {
    double part[RED_PARTS];
#pragma omp parallel for schedule(static) if (n * 64 >= CPU_PAR_MIN)
    for (int c = 0; c < RED_PARTS; c++) {
        size_t lo = n * c / RED_PARTS, hi = n * (c + 1) / RED_PARTS;
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) s += square ? (double)x[i] * x[i] : x[i];
        part[c] = s;
    }
    double total = 0.0;
    for (int c = 0; c < RED_PARTS; c++) total += part[c];
    *out = (float)total;
}

void cpu_op_sumsq(float *out, const float *x, size_t n) { reduce(out, x, n, 1); }
void cpu_op_sum(float *out, const float *x, size_t n) { reduce(out, x, n, 0); }

void cpu_op_gelu(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    }
}

void cpu_op_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    const float inv_sqrt_2pi = 0.3989422804014327f;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

/* Element i keeps when word i of the (seed, stream) Philox sequence is
 * >= p * 2^32. */
void cpu_dropout_at(float *x, size_t n, float p, uint64_t seed, uint64_t stream,
                    size_t offset) {
    if (p <= 0.0f) return;
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t thresh = (uint32_t)fmin((double)p * 4294967296.0, 4294967295.0);
    float scale = 1.0f / (1.0f - p);
    size_t first = offset / 4, last = (offset + n + 3) / 4;
#pragma omp parallel for schedule(static) if ((last - first) * 4 >= CPU_PAR_MIN)
    for (size_t blk = first; blk < last; blk++) {
        uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)((uint64_t)blk >> 32),
                           (uint32_t)stream, (uint32_t)(stream >> 32)};
        uint32_t w[4];
        philox4x32(key, ctr, w);
        for (int k = 0; k < 4; k++) {
            size_t e = blk * 4 + k;
            if (e < offset || e >= offset + n) continue;
            float *xi = x + (e - offset);
            *xi = w[k] >= thresh ? *xi * scale : 0.0f;
        }
    }
}

void cpu_op_dropout(float *x, size_t n, float p, uint64_t seed, uint64_t stream) {
    cpu_dropout_at(x, n, p, seed, stream, 0);
}

void cpu_op_dropout_backward(float *dx, size_t n, float p, uint64_t seed, uint64_t stream) {
    cpu_dropout_at(dx, n, p, seed, stream, 0);
}
