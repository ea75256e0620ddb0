/* cpu_linear.c - CPU backend: linear layers and the column reduction their
 * bias gradients need. BLAS runs single-threaded inside OpenMP threads that
 * split each product along its larger output dimension, so BLAS and the
 * other ops share one thread pool instead of fighting over the cores. */
#include "ops.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>

#include "cpu_internal.h"

/* Chunks of the split dimension: several per thread, so a thread that the
 * OS preempts does not hold the others at the barrier, but no thinner than
 * 64 rows or columns. */
static int gemm_chunks(int len, int nt) {
    int want = 4 * nt, most = len / 64;
    return most < 1 ? 1 : want < most ? want : most;
}

static void set_single_thread(void) { openblas_set_num_threads(1); }

void cpu_blas_single_thread(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, set_single_thread);
}

void cpu_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    cpu_blas_single_thread();
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    int split_m = M >= N, len = split_m ? M : N;
    int par = (size_t)M * N * K / 16 >= CPU_PAR_MIN;
    int nchunk = par ? gemm_chunks(len, omp_get_max_threads()) : 1;
#pragma omp parallel for schedule(dynamic, 1) if (nchunk > 1)
    for (int ch = 0; ch < nchunk; ch++) {
        int lo = (int)((long)len * ch / nchunk), hi = (int)((long)len * (ch + 1) / nchunk);
        if (split_m)
            cblas_sgemm(CblasRowMajor, TA, TB, hi - lo, N, K, alpha,
                        A + (ta ? (size_t)lo : (size_t)lo * lda), lda, B, ldb, beta,
                        C + (size_t)lo * ldc, ldc);
        else
            cblas_sgemm(CblasRowMajor, TA, TB, M, hi - lo, K, alpha, A, lda,
                        B + (tb ? (size_t)lo * ldb : (size_t)lo), ldb, beta, C + lo, ldc);
    }
}

void cpu_op_matmul(float *out, const float *inp, const float *w, const float *bias,
               int N, int C, int OC) {
    if (bias) {
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= CPU_PAR_MIN)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] = bias[o];
    }
    cpu_gemm(0, 1, N, OC, C, 1.0f, inp, C, w, C, bias ? 1.0f : 0.0f, out, OC);
}

/* dbias[OC] += sum over rows of dout[N, OC]; each thread owns a column range
 * and walks the rows in order, so the result is deterministic. */
static void column_sums(float *dbias, const float *dout, int N, int OC) {
#pragma omp parallel if ((size_t)N * OC >= CPU_PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)OC * id / nt), hi = (int)((long)OC * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            const float *row = dout + (size_t)n * OC;
            for (int o = lo; o < hi; o++) dbias[o] += row[o];
        }
    }
}

void cpu_op_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int N, int C, int OC) {
    if (dinp)
        cpu_gemm(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
    if (dw)
        cpu_gemm(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (dbias) column_sums(dbias, dout, N, OC);
}
