/* cuda_linear.cu - CUDA backend: linear layers through cuBLASLt, the bias
 * gradient's deterministic column sums, and the fp32 -> bf16 operand
 * conversion the "bf16" precision uses.
 *
 * Row-major to cuBLAS's column-major: a row-major X[r, c] is a column-major
 * [c, r] matrix with the same leading dimension, so
 *   out[N, OC] = inp[N, C] @ w[OC, C]^T     is  out'[OC, N] = T(w'[C, OC]) @ inp'[C, N]
 *   dinp[N, C] += dout[N, OC] @ w[OC, C]    is  dinp'[C, N] += w'[C, OC] @ dout'[OC, N]
 *   dw[OC, C] += dout[N, OC]^T @ inp[N, C]  is  dw'[C, OC] += inp'[C, N] @ T(dout'[OC, N])
 * (primes: the column-major views). Precision "fp32" multiplies fp32
 * operands with CUBLAS_COMPUTE_32F (never TF32); "bf16" rounds the operands
 * to bf16 in scratch buffers and accumulates in fp32; outputs are fp32. The
 * forward bias rides the GEMM's epilogue when cuBLASLt offers one.
 *
 * A plan (descriptors and the heuristic's algorithm) is made once per
 * shape, transposition and pointer alignment and reused, so steady-state
 * calls do no heuristic search; a shape cuBLASLt has no algorithm for runs
 * through cublasGemmEx instead (noted at -v). */
#include <string.h>

#include "cuda_internal.h"

#define THREADS 256

/* ---- fp32 -> bf16 ------------------------------------------------------ */

__global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

/* The operand as the GEMM reads it: src itself in fp32, else a bf16 copy
 * of its n values (n > 0) in scratch `slot`. */
static const void *operand(const float *src, size_t n, int slot) {
    if (!cuda.bf16) return src;
    __nv_bfloat16 *dst = (__nv_bfloat16 *)cuda_scratch(slot, n * sizeof(__nv_bfloat16));
    to_bf16_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(dst, src, n);
    CHECK_LAUNCH();
    return dst;
}

/* ---- GEMM plans --------------------------------------------------------- */

/* Column-major D[m, n] = op(A)[m, k] @ op(B)[k, n] (+ bias[m]) + beta * D. */
typedef struct {
    int ta, tb, m, n, k, lda, ldb, ldd, bf16, bias;
    unsigned align_a, align_b, align_d, align_bias;
} gemm_key_t;

/* How a plan runs: cuBLASLt with the bias epilogue; cuBLASLt alone; or,
 * for shapes cuBLASLt has no algorithm for, cublasGemmEx. Without the
 * epilogue a bias is broadcast into D first and accumulated onto (beta 1). */
typedef enum { PLAN_LT_BIAS, PLAN_LT, PLAN_GEMMEX } plan_how_t;

typedef struct {
    gemm_key_t key;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
    plan_how_t how;
} gemm_plan_t;

static gemm_plan_t *plans;
static size_t n_plans, cap_plans;

/* Largest power of two (at most 256, cuBLASLt's default) dividing p. */
static unsigned alignment(const void *p) {
    uintptr_t a = (uintptr_t)p;
    a &= ~a + 1;
    return a == 0 || a > 256 ? 256u : (unsigned)a;
}

static void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const void *v,
                     size_t size) {
    CHECK_CUBLAS(cublasLtMatmulDescSetAttribute(desc, attr, v, size));
}

static void set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr,
                     const void *v, size_t size) {
    CHECK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, attr, v, size));
}

static void set_epilogue(gemm_plan_t *p, cublasLtEpilogue_t epilogue) {
    uint32_t e = epilogue;
    set_desc(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e);
}

/* The heuristic's first choice for the plan's current descriptor; 0 when
 * cuBLASLt has none (it answers NOT_SUPPORTED or no result). */
static int find_algo(gemm_plan_t *p, cublasLtMatmulPreference_t pref) {
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(cuda.lt, p->desc, p->a, p->b, p->d, p->d,
                                                       pref, 1, &r, &found);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) return 0;
    if (st != CUBLAS_STATUS_SUCCESS)
        die("cublas: cublasLtMatmulAlgoGetHeuristic: %s", cublasGetStatusString(st));
    if (found < 1 || r.state != CUBLAS_STATUS_SUCCESS) return 0;
    p->algo = r.algo;
    return 1;
}

