/* emu_blas.cpp - the CPU emulator's cuBLAS and cuBLASLt (tests/emu/README):
 * the calls the backend makes, with the semantics NVIDIA documents.
 *
 * Column-major: element (i, j) of a matrix with leading dimension ld is at
 * i + j*ld. op(X) is X or X^T (CUBLAS_OP_N / CUBLAS_OP_T); op(A) is [m, k],
 * op(B) [k, n], C and D [m, n]. Stored A is m x k (OP_N, lda >= m) or
 * k x m (OP_T, lda >= k), likewise B; ldc >= m. Then
 *     D = alpha op(A) op(B) + beta C   (+ bias[i] on every column j with
 *                                       cuBLASLt's CUBLASLT_EPILOGUE_BIAS)
 * where C is not read when beta == 0 (so it may hold NaN). Products are
 * accumulated in double and rounded once: at least as accurate as the fp32
 * accumulation cuBLAS does (CUBLAS_COMPUTE_32F, no TF32); bf16 operands are
 * read as the bf16 values they hold. Types: A and B both CUDA_R_32F or both
 * CUDA_R_16BF, C/D CUDA_R_32F, scale type fp32. Every pointer range the GEMM
 * reads or writes must lie in device memory. The emulator dies or fails (as
 * cuBLAS documents: INVALID_VALUE, NOT_SUPPORTED) on anything else. */
#include <stdint.h>
#include <string.h>

#include <cublasLt.h>
#include <cuda_bf16.h>

#include "emu.h"
#include "emu_internal.h"
#include "err.h"

int emu_lt_refuse;
long emu_n_lt_matmuls, emu_n_lt_bias_matmuls, emu_n_gemm_ex;

/* ---- the one GEMM --------------------------------------------------------- */

typedef struct {
    cublasOperation_t ta, tb;
    int m, n, k;
    float alpha, beta;
    const void *A, *B;
    cudaDataType ab_type; /* of A and B */
    int lda, ldb;
    float *C;
    int ldc;
    const float *bias; /* [m] or NULL */
} gemm_t;

static float element(const void *p, cudaDataType t, size_t i) {
    if (t == CUDA_R_16BF) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    return ((const float *)p)[i];
}

static size_t type_size(cudaDataType t) { return t == CUDA_R_16BF ? 2 : 4; }

/* Bytes spanned by a stored rows x cols matrix with leading dimension ld. */
static size_t span(int rows, int cols, int ld, cudaDataType t) {
    if (rows <= 0 || cols <= 0) return 0;
    return ((size_t)(cols - 1) * ld + rows) * type_size(t);
}

static int max1(int x) { return x > 1 ? x : 1; }

/* Shapes and leading dimensions as cuBLAS requires them. */
static int gemm_valid(const gemm_t *g) {
    int arows = g->ta == CUBLAS_OP_N ? g->m : g->k, brows = g->tb == CUBLAS_OP_N ? g->k : g->n;
    return g->m >= 0 && g->n >= 0 && g->k >= 0 && g->lda >= max1(arows) && g->ldb >= max1(brows) &&
           g->ldc >= max1(g->m) && (g->ta == CUBLAS_OP_N || g->ta == CUBLAS_OP_T) &&
           (g->tb == CUBLAS_OP_N || g->tb == CUBLAS_OP_T);
}

