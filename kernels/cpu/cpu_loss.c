/* cpu_loss.c - CPU backend: label-smoothed cross-entropy with ignored rows,
 * loss and logits gradient in one pass. */
#include "ops.h"

#include "cpu_internal.h"

#include <math.h>

void cpu_op_crossentropy(float *losses, float *dlogits, const float *logits,
                     const int32_t *targets, int N, int V, float eps,
                     int n_count, float dscale) {
    float inv_count = n_count > 0 ? 1.0f / (float)n_count : 0.0f;
#pragma omp parallel for schedule(static) if ((size_t)N * V >= CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float *dx = dlogits ? dlogits + (size_t)n * V : NULL;
        int t = targets[n];
        if (t < 0) {
            losses[n] = 0.0f;
            if (dx)
                for (int j = 0; j < V; j++) dx[j] = 0.0f;
            continue;
        }
        float mx = -INFINITY;
        for (int j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        double se = 0.0, sx = 0.0;
        for (int j = 0; j < V; j++) {
            se += exp((double)(x[j] - mx));
            sx += x[j];
        }
        double lse = mx + log(se);
        double nll = lse - x[t], smooth = lse - sx / V;
        losses[n] = (float)(((1.0 - eps) * nll + eps * smooth) * inv_count);
        if (dx) {
            float g = inv_count * dscale, inv_se = (float)(1.0 / se), u = eps / (float)V;
            for (int j = 0; j < V; j++) dx[j] = (expf(x[j] - mx) * inv_se - u) * g;
            dx[t] -= (1.0f - eps) * g;
        }
    }
}