static gemm_plan_t *make_plan(const gemm_key_t *key, const float *bias) {
    if (n_plans == cap_plans) {
        cap_plans = cap_plans ? 2 * cap_plans : 32;
        plans = (gemm_plan_t *)xrealloc(plans, cap_plans * sizeof *plans);
    }
    gemm_plan_t *p = &plans[n_plans];
    memset(p, 0, sizeof *p);
    p->key = *key;
    CHECK_CUBLAS(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    int32_t ta = key->ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    set_desc(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    set_desc(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cudaDataType_t ab = key->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    /* stored shapes: op(A) is [m, k], op(B) is [k, n] */
    CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&p->a, ab, key->ta ? key->k : key->m,
                                            key->ta ? key->m : key->k, key->lda));
    CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&p->b, ab, key->tb ? key->n : key->k,
                                            key->tb ? key->k : key->n, key->ldb));
    CHECK_CUBLAS(cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, key->m, key->n, key->ldd));

    cublasLtMatmulPreference_t pref;
    CHECK_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = CUDA_LT_WORKSPACE;
    uint32_t al_a = key->align_a, al_b = key->align_b, al_d = key->align_d;
    set_pref(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof al_d);
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof al_d);

    /* The epilogue takes an fp32 bias (the output's type), broadcast along
     * n. Bias vectors less than 16-byte aligned are reported to fault in it
     * (the heuristic has no alignment preference for them): no epilogue. */
    p->how = PLAN_GEMMEX;
    if (key->bias && key->align_bias >= 16) {
        int32_t bias_type = CUDA_R_32F;
        set_epilogue(p, CUBLASLT_EPILOGUE_BIAS);
        set_desc(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type);
        set_desc(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
        if (find_algo(p, pref)) p->how = PLAN_LT_BIAS;
        else set_epilogue(p, CUBLASLT_EPILOGUE_DEFAULT);
    }
    if (p->how == PLAN_GEMMEX && find_algo(p, pref)) p->how = PLAN_LT;
    CHECK_CUBLAS(cublasLtMatmulPreferenceDestroy(pref));
    if (p->how == PLAN_GEMMEX)
        note(1, "cuda: cublasLt has no algorithm for the %s x %s %s GEMM m=%d n=%d k=%d "
                "(ld %d %d %d): cublasGemmEx", key->ta ? "T" : "N", key->tb ? "T" : "N",
             key->bf16 ? "bf16" : "fp32", key->m, key->n, key->k, key->lda, key->ldb, key->ldd);
    n_plans++;
    return p;
}

/* The plan for this call, made on first sight. */
static gemm_plan_t *plan_for(const gemm_key_t *key, const float *bias) {
    for (size_t i = 0; i < n_plans; i++)
        if (!memcmp(&plans[i].key, key, sizeof *key)) return &plans[i];
    return make_plan(key, bias);
}

/* out[rows, cols] (row-major) = bias[cols] in every row. */
__global__ void broadcast_rows_kernel(float *out, const float *bias, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % cols];
}

/* Column-major D[m, n] = op(A) @ op(B) (+ bias[m]) + beta * D; A and B are
 * fp32 or, in bf16 mode, bf16 (from operand()). */