/* One GEMM of a batch at element offsets a0, b0, c0. */
static void gemm_run(const gemm_t *g, size_t a0, size_t b0, size_t c0) {
    int a_n = g->ta == CUBLAS_OP_N, b_n = g->tb == CUBLAS_OP_N;
    int arows = a_n ? g->m : g->k, acols = a_n ? g->k : g->m;
    int brows = b_n ? g->k : g->n, bcols = b_n ? g->n : g->k;
    size_t t = type_size(g->ab_type);
    emu_check_device((const char *)g->A + a0 * t, span(arows, acols, g->lda, g->ab_type), "GEMM A");
    emu_check_device((const char *)g->B + b0 * t, span(brows, bcols, g->ldb, g->ab_type), "GEMM B");
    emu_check_device(g->C + c0, span(g->m, g->n, g->ldc, CUDA_R_32F), "GEMM C/D");
    if (g->bias) emu_check_device(g->bias, (size_t)g->m * sizeof(float), "GEMM bias");
    for (int j = 0; j < g->n; j++)
        for (int i = 0; i < g->m; i++) {
            double s = 0.0;
            for (int l = 0; l < g->k; l++) {
                size_t ai = a0 + (a_n ? i + (size_t)l * g->lda : l + (size_t)i * g->lda);
                size_t bi = b0 + (b_n ? l + (size_t)j * g->ldb : j + (size_t)l * g->ldb);
                s += (double)element(g->A, g->ab_type, ai) * element(g->B, g->ab_type, bi);
            }
            float *c = g->C + c0 + i + (size_t)j * g->ldc;
            double d = (double)g->alpha * s;
            if (g->beta != 0.0f) d += (double)g->beta * *c;
            if (g->bias) d += g->bias[i];
            *c = (float)d;
        }
}

/* ---- cuBLAS --------------------------------------------------------------- */

struct emu_blas {
    cudaStream_t stream;
};

const char *cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "unknown cuBLAS status";
}

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    *handle = (cublasHandle_t)xcalloc(1, sizeof **handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    emu_check_device(workspace, bytes, "cublasSetWorkspace");
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    return mode == CUBLAS_DEFAULT_MATH || mode == CUBLAS_PEDANTIC_MATH ? CUBLAS_STATUS_SUCCESS
                                                                        : CUBLAS_STATUS_INVALID_VALUE;
}

/* The type combinations of cublasGemmEx's table this backend may use. */
static cublasStatus_t check_types(cudaDataType at, cudaDataType bt, cudaDataType ct,
                                  cublasComputeType_t compute) {
    if (compute != CUBLAS_COMPUTE_32F || ct != CUDA_R_32F || at != bt ||
        (at != CUDA_R_32F && at != CUDA_R_16BF))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
    int k, const void *alpha, const void *A, cudaDataType Atype, int lda, long long strideA,
    const void *B, cudaDataType Btype, int ldb, long long strideB, const void *beta, void *C,
    cudaDataType Ctype, int ldc, long long strideC, int batch, cublasComputeType_t computeType,
    cublasGemmAlgo_t algo) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    emu_check_stream(handle->stream, "cuBLAS GEMM");
    cublasStatus_t st = check_types(Atype, Btype, Ctype, computeType);
    if (st != CUBLAS_STATUS_SUCCESS || algo != CUBLAS_GEMM_DEFAULT) return CUBLAS_STATUS_NOT_SUPPORTED;
    gemm_t g = {transa, transb, m, n, k, *(const float *)alpha, *(const float *)beta, A, B, Atype,
                lda, ldb, (float *)C, ldc, NULL};
    if (!gemm_valid(&g) || batch < 0 || strideA < 0 || strideB < 0 || strideC < 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    for (int z = 0; z < batch; z++)
        gemm_run(&g, (size_t)z * strideA, (size_t)z * strideB, (size_t)z * strideC);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
    emu_n_gemm_ex++;
    return cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B,
                                      Btype, ldb, 0, beta, C, Ctype, ldc, 0, 1, computeType, algo);
}

/* ---- cuBLASLt -------------------------------------------------------------- */

struct emu_lt {
    int unused;
};
struct emu_lt_desc {
    int32_t transa, transb;
    uint32_t epilogue;
    const float *bias;
    int32_t bias_type; /* -1: D's type */
};
struct emu_lt_layout {
    cudaDataType type;
    uint64_t rows, cols;
    int64_t ld;
};
struct emu_lt_pref {
    uint64_t workspace;
    uint32_t align[4]; /* minimum alignments promised for A, B, C, D */
};

