/* cuda_attention.cu - CUDA backend: multi-head attention as strided batched
 * cuBLAS GEMMs over packed per-(batch, head) copies of q, k, v, with a
 * warp-per-row masked softmax (causal, key mask, attention dropout drawn from
 * the same Philox words as kernels/cpu/cpu_attention.c) and its backward.
 *
 * Every call packs its strided operands (fused qkv rows, KV caches, kv_group)
 * into scratch as contiguous [Z, rows, hd] blocks, Z = kv batches x heads, in
 * the GEMM operand type (fp32, or bf16 in precision "bf16"), so the GEMMs are
 * plain strided batched products with aligned operands. With kv_group g the
 * g query batches that share a key/value batch are packed as one block of
 * g*Tq query rows. Score rows in scratch are padded to Tkp (a multiple of 8)
 * for aligned bf16 rows; probs keeps the interface's [B, H, Tq, Tk] layout.
 * Results are computed in fixed order: identical run to run. This is the
 * path of precision fp32 and of the shapes the fused bf16 kernels
 * (cuda_flash.cu) do not serve; the state is then the probabilities. */
#include "cuda_attn.cuh"

#define THREADS 256
#define ROWS_PER_BLOCK (THREADS / 32) /* warp-per-row kernels */
#define PACK_THREADS 64               /* one head row (hd values) per block */

/* ---- element conversion ------------------------------------------------ */

static __device__ inline void store(float *p, float x) { *p = x; }
static __device__ inline void store(__nv_bfloat16 *p, float x) { *p = __float2bfloat16_rn(x); }

/* ---- warp reductions (fixed butterfly order: deterministic) ------------ */

static __device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ inline double warp_sum(double v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* ---- packing strided tensors to and from [Z, g*T, hd] blocks ----------- */

/* A strided [nb, T, H*hd] tensor: row t of batch b at base + b*bstride + t*stride. */
typedef struct {
    size_t bstride;
    int stride, T, nb;
} view_t;

/* One block per destination row: dst[z, m, 0..hd) for z = kb*H + h and
 * m = r*T + t is row t, head h of batch b = kb*g + r of src (0 past the last
 * batch); there are ceil(nb / g) * H * g * T rows. */
template <typename T>
__global__ void pack_kernel(T *dst, const float *src, view_t v, int g, int H, int hd) {
    int rows = g * v.T, m = blockIdx.x % rows, z = blockIdx.x / rows;
    int h = z % H, t = m % v.T, b = z / H * g + m / v.T;
    T *o = dst + (size_t)blockIdx.x * hd;
    size_t off = (size_t)b * v.bstride + (size_t)t * v.stride + (size_t)h * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) store(o + d, b < v.nb ? src[off + d] : 0.0f);
}

static void pack(void *dst, const float *src, view_t v, int g, int H, int hd) {
    unsigned rows = (unsigned)((v.nb + g - 1) / g * H * g * v.T);
    if (cuda.bf16)
        pack_kernel<<<rows, PACK_THREADS, 0, cuda.stream>>>((__nv_bfloat16 *)dst, src, v, g, H, hd);
    else
        pack_kernel<<<rows, PACK_THREADS, 0, cuda.stream>>>((float *)dst, src, v, g, H, hd);
    CHECK_LAUNCH();
}

/* The inverse of pack for fp32 results, one block per row t of batch b of
 * dst: dst row (H*hd values) = or += the rows of its H blocks. */
__global__ void unpack_kernel(float *dst, const float *src, view_t v, int g, int H, int hd,
                              int accumulate) {
    int b = blockIdx.x / v.T, t = blockIdx.x % v.T, M = g * v.T;
    float *o = dst + (size_t)b * v.bstride + (size_t)t * v.stride;
    const float *s = src + ((size_t)(b / g) * H * M + (size_t)(b % g) * v.T + t) * hd;
    for (int c = threadIdx.x; c < H * hd; c += blockDim.x) {
        float x = s[(size_t)(c / hd) * M * hd + c % hd];
        o[c] = accumulate ? o[c] + x : x;
    }
}

static void unpack(float *dst, const float *src, view_t v, int g, int H, int hd, int accumulate) {
    unpack_kernel<<<(unsigned)v.nb * v.T, THREADS, 0, cuda.stream>>>(dst, src, v, g, H, hd,
                                                                      accumulate);
    CHECK_LAUNCH();
}

/* ---- batched GEMMs on packed blocks (row-major views) ------------------ */

/* cuBLAS (column-major) strided batched C = alpha op(A) op(B) + beta C with
 * operands in the precision's type, fp32 accumulation and fp32 C. */