static void gemm(int ta, int tb, int m, int n, int k, const void *A, int lda, const void *B,
                 int ldb, float *D, int ldd, float beta, const float *bias) {
    gemm_key_t key;
    memset(&key, 0, sizeof key); /* the key is compared bytewise */
    key.ta = ta, key.tb = tb, key.m = m, key.n = n, key.k = k;
    key.lda = lda, key.ldb = ldb, key.ldd = ldd, key.bf16 = cuda.bf16, key.bias = bias != NULL;
    key.align_a = alignment(A), key.align_b = alignment(B), key.align_d = alignment(D);
    key.align_bias = bias ? alignment(bias) : 0;
    gemm_plan_t *p = plan_for(&key, bias);
    if (bias && p->how == PLAN_LT_BIAS) {
        set_desc(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    } else if (bias) { /* D = bias first (ldd is m here), then accumulate, like the CPU */
        unsigned blocks = cuda_blocks((size_t)m * n, THREADS);
        broadcast_rows_kernel<<<blocks, THREADS, 0, cuda.stream>>>(D, bias, n, m);
        CHECK_LAUNCH();
        beta = 1.0f;
    }
    float alpha = 1.0f;
    if (p->how == PLAN_GEMMEX) {
        cudaDataType_t ab = cuda.bf16 ? CUDA_R_16BF : CUDA_R_32F;
        cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
        cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        CHECK_CUBLAS(cublasGemmEx(cuda.blas, opa, opb, m, n, k, &alpha, A, ab, lda, B, ab, ldb,
                                  &beta, D, CUDA_R_32F, ldd, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
        return;
    }
    CHECK_CUBLAS(cublasLtMatmul(cuda.lt, p->desc, &alpha, A, p->a, B, p->b, &beta, D, p->d, D, p->d,
                                &p->algo, cuda.lt_workspace, CUDA_LT_WORKSPACE, cuda.stream));
}

/* ---- the ops ------------------------------------------------------------ */

void cuda_op_matmul(float *out, const float *inp, const float *w, const float *bias, int N, int C,
                    int OC) {
    if (N <= 0 || OC <= 0) return;
    const void *A = operand(w, (size_t)OC * C, CUDA_SCRATCH_A);
    const void *B = operand(inp, (size_t)N * C, CUDA_SCRATCH_B);
    gemm(1, 0, OC, N, C, A, C, B, C, out, OC, 0.0f, bias);
}

/* Column sums in two fixed-order stages, in double: block (x, r) sums rows
 * [r*N/R, (r+1)*N/R) of 32 columns into part[r, :], its 8 row-threads
 * combined in order; then each column adds its R parts in order to its
 * dbias. R depends on N only, so the result is the same on every run and
 * every GPU. */
#define CS_COLS 32
#define CS_ROWS 8

__global__ void column_parts_kernel(double *part, const float *dout, int N, int OC, int R) {
    __shared__ double acc[CS_ROWS][CS_COLS];
    int o = blockIdx.x * CS_COLS + threadIdx.x, r = blockIdx.y;
    int lo = (int)((long)N * r / R), hi = (int)((long)N * (r + 1) / R);
    double s = 0.0;
    if (o < OC)
        for (int row = lo + threadIdx.y; row < hi; row += CS_ROWS) s += dout[(size_t)row * OC + o];
    acc[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && o < OC) {
        for (int y = 1; y < CS_ROWS; y++) s += acc[y][threadIdx.x];
        part[(size_t)r * OC + o] = s;
    }
}

__global__ void column_finish_kernel(float *dbias, const double *part, int OC, int R) {
    for (int o = blockIdx.x * blockDim.x + threadIdx.x; o < OC; o += gridDim.x * blockDim.x) {
        double s = dbias[o];
        for (int r = 0; r < R; r++) s += part[(size_t)r * OC + o];
        dbias[o] = (float)s;
    }
}

/* dbias[OC] += sum over rows of dout[N, OC]. */
static void column_sums(float *dbias, const float *dout, int N, int OC) {
    int R = (N + 63) / 64;
    if (R > 256) R = 256;
    double *part = (double *)cuda_scratch(CUDA_SCRATCH_D, (size_t)R * OC * sizeof(double));
    dim3 grid((OC + CS_COLS - 1) / CS_COLS, R), block(CS_COLS, CS_ROWS);
    column_parts_kernel<<<grid, block, 0, cuda.stream>>>(part, dout, N, OC, R);
    CHECK_LAUNCH();
    column_finish_kernel<<<cuda_blocks(OC, THREADS), THREADS, 0, cuda.stream>>>(dbias, part, OC, R);
    CHECK_LAUNCH();
}

void cuda_op_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                             const float *inp, const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    const void *G = dinp || dw ? operand(dout, (size_t)N * OC, CUDA_SCRATCH_A) : NULL;
    if (dinp) {
        const void *W = operand(w, (size_t)OC * C, CUDA_SCRATCH_B);
        gemm(0, 0, C, N, OC, W, C, G, OC, dinp, C, 1.0f, NULL);
    }
    if (dw) {
        const void *I = operand(inp, (size_t)N * C, CUDA_SCRATCH_C);
        gemm(0, 1, C, OC, N, I, C, G, OC, dw, C, 1.0f, NULL);
    }
    if (dbias) column_sums(dbias, dout, N, OC);
}