/* What the heuristic's algorithm assumes, checked by cublasLtMatmul. */
#define ALGO_MAGIC 0x656d75616c676fULL
enum { ALGO_TAG, ALGO_ALIGN_A, ALGO_ALIGN_B, ALGO_ALIGN_C, ALGO_ALIGN_D, ALGO_ALIGN_BIAS };

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    *handle = (cublasLtHandle_t)xcalloc(1, sizeof **handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc,
                                        cublasComputeType_t computeType,
                                        cudaDataType_t scaleType) {
    if (computeType != CUBLAS_COMPUTE_32F || scaleType != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    cublasLtMatmulDesc_t d = (cublasLtMatmulDesc_t)xcalloc(1, sizeof *d);
    d->transa = d->transb = CUBLAS_OP_N;
    d->epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    d->bias_type = -1;
    *desc = d;
    return CUBLAS_STATUS_SUCCESS;
}

/* Copies an attribute of exactly `want` bytes. */
static int take(void *dst, size_t want, const void *buf, size_t size) {
    if (size != want) return 0;
    memcpy(dst, buf, want);
    return 1;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t size) {
    int ok = 0;
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: ok = take(&desc->transa, 4, buf, size); break;
    case CUBLASLT_MATMUL_DESC_TRANSB: ok = take(&desc->transb, 4, buf, size); break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE: ok = take(&desc->epilogue, 4, buf, size); break;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: ok = take(&desc->bias, sizeof(void *), buf, size); break;
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: ok = take(&desc->bias_type, 4, buf, size); break;
    }
    if (!ok) return CUBLAS_STATUS_INVALID_VALUE;
    if ((desc->transa != CUBLAS_OP_N && desc->transa != CUBLAS_OP_T) ||
        (desc->transb != CUBLAS_OP_N && desc->transb != CUBLAS_OP_T))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (desc->epilogue != CUBLASLT_EPILOGUE_DEFAULT && desc->epilogue != CUBLASLT_EPILOGUE_BIAS)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    /* the bias has D's type (fp32 here); nothing else is emulated */
    if (desc->bias_type != -1 && desc->bias_type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
    if (type != CUDA_R_32F && type != CUDA_R_16BF) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (rows > INT32_MAX || cols > INT32_MAX || ld < (int64_t)(rows ? rows : 1) || ld > INT32_MAX)
        return CUBLAS_STATUS_INVALID_VALUE;
    cublasLtMatrixLayout_t l = (cublasLtMatrixLayout_t)xcalloc(1, sizeof *l);
    l->type = type, l->rows = rows, l->cols = cols, l->ld = ld;
    *layout = l;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    *pref = (cublasLtMatmulPreference_t)xcalloc(1, sizeof **pref);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t size) {
    int ok = 0;
    switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: ok = take(&pref->workspace, 8, buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: ok = take(&pref->align[0], 4, buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: ok = take(&pref->align[1], 4, buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: ok = take(&pref->align[2], 4, buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: ok = take(&pref->align[3], 4, buf, size); break;
    }
    return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    free(pref);
    return CUBLAS_STATUS_SUCCESS;
}

/* The largest power of two (up to 256) dividing the address. */
static uint64_t alignment_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    a &= ~a + 1;
    return a == 0 || a > 256 ? 256 : a;
}

/* The GEMM a descriptor and its layouts describe, or INVALID_VALUE when the
 * shapes do not fit together. */
static cublasStatus_t lt_gemm(gemm_t *g, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                              cublasLtMatrixLayout_t d) {
    if (a->type != b->type || c->type != CUDA_R_32F || d->type != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (c->rows != d->rows || c->cols != d->cols || c->ld != d->ld)
        return CUBLAS_STATUS_NOT_SUPPORTED; /* C == D in place only */
    memset(g, 0, sizeof *g);
    g->ta = (cublasOperation_t)desc->transa, g->tb = (cublasOperation_t)desc->transb;
    g->m = (int)d->rows, g->n = (int)d->cols;
    uint64_t ak_rows = g->ta == CUBLAS_OP_N ? a->rows : a->cols; /* op(A) rows */
    g->k = (int)(g->ta == CUBLAS_OP_N ? a->cols : a->rows);
    uint64_t bk = g->tb == CUBLAS_OP_N ? b->rows : b->cols, bn = g->tb == CUBLAS_OP_N ? b->cols : b->rows;
    if (ak_rows != d->rows || bk != (uint64_t)g->k || bn != d->cols) return CUBLAS_STATUS_INVALID_VALUE;
    g->ab_type = a->type, g->lda = (int)a->ld, g->ldb = (int)b->ld, g->ldc = (int)d->ld;
    return gemm_valid(g) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t pref, int requestedAlgoCount,
    cublasLtMatmulHeuristicResult_t heuristicResultsArray[], int *returnAlgoCount) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (requestedAlgoCount < 1) return CUBLAS_STATUS_INVALID_VALUE;
    gemm_t g;
    cublasStatus_t st = lt_gemm(&g, desc, Adesc, Bdesc, Cdesc, Ddesc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    int bias = desc->epilogue == CUBLASLT_EPILOGUE_BIAS;
    if ((emu_lt_refuse & EMU_LT_REFUSE_ALL) || (bias && (emu_lt_refuse & EMU_LT_REFUSE_BIAS)))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    cublasLtMatmulHeuristicResult_t *r = &heuristicResultsArray[0];
    memset(r, 0, sizeof *r);
    r->algo.data[ALGO_TAG] = ALGO_MAGIC;
    for (int i = 0; i < 4; i++) r->algo.data[ALGO_ALIGN_A + i] = pref->align[i] ? pref->align[i] : 256;
    r->algo.data[ALGO_ALIGN_BIAS] = bias ? alignment_of(desc->bias) : 1;
    r->workspaceSize = 0;
    r->state = CUBLAS_STATUS_SUCCESS;
    r->wavesCount = 1.0f;
    *returnAlgoCount = 1;
    return CUBLAS_STATUS_SUCCESS;
}

/* An algorithm may rely on the alignments the heuristic was promised (the
 * preference's, the bias pointer's at the time): a pointer with less is an
 * error here, as it may fault or misbehave on the GPU. */
static void check_alignment(const void *p, uint64_t promised, const char *what) {
    if (p && alignment_of(p) < promised)
        die("emu: cublasLtMatmul: %s %p is less aligned than the %llu bytes its algorithm "
            "was chosen for", what, p, (unsigned long long)promised);
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                              const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                              const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                              void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    emu_check_stream(stream, "cublasLtMatmul");
    if (!algo || algo->data[ALGO_TAG] != ALGO_MAGIC)
        die("emu: cublasLtMatmul without an algorithm from the heuristic is not emulated");
    if (C != D) die("emu: cublasLtMatmul out of place (C != D) is not emulated");
    if (workspaceSizeInBytes) emu_check_device(workspace, workspaceSizeInBytes, "Lt workspace");
    gemm_t g;
    cublasStatus_t st = lt_gemm(&g, desc, Adesc, Bdesc, Cdesc, Ddesc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    check_alignment(A, algo->data[ALGO_ALIGN_A], "A");
    check_alignment(B, algo->data[ALGO_ALIGN_B], "B");
    check_alignment(C, algo->data[ALGO_ALIGN_C], "C");
    check_alignment(D, algo->data[ALGO_ALIGN_D], "D");
    g.alpha = *(const float *)alpha, g.beta = *(const float *)beta;
    g.A = A, g.B = B, g.C = (float *)D;
    if (desc->epilogue == CUBLASLT_EPILOGUE_BIAS) {
        if (!desc->bias) return CUBLAS_STATUS_INVALID_VALUE;
        check_alignment(desc->bias, algo->data[ALGO_ALIGN_BIAS], "bias");
        g.bias = desc->bias;
        emu_n_lt_bias_matmuls++;
    }
    emu_n_lt_matmuls++;
    gemm_run(&g, 0, 0, 0);
    return CUBLAS_STATUS_SUCCESS;
}
