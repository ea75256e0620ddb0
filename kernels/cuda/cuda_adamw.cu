/* cuda_adamw.cu - CUDA backend: the AdamW update over fp32 master weights,
 * with the CPU backend's arithmetic (cpu_adamw.c) operation for operation:
 * the step constants come from the host's powf/sqrtf like the CPU's, and
 * the kernel uses round-to-nearest intrinsics so that no multiply-add is
 * fused, which makes the update bit-identical to the CPU backend's. */
#include <math.h>

#include "cuda_internal.h"

#define THREADS 256

typedef struct {
    float beta1, one_minus_beta1, beta2, one_minus_beta2, gscale, step, bc2_sqrt, decay, eps;
} adamw_consts_t;

__global__ void adamw_kernel(float *param, const float *grad, float *m, float *v, size_t n,
                             adamw_consts_t k) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = __fmul_rn(grad[i], k.gscale);
        float mi = __fadd_rn(__fmul_rn(k.beta1, m[i]), __fmul_rn(k.one_minus_beta1, g));
        float g2 = __fmul_rn(__fmul_rn(k.one_minus_beta2, g), g);
        float vi = __fadd_rn(__fmul_rn(k.beta2, v[i]), g2);
        m[i] = mi;
        v[i] = vi;
        /* param * decay - step * mi / (sqrt(vi) / bc2_sqrt + eps) */
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.bc2_sqrt), k.eps);
        param[i] = __fsub_rn(__fmul_rn(param[i], k.decay), __fdiv_rn(__fmul_rn(k.step, mi), denom));
    }
}

void cuda_op_adamw(float *param, const float *grad, float *m, float *v, size_t n,
                   const adamw_args_t *a) {
    if (!n) return;
    float bc1 = 1.0f - powf(a->beta1, (float)a->t), bc2 = 1.0f - powf(a->beta2, (float)a->t);
    adamw_consts_t k = {a->beta1,  1.0f - a->beta1, a->beta2,   1.0f - a->beta2,
                        a->gscale, a->lr / bc1,     sqrtf(bc2), 1.0f - a->lr * a->weight_decay,
                        a->eps};
    adamw_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(param, grad, m, v, n, k);
    CHECK_LAUNCH();
}
