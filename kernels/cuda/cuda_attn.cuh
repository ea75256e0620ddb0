/* cuda_attn.cuh - what the two attention implementations of the CUDA
 * backend share: attention dropout drawn exactly as kernels/cpu's
 * cpu_dropout_at (element e of the call's [B, H, Tq, Tk] probabilities),
 * and the fused bf16 kernels' entry points (cuda_flash.cu), which
 * cuda_attention.cu calls for the shapes cuda_flash_applies() accepts. */
#ifndef BLIP_CUDA_ATTN_CUH
#define BLIP_CUDA_ATTN_CUH

#include <math.h>

#include "cuda_internal.h"
#include "philox.h"

/* Element e of the (seed, stream) sequence is kept when word e % 4 of
 * Philox block e / 4 is >= thresh, and then scaled by 1/(1-p). */
typedef struct {
    uint32_t key[2];
    uint64_t stream;
    uint32_t thresh;
    float scale;
    int on;
} drop_t;

static inline drop_t drop_args(float p, uint64_t seed, uint64_t stream) {
    drop_t d;
    d.key[0] = (uint32_t)seed;
    d.key[1] = (uint32_t)(seed >> 32);
    d.stream = stream;
    d.thresh = (uint32_t)fmin((double)p * 4294967296.0, 4294967295.0);
    d.scale = 1.0f / (1.0f - p);
    d.on = p > 0.0f;
    return d;
}

/* Whether element e is kept (always, without dropout). */
static __device__ inline bool kept(drop_t d, size_t e) {
    if (!d.on) return true;
    uint64_t blk = e / 4;
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)d.stream,
                       (uint32_t)(d.stream >> 32)};
    uint32_t w[4];
    philox4x32_10(d.key, ctr, w);
    int k = (int)(e % 4);
    return (k == 0 ? w[0] : k == 1 ? w[1] : k == 2 ? w[2] : w[3]) >= d.thresh;
}

/* x after dropout, given whether its element is kept. */
static __device__ inline float drop_apply(drop_t d, bool keep, float x) {
    return !d.on ? x : keep ? x * d.scale : 0.0f;
}

/* The fused kernels serve precision bf16 at head sizes 16, 32 and 64; the
 * state is then one base-2 log-sum-exp of the scaled scores per query row,
 * [B, H, Tq]. The choice depends on neither B, Tq nor Tk. */
int cuda_flash_applies(const attn_shape_t *s);
void cuda_flash_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                        const attn_shape_t *s);
void cuda_flash_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                         const float *lse, const float *q, const float *k, const float *v,
                         const attn_shape_t *s);

#endif