static void bgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                  const void *A, int lda, long long sA, const void *B, int ldb, long long sB,
                  float *C, int ldc, long long sC, int batch) {
    cudaDataType t = cuda.bf16 ? CUDA_R_16BF : CUDA_R_32F;
    float beta = 0.0f;
    CHECK_CUBLAS(cublasGemmStridedBatchedEx(cuda.blas, ta, tb, m, n, k, &alpha, A, t, lda, sA, B,
                                            t, ldb, sB, &beta, C, CUDA_R_32F, ldc, sC, batch,
                                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* Per batch, row-major: C[M, N] (row length ldc) = alpha * X[M, K] Y[N, K]^T. */
static void gemm_xyt(float *C, int ldc, const void *X, const void *Y, int M, int N, int K,
                     float alpha, int batch) {
    bgemm(CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, alpha, Y, K, (long long)N * K, X, K,
          (long long)M * K, C, ldc, (long long)M * ldc, batch);
}

/* Per batch, row-major: C[M, N] = P[M, K] (row length ldp) Y[K, N]. */
static void gemm_py(float *C, const void *P, int ldp, const void *Y, int M, int N, int K,
                    int batch) {
    bgemm(CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, 1.0f, Y, N, (long long)K * N, P, ldp,
          (long long)M * ldp, C, N, (long long)M * N, batch);
}

/* Per batch, row-major: C[K, N] = P[M, K]^T (row length ldp) X[M, N]. */
static void gemm_ptx(float *C, const void *P, int ldp, const void *X, int M, int N, int K,
                     int batch) {
    bgemm(CUBLAS_OP_N, CUBLAS_OP_T, N, K, M, 1.0f, X, N, (long long)M * N, P, ldp,
          (long long)M * ldp, C, N, (long long)K * N, batch);
}

/* ---- the call's geometry and scratch ----------------------------------- */

typedef struct {
    int B, H, Tq, Tk, hd;
    int g;        /* kv_group, >= 1 */
    int Bkv;      /* key/value batches: ceil(B / g) */
    int Z;        /* packed blocks: Bkv * H */
    int M;        /* query rows per block: g * Tq */
    int Tkp;      /* score row length in scratch: Tk rounded up to 8 */
    int causal;
    const int32_t *key_mask;
    view_t q, kv, o; /* q, k/v and out/dout as strided tensors */
} geom_t;

static geom_t geometry(const attn_shape_t *s) {
    geom_t G;
    G.B = s->B, G.H = s->H, G.Tq = s->Tq, G.Tk = s->Tk, G.hd = s->hd;
    G.g = s->kv_group > 1 ? s->kv_group : 1;
    G.Bkv = (s->B + G.g - 1) / G.g;
    G.Z = G.Bkv * s->H;
    G.M = G.g * s->Tq;
    G.Tkp = (s->Tk + 7) / 8 * 8;
    G.causal = s->causal;
    G.key_mask = s->key_mask;
    G.q = (view_t){s->q_bstride ? s->q_bstride : (size_t)s->Tq * s->q_stride, s->q_stride, s->Tq,
                   s->B};
    G.kv = (view_t){s->kv_bstride ? s->kv_bstride : (size_t)s->Tk * s->kv_stride, s->kv_stride,
                    s->Tk, G.Bkv};
    G.o = (view_t){(size_t)s->Tq * s->H * s->hd, s->H * s->hd, s->Tq, s->B};
    return G;
}

/* Carves n buffers of the given byte sizes (256-byte aligned) out of one
 * scratch slot. */
static void carve(void **out[], const size_t bytes[], int n) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (bytes[i] + 255) / 256 * 256;
    char *p = (char *)cuda_scratch(CUDA_SCRATCH_A, total);
    for (int i = 0; i < n; i++) {
        *out[i] = p;
        p += (bytes[i] + 255) / 256 * 256;
    }
}

/* ---- softmax forward and backward, one warp per query row -------------- */

/* Row `row` of probs [B, H, Tq, Tk] is query i of head h of batch b; its
 * scores are row (b/g*H + h)*M + (b%g)*Tq + i of the [Z, M, Tkp] scratch. */
static __device__ inline size_t block_row(const geom_t *G, size_t row) {
    int i = (int)(row % G->Tq), h = (int)(row / G->Tq % G->H);
    size_t b = row / G->Tq / G->H;
    return (b / G->g * G->H + h) * G->M + b % G->g * G->Tq + i;
}

static __device__ inline int visible(const geom_t *G, const int32_t *mask, int i, int j) {
    if (G->causal && j > i + G->Tk - G->Tq) return 0;
    return !mask || mask[j] != 0;
}

/* probs row = softmax of the visible scores of S (hidden keys exactly 0;
 * a row with no visible key is all 0); pd row = dropout(probs row). */
template <typename T>
__global__ void softmax_kernel(float *probs, T *pd, const float *S, geom_t G, drop_t drop) {
    size_t row = (size_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    int lane = threadIdx.x % 32, Tk = G.Tk;
    if (row >= (size_t)G.B * G.H * G.Tq) return;
    int i = (int)(row % G.Tq);
    size_t b = row / G.Tq / G.H, srow = block_row(&G, row);
    const int32_t *mask = G.key_mask ? G.key_mask + b * Tk : NULL;
    const float *s = S + srow * G.Tkp;
    float mx = -INFINITY;
    for (int j = lane; j < Tk; j += 32)
        if (visible(&G, mask, i, j) && s[j] > mx) mx = s[j];
    mx = warp_max(mx);
    double sum = 0.0;
    for (int j = lane; j < Tk; j += 32)
        if (visible(&G, mask, i, j)) sum += expf(s[j] - mx);
    sum = warp_sum(sum);
    float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    float *p = probs + row * Tk;
    T *d = pd + srow * G.Tkp;
    for (int j = lane; j < Tk; j += 32) {
        float e = visible(&G, mask, i, j) ? expf(s[j] - mx) : 0.0f;
        float pj = e * inv;
        p[j] = pj;
        store(d + j, drop_apply(drop, kept(drop, row * Tk + j), pj));
    }
}

/* Softmax backward of one row, as cpu_op_attention_backward:
 * d = dropout(dP); dS = P * (d - sum_j P d) * scale into ds [rows, Tkp];
 * also pd [rows, Tkp] = dropout(P), the probabilities that multiplied v. */
template <typename T>
__global__ void softmax_backward_kernel(T *ds, T *pd, const float *dP, const float *probs,
                                        size_t rows, int Tk, int Tkp, float scale, drop_t drop) {
    size_t row = (size_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float *p = probs + row * Tk, *dp = dP + row * Tkp;
    double dot = 0.0;
    for (int j = lane; j < Tk; j += 32)
        dot += __fmul_rn(p[j], drop_apply(drop, kept(drop, row * Tk + j), dp[j]));
    float dotf = (float)warp_sum(dot);
    for (int j = lane; j < Tk; j += 32) {
        bool keep = kept(drop, row * Tk + j);
        float d = drop_apply(drop, keep, dp[j]);
        store(ds + row * Tkp + j, p[j] * (d - dotf) * scale);
        store(pd + row * Tkp + j, drop_apply(drop, keep, p[j]));
    }
}

static unsigned row_blocks(size_t rows) {
    return (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
}

/* ---- the ops ------------------------------------------------------------ */

size_t cuda_attn_state_floats(const attn_shape_t *s) {
    size_t rows = (size_t)s->B * s->H * s->Tq;
    return cuda_flash_applies(s) ? rows : rows * s->Tk;
}

void cuda_op_attention(float *out, float *probs, const float *q, const float *k, const float *v,
                       const attn_shape_t *s) {
    geom_t G = geometry(s);
    if (!G.B || !G.H || !G.Tq || !G.hd) return;
    if (cuda_flash_applies(s)) {
        cuda_flash_forward(out, probs, q, k, v, s);
        return;
    }
    if (!G.Tk) { /* no keys: every output row is 0, an empty sum */
        size_t n = (size_t)G.B * G.Tq * G.H * G.hd;
        CHECK_CUDA(cudaMemsetAsync(out, 0, n * sizeof(float), cuda.stream));
        return;
    }
    size_t es = cuda.bf16 ? sizeof(__nv_bfloat16) : sizeof(float);
    size_t nq = (size_t)G.Z * G.M * G.hd, nkv = (size_t)G.Z * G.Tk * G.hd;
    size_t ns = (size_t)G.Z * G.M * G.Tkp, rows = (size_t)G.B * G.H * G.Tq;
    void *Qp, *Kp, *Vp, *Pd, *S, *Op;
    void **bufs[] = {&Qp, &Kp, &Vp, &Pd, &S, &Op};
    const size_t bytes[] = {nq * es, nkv * es, nkv * es, ns * es, ns * sizeof(float),
                            nq * sizeof(float)};
    carve(bufs, bytes, 6);
    /* Qp [Z, M, hd], Kp, Vp [Z, Tk, hd] */
    pack(Qp, q, G.q, G.g, G.H, G.hd);
    pack(Kp, k, G.kv, 1, G.H, G.hd);
    pack(Vp, v, G.kv, 1, G.H, G.hd);
    /* S [Z, M, Tkp] = scale * Q K^T */
    gemm_xyt((float *)S, G.Tkp, Qp, Kp, G.M, G.Tk, G.hd, 1.0f / sqrtf((float)G.hd), G.Z);
    /* probs [B, H, Tq, Tk] = softmax; Pd [Z, M, Tkp] = dropout(probs) */
    drop_t drop = drop_args(s->p_drop, s->seed, s->stream);
    if (cuda.bf16)
        softmax_kernel<<<row_blocks(rows), THREADS, 0, cuda.stream>>>(
            probs, (__nv_bfloat16 *)Pd, (const float *)S, G, drop);
    else
        softmax_kernel<<<row_blocks(rows), THREADS, 0, cuda.stream>>>(probs, (float *)Pd,
                                                                      (const float *)S, G, drop);
    CHECK_LAUNCH();
    /* Op [Z, M, hd] = Pd V, then out [B, Tq, H*hd] */
    gemm_py((float *)Op, Pd, G.Tkp, Vp, G.M, G.hd, G.Tk, G.Z);
    unpack(out, (const float *)Op, G.o, G.g, G.H, G.hd, 0);
}

void cuda_op_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                                const float *out, const float *probs, const float *q,
                                const float *k, const float *v, const attn_shape_t *s) {
    if (s->kv_group > 1)
        die("cuda: attention backward with kv_group %d (forward only)", s->kv_group);
    geom_t G = geometry(s);
    if (!G.B || !G.H || !G.Tq || !G.Tk || !G.hd) return;
    if (cuda_flash_applies(s)) {
        cuda_flash_backward(dq, dk, dv, dout, out, probs, q, k, v, s);
        return;
    }
    size_t es = cuda.bf16 ? sizeof(__nv_bfloat16) : sizeof(float);
    size_t nq = (size_t)G.Z * G.Tq * G.hd, nkv = (size_t)G.Z * G.Tk * G.hd;
    size_t ns = (size_t)G.Z * G.Tq * G.Tkp, rows = (size_t)G.B * G.H * G.Tq;
    void *Qp, *Kp, *Vp, *dOp, *Pd, *dS, *dP, *dQp, *dKVp;
    void **bufs[] = {&Qp, &Kp, &Vp, &dOp, &Pd, &dS, &dP, &dQp, &dKVp};
    const size_t bytes[] = {nq * es, nkv * es, nkv * es, nq * es, ns * es, ns * es,
                            ns * sizeof(float), nq * sizeof(float), nkv * sizeof(float)};
    carve(bufs, bytes, 9);
    pack(Qp, q, G.q, 1, G.H, G.hd);
    pack(Kp, k, G.kv, 1, G.H, G.hd);
    pack(Vp, v, G.kv, 1, G.H, G.hd);
    pack(dOp, dout, G.o, 1, G.H, G.hd);
    /* dP [Z, Tq, Tkp] = dO V^T; dS = softmax backward (dropout, scale) and
     * Pd = the dropped probabilities of the forward pass, both [Z, Tq, Tkp] */
    gemm_xyt((float *)dP, G.Tkp, dOp, Vp, G.Tq, G.Tk, G.hd, 1.0f, G.Z);
    drop_t drop = drop_args(s->p_drop, s->seed, s->stream);
    float scale = 1.0f / sqrtf((float)G.hd);
    if (cuda.bf16)
        softmax_backward_kernel<<<row_blocks(rows), THREADS, 0, cuda.stream>>>(
            (__nv_bfloat16 *)dS, (__nv_bfloat16 *)Pd, (const float *)dP, probs, rows, G.Tk,
            G.Tkp, scale, drop);
    else
        softmax_backward_kernel<<<row_blocks(rows), THREADS, 0, cuda.stream>>>(
            (float *)dS, (float *)Pd, (const float *)dP, probs, rows, G.Tk, G.Tkp, scale, drop);
    CHECK_LAUNCH();
    /* dv += Pd^T dO */
    gemm_ptx((float *)dKVp, Pd, G.Tkp, dOp, G.Tq, G.hd, G.Tk, G.Z);
    unpack(dv, (const float *)dKVp, G.kv, 1, G.H, G.hd, 1);
    /* dq += dS K; dk += dS^T Q */
    gemm_py((float *)dQp, dS, G.Tkp, Kp, G.Tq, G.hd, G.Tk, G.Z);
    unpack(dq, (const float *)dQp, G.q, 1, G.H, G.hd, 1);
    gemm_ptx((float *)dKVp, dS, G.Tkp, Qp, G.Tq, G.hd, G.Tk, G.Z);
    unpack(dk, (const float *)dKVp, G.kv, 1, G.H, G.hd, 1);
}
