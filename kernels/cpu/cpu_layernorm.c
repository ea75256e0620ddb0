/* cpu_layernorm.c - CPU backend: LayerNorm over the last dimension, forward
 * and backward (statistics in double, biased variance like PyTorch). */
#include "ops.h"

#include "cpu_internal.h"

#include <math.h>
#include <omp.h>

void cpu_op_layernorm(float *out, float *mean, float *rstd, const float *inp,
                  const float *w, const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += x[c];
        double m = s / C, v = 0.0;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        float r = (float)(1.0 / sqrt(v / C + eps));
        float *y = out + (size_t)n * C;
        for (int c = 0; c < C; c++) y[c] = ((float)(x[c] - m) * r) * w[c] + b[c];
        mean[n] = (float)m;
        rstd[n] = r;
    }
}

void cpu_op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int N, int C) {
    /* dinp, row by row */
#pragma omp parallel for schedule(static) if ((size_t)N * C >= CPU_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        double sd = 0.0, sdn = 0.0;
        for (int c = 0; c < C; c++) {
            float dn = dy[c] * w[c];
            sd += dn;
            sdn += dn * ((x[c] - m) * r);
        }
        float md = (float)(sd / C), mdn = (float)(sdn / C);
        float *dx = dinp + (size_t)n * C;
        for (int c = 0; c < C; c++) {
            float xn = (x[c] - m) * r;
            dx[c] += (dy[c] * w[c] - md - xn * mdn) * r;
        }
    }
    /* dw, db: each thread owns a column range, rows in order (deterministic) */
#pragma omp parallel if ((size_t)N * C >= CPU_PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)C * id / nt), hi = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float m = mean[n], r = rstd[n];
            for (int c = lo; c < hi; c++) {
                dw[c] += dy[c] * ((x[c] - m) * r);
                db[c] += dy[c];
            }
        }
    }
}
