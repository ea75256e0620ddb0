/* cpu_linear.c - CPU backend: linear layers (BLAS sgemm) and the column
 * reduction their bias gradients need. */
#include "ops.h"

#include <cblas.h>
#include <omp.h>

/* out[N, OC] = inp[N, C] @ w[OC, C]^T + bias[OC] */
void op_matmul(float *out, const float *inp, const float *w, const float *bias,
               int N, int C, int OC) {
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] = bias[o];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
                bias ? 1.0f : 0.0f, out, OC);
}

/* dbias[OC] += sum over rows of dout[N, OC]; each thread owns a column range
 * and walks the rows in order, so the result is deterministic. */
static void column_sums(float *dbias, const float *dout, int N, int OC) {
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)OC * id / nt), hi = (int)((long)OC * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            const float *row = dout + (size_t)n * OC;
            for (int o = lo; o < hi; o++) dbias[o] += row[o];
        }
    }
}

void op_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int N, int C, int OC) {
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                    1.0f, dinp, C);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                    1.0f, dw, C);
    if (dbias) column_sums(dbias, dout, N, OC);
}
