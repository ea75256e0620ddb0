/* cpu_adamw.c - CPU backend: the AdamW update (PyTorch's arithmetic). */
#include "ops.h"

#include "cpu_internal.h"

#include <math.h>

void cpu_op_adamw(float *param, const float *grad, float *m, float *v, size_t n,
              const adamw_args_t *a) {
    float bc1 = 1.0f - powf(a->beta1, (float)a->t), bc2 = 1.0f - powf(a->beta2, (float)a->t);
    float step = a->lr / bc1, bc2_sqrt = sqrtf(bc2), decay = 1.0f - a->lr * a->weight_decay;
#pragma omp parallel for schedule(static) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] * a->gscale;
        float mi = a->beta1 * m[i] + (1.0f - a->beta1) * g;
        float vi = a->beta2 * v[i] + (1.0f - a->beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - step * mi / (sqrtf(vi) / bc2_sqrt + a->eps);
    }
}
