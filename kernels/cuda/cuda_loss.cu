/* cuda_loss.cu - CUDA backend: label-smoothed cross-entropy fused with the
 * softmax. One block per row of logits [N, V]: one pass keeps a running max
 * and sum of exponentials (and the plain sum for the smoothing term), a
 * second pass writes the gradient, so the V-wide probabilities are never
 * stored. dlogits may be the logits buffer itself (the model computes the
 * gradient in place): every element is read before the barrier that ends
 * the first pass, and in the second each thread reads x[j] before writing
 * dx[j]. */
#include <float.h>

#include "cuda_internal.h"

#define THREADS 512
#define WARPS (THREADS / 32)

/* A running softmax denominator: s = sum of exp(x - m) over the values seen.
 * m starts at -FLT_MAX (not -inf), so -inf logits add exp(-inf) = 0 and
 * never form inf - inf. */
typedef struct {
    float m, s;
} lse_t;

__device__ lse_t lse_merge(lse_t a, lse_t b) {
    float m = fmaxf(a.m, b.m);
    lse_t r = {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
    return r;
}

/* Butterfly over the warp in a fixed order: every lane gets the total. */
__device__ void warp_reduce(lse_t *l, double *sx) {
    for (int off = 16; off > 0; off /= 2) {
        lse_t o = {__shfl_xor_sync(0xffffffffu, l->m, off),
                   __shfl_xor_sync(0xffffffffu, l->s, off)};
        *l = lse_merge(*l, o);
        *sx += __shfl_xor_sync(0xffffffffu, *sx, off);
    }
}

/* losses[n] and, when dlogits != NULL, dlogits[n, :]; g = dscale / n_count,
 * u = eps / V, inv_count = 1 / n_count (0 when no row counts). */
__global__ void crossentropy_kernel(float *losses, float *dlogits, const float *logits,
                                    const int32_t *targets, int V, float eps, float inv_count,
                                    float g, float u) {
    __shared__ lse_t warp_lse[WARPS];
    __shared__ double warp_sx[WARPS];
    __shared__ lse_t row_lse;
    __shared__ double row_sx;
    int n = blockIdx.x, tid = threadIdx.x;
    const float *x = logits + (size_t)n * V;
    float *dx = dlogits ? dlogits + (size_t)n * V : NULL;
    int t = targets[n];
    if (t < 0) {
        if (tid == 0) losses[n] = 0.0f;
        if (dx)
            for (int j = tid; j < V; j += THREADS) dx[j] = 0.0f;
        return;
    }

    /* pass 1: this thread's columns, then the warp, then the warps in order */
    lse_t l = {-FLT_MAX, 0.0f};
    double sx = 0.0;
    for (int j = tid; j < V; j += THREADS) {
        float xj = x[j];
        if (xj > l.m) {
            l.s = l.s * expf(l.m - xj) + 1.0f;
            l.m = xj;
        } else {
            l.s += expf(xj - l.m);
        }
        sx += xj;
    }
    warp_reduce(&l, &sx);
    if (tid % 32 == 0) {
        warp_lse[tid / 32] = l;
        warp_sx[tid / 32] = sx;
    }
    __syncthreads();
    if (tid < 32) {
        lse_t w = {-FLT_MAX, 0.0f};
        double wsx = 0.0;
        if (tid < WARPS) {
            w = warp_lse[tid];
            wsx = warp_sx[tid];
        }
        warp_reduce(&w, &wsx);
        if (tid == 0) {
            row_lse = w;
            row_sx = wsx;
        }
    }
    __syncthreads();
    float mx = row_lse.m;
    double se = row_lse.s;

    /* loss_i = (1 - eps) * -logp[t] + eps * mean_j(-logp[j]), as the CPU */
    if (tid == 0) {
        double lse = mx + log(se);
        double nll = lse - x[t], smooth = lse - row_sx / V;
        losses[n] = (float)(((1.0 - eps) * nll + eps * smooth) * inv_count);
    }
    if (!dx) return;
    /* tid 0 read x[t] above; x[t] is overwritten below only by the thread
     * owning column t, which may be another one: wait. */
    __syncthreads();

    /* pass 2: d loss / d x_j = (softmax_j - eps / V - (1 - eps) [j == t]) * g */
    float inv_se = (float)(1.0 / se);
    for (int j = tid; j < V; j += THREADS) {
        float d = (expf(x[j] - mx) * inv_se - u) * g;
        if (j == t) d -= (1.0f - eps) * g;
        dx[j] = d;
    }
}

void cuda_op_crossentropy(float *losses, float *dlogits, const float *logits,
                          const int32_t *targets, int N, int V, float eps, int n_count,
                          float dscale) {
    if (N <= 0) return;
    float inv_count = n_count > 0 ? 1.0f / (float)n_count : 0.0f;
    crossentropy_kernel<<<N, THREADS, 0, cuda.stream>>>(losses, dlogits, logits, targets, V, eps,
                                                         inv_count, inv_count * dscale,
                                                         eps / (float)V);
    CHECK_LAUNCH();
}
