/* cuda_flash.cu - CUDA backend: fused multi-head attention for precision
 * bf16 (FlashAttention-2 style): scores and probabilities live only in
 * registers, one tile of keys at a time, with an online softmax; the state
 * kept for backward is one log-sum-exp per query row. Products run on the
 * tensor cores (cuda_mma.cuh) with bf16 operands, converted from the fp32
 * buffers while tiles are staged in shared memory, and fp32 accumulation.
 *
 * Semantics as kernels/cpu/cpu_attention.c (ops_list.h): strides and batch
 * strides, kv_group (forward), causal with the queries the last Tq of Tk
 * positions, key_mask, hidden keys with probability exactly 0 (a row with
 * none visible gives 0), attention dropout on the probabilities that
 * multiply v, element ((b*H + h)*Tq + i)*Tk + j of the Philox sequence.
 *
 * Kernels (HD = head size 16, 32 or 64; 4 warps per block):
 *   flash_fwd     grid (ceil(Tq/64), B*H): warp w owns 16 query rows, loops
 *                 over key tiles of 64: S = Q K^T, online softmax, O += P V.
 *   flash_rowdot  D[b, h, i] = sum_d dO * O, one warp per row (FA2's
 *                 row sum of P * dP, which dropout leaves unchanged).
 *   flash_bwd_dq  grid (ceil(Tq/64), B*H): recomputes P and dP per key tile,
 *                 dQ += dS K.
 *   flash_bwd_dkv grid (ceil(Tk/64), B*H): warp w owns 16 keys, loops over
 *                 query tiles of 32: dV += Pd^T dO, dK += dS^T Q.
 * dQ and dK/dV come from separate passes, so every gradient element has one
 * owner and is added once, in fixed order (no atomics: deterministic).
 *
 * Shared tiles hold bf16 pairs as 32-bit words, rows padded by 4 words so
 * the 8 rows a fragment load touches fall in different banks. Row-major
 * tiles [rows][HD/2 + 4] (pairs along the head dimension) feed fragments
 * whose k index is the head dimension; transposed tiles [HD][rows/2 + 4]
 * (pairs along the rows) feed those whose k index runs over rows. */
#include "cuda_attn.cuh"
#include "cuda_mma.cuh"

#define FL_WARPS 4
#define FL_THREADS (FL_WARPS * 32)
#define FL_ROWS 64  /* query rows per forward / dq block, keys per dkv block */
#define FL_KEYS 64  /* keys per tile in forward / dq */
#define FL_QB 32    /* queries per tile in dkv */
#define PADW 4      /* padding words per shared row */

/* One call's geometry for the kernels (batch strides resolved). */
typedef struct {
    const float *q, *k, *v;
    int H, Tq, Tk, g, causal;
    int q_stride, kv_stride, o_stride; /* o_stride: H*hd */
    size_t q_bstride, kv_bstride;
    const int32_t *key_mask;
    float scale, scale_log2; /* 1/sqrt(hd) and log2(e)/sqrt(hd) */
    drop_t drop;
} fl_t;

static fl_t fl_args(const float *q, const float *k, const float *v, const attn_shape_t *s) {
    fl_t a;
    a.q = q, a.k = k, a.v = v;
    a.H = s->H, a.Tq = s->Tq, a.Tk = s->Tk, a.g = s->kv_group > 1 ? s->kv_group : 1;
    a.causal = s->causal;
    a.q_stride = s->q_stride, a.kv_stride = s->kv_stride, a.o_stride = s->H * s->hd;
    a.q_bstride = s->q_bstride ? s->q_bstride : (size_t)s->Tq * s->q_stride;
    a.kv_bstride = s->kv_bstride ? s->kv_bstride : (size_t)s->Tk * s->kv_stride;
    a.key_mask = s->key_mask;
    a.scale = 1.0f / sqrtf((float)s->hd);
    a.scale_log2 = a.scale * 1.4426950408889634f;
    a.drop = drop_args(s->p_drop, s->seed, s->stream);
    return a;
}

int cuda_flash_applies(const attn_shape_t *s) {
    return cuda.bf16 && (s->hd == 16 || s->hd == 32 || s->hd == 64);
}

/* The (batch, head) blockIdx.y of a kernel: its rows of q, k, v (key/value
 * batch b / g) and dout, and its first row in [B, H, Tq]. */
typedef struct {
    int b, h;
    const float *q, *k, *v, *dout;
    size_t row0;
} fl_bh_t;

static __device__ inline fl_bh_t fl_bh(const fl_t *a, const float *dout, int hd) {
    fl_bh_t v;
    v.b = blockIdx.y / a->H, v.h = blockIdx.y % a->H;
    size_t kvoff = (size_t)(v.b / a->g) * a->kv_bstride + (size_t)v.h * hd;
    v.q = a->q + (size_t)v.b * a->q_bstride + (size_t)v.h * hd;
    v.k = a->k + kvoff, v.v = a->v + kvoff;
    v.dout = dout ? dout + (size_t)v.b * a->Tq * a->o_stride + (size_t)v.h * hd : NULL;
    v.row0 = ((size_t)v.b * a->H + v.h) * a->Tq;
    return v;
}

/* Whether query i of batch b sees key j (i < Tq, j < Tk checked too). */
static __device__ inline bool fl_visible(const fl_t *a, int b, int i, int j) {
    if (i >= a->Tq || j >= a->Tk) return false;
    if (a->causal && j > i + a->Tk - a->Tq) return false;
    return !a->key_mask || a->key_mask[(size_t)b * a->Tk + j] != 0;
}

/* Keys [0, end) can be visible to queries [0, last] (causal bound). */
static __device__ inline int fl_key_end(const fl_t *a, int last) {
    if (!a->causal) return a->Tk;
    int e = last + a->Tk - a->Tq + 1;
    return e < a->Tk ? (e > 0 ? e : 0) : a->Tk;
}

/* ---- staging fp32 rows into bf16 tiles --------------------------------- */

/* Row-major tile: dst[r][w] = rows r0 + r of src (row stride ld), columns
 * 2w, 2w+1; rows at or past n are 0. */
template <int HD, int ROWS>
static __device__ inline void stage_rows(uint32_t (*dst)[HD / 2 + PADW], const float *src,
                                         int ld, int r0, int n) {
    for (int x = threadIdx.x; x < ROWS * HD / 2; x += FL_THREADS) {
        int r = x / (HD / 2), w = x % (HD / 2);
        const float *p = src + (size_t)(r0 + r) * ld + 2 * w;
        dst[r][w] = r0 + r < n ? pack_bf16x2(p[0], p[1]) : 0u;
    }
}

/* Transposed tile: dst[d][w] = column d of rows r0 + 2w, r0 + 2w + 1. */
template <int HD, int ROWS>
static __device__ inline void stage_cols(uint32_t (*dst)[ROWS / 2 + PADW], const float *src,
                                         int ld, int r0, int n) {
    for (int x = threadIdx.x; x < ROWS / 2 * HD; x += FL_THREADS) {
        int d = x % HD, w = x / HD, r = r0 + 2 * w;
        float lo = r < n ? src[(size_t)r * ld + d] : 0.0f;
        float hi = r + 1 < n ? src[(size_t)(r + 1) * ld + d] : 0.0f;
        dst[d][w] = pack_bf16x2(lo, hi);
    }
}

/* ---- fragments ----------------------------------------------------------- */

/* A fragments of the warp's 16 rows r0.. of a row-major tile, one per
 * 16 columns: a[c] covers columns 16c..16c+15. */
template <int HD>
static __device__ inline void load_a(uint32_t a[][4], const uint32_t (*t)[HD / 2 + PADW], int r0) {
    int g = threadIdx.x % 32 / 4, u = threadIdx.x % 4;
    UNROLL
    for (int c = 0; c < HD / 16; c++) {
        a[c][0] = t[r0 + g][c * 8 + u];
        a[c][1] = t[r0 + g + 8][c * 8 + u];
        a[c][2] = t[r0 + g][c * 8 + 4 + u];
        a[c][3] = t[r0 + g + 8][c * 8 + 4 + u];
    }
}

/* A fragments x, y of the warp's 16 rows of two [rows, HD] sources (rows
 * r0.. of x_src / y_src, n of them), both staged through one shared tile. */
template <int HD>
static __device__ inline void load_a2(uint32_t x[][4], uint32_t y[][4],
                                      uint32_t (*tile)[HD / 2 + PADW], const float *x_src,
                                      int x_ld, const float *y_src, int y_ld, int r0, int n) {
    int warp = threadIdx.x / 32;
    stage_rows<HD, FL_ROWS>(tile, x_src, x_ld, r0, n);
    __syncthreads();
    load_a<HD>(x, tile, warp * 16);
    __syncthreads();
    stage_rows<HD, FL_ROWS>(tile, y_src, y_ld, r0, n);
    __syncthreads();
    load_a<HD>(y, tile, warp * 16);
}

/* B fragment for k index = columns 16c.., n index = rows n0..n0+7 of a
 * tile of pairs along k (row-major tile: B[k][n] = tile row n, column k;
 * transposed tile: B[k][n] = source row k, column n). */
template <int W>
static __device__ inline void load_b(uint32_t b[2], const uint32_t (*t)[W], int n0, int c) {
    int g = threadIdx.x % 32 / 4, u = threadIdx.x % 4;
    b[0] = t[n0 + g][c * 8 + u];
    b[1] = t[n0 + g][c * 8 + 4 + u];
}

/* s += a1 B1 and p += a2 B2 over the N / 8 column tiles of t1 and t2 (B
 * fragments as load_b reads them): the two products the backward passes
 * form side by side (S and dP). */
template <int HD, int N, int W>
static __device__ inline void mma_pair(float s[N / 8][4], float p[N / 8][4], const uint32_t a1[HD / 16][4],
                                       const uint32_t a2[HD / 16][4], const uint32_t (*t1)[W],
                                       const uint32_t (*t2)[W]) {
    UNROLL
    for (int n = 0; n < N / 8; n++)
        UNROLL
        for (int c = 0; c < HD / 16; c++) {
            uint32_t b1[2], b2[2];
            load_b(b1, t1, n * 8, c);
            load_b(b2, t2, n * 8, c);
            mma_bf16_16816(s[n], a1[c], b1);
            mma_bf16_16816(p[n], a2[c], b2);
        }
}

/* Accumulator tiles acc[2c], acc[2c+1] (columns 16c..16c+15) as an A
 * fragment (see cuda_mma.cuh). */
static __device__ inline void acc_to_a(uint32_t a[4], const float (*acc)[4], int c) {
    a[0] = pack_bf16x2(acc[2 * c][0], acc[2 * c][1]);
    a[1] = pack_bf16x2(acc[2 * c][2], acc[2 * c][3]);
    a[2] = pack_bf16x2(acc[2 * c + 1][0], acc[2 * c + 1][1]);
    a[3] = pack_bf16x2(acc[2 * c + 1][2], acc[2 * c + 1][3]);
}

/* acc [16, HD] += S [16, N] T: S an accumulator (as acc_to_a packs it), T's
 * B fragments as load_b reads them (o += P V, dQ += dS K). */
template <int HD, int N, int W>
static __device__ inline void mma_acc_tile(float acc[HD / 8][4], const float s[N / 8][4], const uint32_t (*t)[W]) {
    UNROLL
    for (int c = 0; c < N / 16; c++) {
        uint32_t sa[4];
        acc_to_a(sa, s, c);
        UNROLL
        for (int n = 0; n < HD / 8; n++) {
            uint32_t tb[2];
            load_b(tb, t, n * 8, c);
            mma_bf16_16816(acc[n], sa, tb);
        }
    }
}

/* Sum over the 4 lanes of a fragment row group (fixed order). */
static __device__ inline float quad_sum(float x) {
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

static __device__ inline float quad_max(float x) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

/* ---- forward --------------------------------------------------------------- */

/* out [B, Tq, H*hd] and lse [B, H, Tq] for query rows blockIdx.x*64.. of
 * (b, h) = blockIdx.y. Element (r, c) of accumulator n-tile n of a warp is
 * row i = i0 + g + 8*(r/2)... written out below as row(q) / col(n, q). */
template <int HD>
__global__ void flash_fwd(float *out, float *lse, fl_t a) {
    __shared__ uint32_t sQ[FL_ROWS][HD / 2 + PADW], sK[FL_KEYS][HD / 2 + PADW];
    __shared__ uint32_t sVt[HD][FL_KEYS / 2 + PADW];
    fl_bh_t w = fl_bh(&a, NULL, HD);
    int b = w.b, h = w.h, warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, u = threadIdx.x % 4;
    int q0 = blockIdx.x * FL_ROWS, i0 = q0 + warp * 16;
    const float *qp = w.q, *kp = w.k, *vp = w.v;
    size_t row0 = w.row0; /* [B, H, Tq] row of query 0 */

    stage_rows<HD, FL_ROWS>(sQ, qp, a.q_stride, q0, a.Tq);
    __syncthreads();
    uint32_t qa[HD / 16][4];
    load_a<HD>(qa, sQ, warp * 16);

    float o[HD / 8][4] = {}, m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    int last = q0 + FL_ROWS - 1 < a.Tq - 1 ? q0 + FL_ROWS - 1 : a.Tq - 1;
    int kend = fl_key_end(&a, last);
    for (int k0 = 0; k0 < kend; k0 += FL_KEYS) {
        __syncthreads(); /* the previous tile is used up */
        stage_rows<HD, FL_KEYS>(sK, kp, a.kv_stride, k0, a.Tk);
        stage_cols<HD, FL_KEYS>(sVt, vp, a.kv_stride, k0, a.Tk);
        __syncthreads();
        /* S [16, 64] = Q K^T, then scaled (base 2) with hidden keys -inf */
        float s[FL_KEYS / 8][4] = {};
        UNROLL
        for (int n = 0; n < FL_KEYS / 8; n++)
            UNROLL
            for (int c = 0; c < HD / 16; c++) {
                uint32_t kb[2];
                load_b(kb, sK, n * 8, c);
                mma_bf16_16816(s[n], qa[c], kb);
            }
        float mx[2] = {m[0], m[1]};
        UNROLL
        for (int n = 0; n < FL_KEYS / 8; n++)
            UNROLL
            for (int e = 0; e < 4; e++) {
                int i = i0 + g + 8 * (e / 2), j = k0 + n * 8 + 2 * u + e % 2;
                s[n][e] = fl_visible(&a, b, i, j) ? s[n][e] * a.scale_log2 : -INFINITY;
                mx[e / 2] = fmaxf(mx[e / 2], s[n][e]);
            }
        float alpha[2];
        UNROLL
        for (int r = 0; r < 2; r++) {
            mx[r] = quad_max(mx[r]);
            alpha[r] = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mx[r]);
            m[r] = mx[r];
            l[r] *= alpha[r];
        }
        /* P = exp2(S - m) (undropped into l), dropped into s for P V */
        UNROLL
        for (int n = 0; n < FL_KEYS / 8; n++)
            UNROLL
            for (int e = 0; e < 4; e++) {
                int i = i0 + g + 8 * (e / 2), j = k0 + n * 8 + 2 * u + e % 2;
                float p = s[n][e] == -INFINITY ? 0.0f : exp2f(s[n][e] - m[e / 2]);
                l[e / 2] += p;
                s[n][e] = drop_apply(a.drop, a.drop.on && kept(a.drop, (row0 + i) * a.Tk + j), p);
            }
        UNROLL
        for (int n = 0; n < HD / 8; n++)
            UNROLL
            for (int e = 0; e < 4; e++) o[n][e] *= alpha[e / 2];
        mma_acc_tile<HD, FL_KEYS>(o, s, sVt);
    }
    float inv[2];
    UNROLL
    for (int r = 0; r < 2; r++) {
        l[r] = quad_sum(l[r]);
        inv[r] = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    }
    UNROLL
    for (int r = 0; r < 2; r++) {
        int i = i0 + g + 8 * r;
        if (i >= a.Tq) continue;
        float *op = out + ((size_t)b * a.Tq + i) * a.o_stride + (size_t)h * HD;
        UNROLL
        for (int n = 0; n < HD / 8; n++) {
            op[n * 8 + 2 * u] = o[n][2 * r] * inv[r];
            op[n * 8 + 2 * u + 1] = o[n][2 * r + 1] * inv[r];
        }
        if (u == 0) lse[row0 + i] = l[r] > 0.0f ? m[r] + log2f(l[r]) : 0.0f;
    }
}

/* ---- backward ---------------------------------------------------------------- */

/* D[row] = sum_d dout * out over one head row, row = (b*H + h)*Tq + i; one
 * warp per row. */
__global__ void flash_rowdot(float *D, const float *dout, const float *out, int B, int H, int Tq,
                             int hd) {
    size_t row = (size_t)blockIdx.x * FL_WARPS + threadIdx.x / 32;
    if (row >= (size_t)B * H * Tq) return;
    int i = (int)(row % Tq), h = (int)(row / Tq % H);
    size_t b = row / Tq / H, off = (b * Tq + i) * H * hd + (size_t)h * hd;
    float x = 0.0f;
    for (int d = threadIdx.x % 32; d < hd; d += 32) x += dout[off + d] * out[off + d];
    for (int o = 16; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
    if (threadIdx.x % 32 == 0) D[row] = x;
}

/* One element's score gradient ds = P * (dropout(dPd) - D) * scale and
 * dropped probability pd, from the raw score s, the gradient dpd of the
 * dropped probability and the row's lse and D. */
typedef struct {
    float ds, pd;
} fl_grad_t;

static __device__ inline fl_grad_t fl_ds(const fl_t *a, bool vis, size_t e, float s, float dpd,
                                         float lse, float D) {
    float p = vis ? exp2f(s * a->scale_log2 - lse) : 0.0f;
    bool keep = !a->drop.on || kept(a->drop, e);
    fl_grad_t r = {p * (drop_apply(a->drop, keep, dpd) - D) * a->scale,
                   drop_apply(a->drop, keep, p)};
    return r;
}

/* dq += dS K for query rows blockIdx.x*64.. of (b, h) = blockIdx.y. */
template <int HD>
__global__ void flash_bwd_dq(float *dq, const float *dout, const float *lse, const float *D,
                             fl_t a) {
    __shared__ uint32_t sX[FL_ROWS][HD / 2 + PADW]; /* Q, then dO */
    __shared__ uint32_t sK[FL_KEYS][HD / 2 + PADW], sV[FL_KEYS][HD / 2 + PADW];
    __shared__ uint32_t sKt[HD][FL_KEYS / 2 + PADW];
    fl_bh_t w = fl_bh(&a, dout, HD);
    int b = w.b, h = w.h, warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, u = threadIdx.x % 4;
    int q0 = blockIdx.x * FL_ROWS, i0 = q0 + warp * 16;
    size_t row0 = w.row0;
    uint32_t qa[HD / 16][4], da[HD / 16][4];
    load_a2<HD>(qa, da, sX, w.q, a.q_stride, w.dout, a.o_stride, q0, a.Tq);
    float rl[2], rd[2]; /* lse and D of rows g, g+8 */
    UNROLL
    for (int r = 0; r < 2; r++) {
        int i = i0 + g + 8 * r;
        rl[r] = i < a.Tq ? lse[row0 + i] : 0.0f;
        rd[r] = i < a.Tq ? D[row0 + i] : 0.0f;
    }

    float acc[HD / 8][4] = {};
    int last = q0 + FL_ROWS - 1 < a.Tq - 1 ? q0 + FL_ROWS - 1 : a.Tq - 1;
    int kend = fl_key_end(&a, last);
    for (int k0 = 0; k0 < kend; k0 += FL_KEYS) {
        __syncthreads();
        stage_rows<HD, FL_KEYS>(sK, w.k, a.kv_stride, k0, a.Tk);
        stage_rows<HD, FL_KEYS>(sV, w.v, a.kv_stride, k0, a.Tk);
        stage_cols<HD, FL_KEYS>(sKt, w.k, a.kv_stride, k0, a.Tk);
        __syncthreads();
        /* S = Q K^T and dPd = dO V^T, [16, 64] each */
        float s[FL_KEYS / 8][4] = {}, dp[FL_KEYS / 8][4] = {};
        mma_pair<HD, FL_KEYS>(s, dp, qa, da, sK, sV);
        UNROLL
        for (int n = 0; n < FL_KEYS / 8; n++)
            UNROLL
            for (int e = 0; e < 4; e++) {
                int i = i0 + g + 8 * (e / 2), j = k0 + n * 8 + 2 * u + e % 2;
                s[n][e] = fl_ds(&a, fl_visible(&a, b, i, j), (row0 + i) * a.Tk + j, s[n][e],
                                dp[n][e], rl[e / 2], rd[e / 2]).ds;
            }
        mma_acc_tile<HD, FL_KEYS>(acc, s, sKt); /* dQ [16, HD] += dS [16, 64] K [64, HD] */
    }
    UNROLL
    for (int r = 0; r < 2; r++) {
        int i = i0 + g + 8 * r;
        if (i >= a.Tq) continue;
        float *p = dq + (size_t)b * a.q_bstride + (size_t)i * a.q_stride + (size_t)h * HD;
        UNROLL
        for (int n = 0; n < HD / 8; n++) {
            p[n * 8 + 2 * u] += acc[n][2 * r];
            p[n * 8 + 2 * u + 1] += acc[n][2 * r + 1];
        }
    }
}

/* dk += dS^T Q, dv += Pd^T dO for keys blockIdx.x*64.. of (b, h) =
 * blockIdx.y; the warp's accumulators are transposed: rows are keys. */
template <int HD>
__global__ void flash_bwd_dkv(float *dk, float *dv, const float *dout, const float *lse,
                              const float *D, fl_t a) {
    __shared__ uint32_t sQ[FL_QB][HD / 2 + PADW], sO[FL_QB][HD / 2 + PADW];
    __shared__ uint32_t sQt[HD][FL_QB / 2 + PADW], sOt[HD][FL_QB / 2 + PADW];
    __shared__ uint32_t sX[FL_ROWS][HD / 2 + PADW]; /* K, then V */
    __shared__ float sL[FL_QB], sD[FL_QB];
    fl_bh_t w = fl_bh(&a, dout, HD);
    int b = w.b, h = w.h, warp = threadIdx.x / 32, g = threadIdx.x % 32 / 4, u = threadIdx.x % 4;
    int k0 = blockIdx.x * FL_ROWS, j0 = k0 + warp * 16;
    const float *qp = w.q, *dop = w.dout;
    size_t row0 = w.row0;
    uint32_t ka[HD / 16][4], va[HD / 16][4];
    load_a2<HD>(ka, va, sX, w.k, a.kv_stride, w.v, a.kv_stride, k0, a.Tk);

    float dka[HD / 8][4] = {}, dva[HD / 8][4] = {};
    /* causal: query i sees key k0 only when i >= k0 - (Tk - Tq) */
    int first = a.causal ? k0 - (a.Tk - a.Tq) : 0;
    first = first > 0 ? first / FL_QB * FL_QB : 0;
    for (int qs = first; qs < a.Tq; qs += FL_QB) {
        __syncthreads();
        stage_rows<HD, FL_QB>(sQ, qp, a.q_stride, qs, a.Tq);
        stage_rows<HD, FL_QB>(sO, dop, a.o_stride, qs, a.Tq);
        stage_cols<HD, FL_QB>(sQt, qp, a.q_stride, qs, a.Tq);
        stage_cols<HD, FL_QB>(sOt, dop, a.o_stride, qs, a.Tq);
        for (int x = threadIdx.x; x < FL_QB; x += FL_THREADS) {
            sL[x] = qs + x < a.Tq ? lse[row0 + qs + x] : 0.0f;
            sD[x] = qs + x < a.Tq ? D[row0 + qs + x] : 0.0f;
        }
        __syncthreads();
        /* S^T = K Q^T and dPd^T = V dO^T, [16 keys, 32 queries] each */
        float s[FL_QB / 8][4] = {}, dp[FL_QB / 8][4] = {};
        mma_pair<HD, FL_QB>(s, dp, ka, va, sQ, sO);
        float pd[FL_QB / 8][4];
        UNROLL
        for (int n = 0; n < FL_QB / 8; n++)
            UNROLL
            for (int e = 0; e < 4; e++) {
                int j = j0 + g + 8 * (e / 2), x = n * 8 + 2 * u + e % 2, i = qs + x;
                fl_grad_t r = fl_ds(&a, fl_visible(&a, b, i, j), (row0 + i) * a.Tk + j,
                                    s[n][e], dp[n][e], sL[x], sD[x]);
                s[n][e] = r.ds, pd[n][e] = r.pd;
            }
        /* dV [16, HD] += Pd^T [16, 32] dO [32, HD]; dK += dS^T Q */
        UNROLL
        for (int c = 0; c < FL_QB / 16; c++) {
            uint32_t pa[4], sa[4];
            acc_to_a(pa, pd, c);
            acc_to_a(sa, s, c);
            UNROLL
            for (int n = 0; n < HD / 8; n++) {
                uint32_t ob[2], qb[2];
                load_b(ob, sOt, n * 8, c);
                load_b(qb, sQt, n * 8, c);
                mma_bf16_16816(dva[n], pa, ob);
                mma_bf16_16816(dka[n], sa, qb);
            }
        }
    }
    UNROLL
    for (int r = 0; r < 2; r++) {
        int j = j0 + g + 8 * r;
        if (j >= a.Tk) continue;
        size_t off = (size_t)b * a.kv_bstride + (size_t)j * a.kv_stride + (size_t)h * HD;
        UNROLL
        for (int n = 0; n < HD / 8; n++)
            UNROLL
            for (int c = 0; c < 2; c++) {
                dk[off + n * 8 + 2 * u + c] += dka[n][2 * r + c];
                dv[off + n * 8 + 2 * u + c] += dva[n][2 * r + c];
            }
    }
}

/* ---- launches ------------------------------------------------------------------ */

static dim3 fl_grid(int rows, const attn_shape_t *s) {
    return dim3((unsigned)((rows + FL_ROWS - 1) / FL_ROWS), (unsigned)(s->B * s->H));
}

template <int HD>
static void forward_hd(float *out, float *lse, const fl_t *a, const attn_shape_t *s) {
    flash_fwd<HD><<<fl_grid(s->Tq, s), FL_THREADS, 0, cuda.stream>>>(out, lse, *a);
    CHECK_LAUNCH();
}

template <int HD>
static void backward_hd(float *dq, float *dk, float *dv, const float *dout, const float *lse,
                        const float *D, const fl_t *a, const attn_shape_t *s) {
    flash_bwd_dq<HD><<<fl_grid(s->Tq, s), FL_THREADS, 0, cuda.stream>>>(dq, dout, lse, D, *a);
    CHECK_LAUNCH();
    flash_bwd_dkv<HD><<<fl_grid(s->Tk, s), FL_THREADS, 0, cuda.stream>>>(dk, dv, dout, lse, D, *a);
    CHECK_LAUNCH();
}

void cuda_flash_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                        const attn_shape_t *s) {
    fl_t a = fl_args(q, k, v, s);
    if (s->hd == 16) forward_hd<16>(out, lse, &a, s);
    else if (s->hd == 32) forward_hd<32>(out, lse, &a, s);
    else forward_hd<64>(out, lse, &a, s);
}

void cuda_flash_backward(float *dq, float *dk, float *dv, const float *dout, const float *out,
                         const float *lse, const float *q, const float *k, const float *v,
                         const attn_shape_t *s) {
    fl_t a = fl_args(q, k, v, s);
    size_t rows = (size_t)s->B * s->H * s->Tq;
    float *D = (float *)cuda_scratch(CUDA_SCRATCH_A, rows * sizeof(float));
    flash_rowdot<<<(unsigned)((rows + FL_WARPS - 1) / FL_WARPS), FL_THREADS, 0, cuda.stream>>>(
        D, dout, out, s->B, s->H, s->Tq, s->hd);
    CHECK_LAUNCH();
    if (s->hd == 16) backward_hd<16>(dq, dk, dv, dout, lse, D, &a, s);
    else if (s->hd == 32) backward_hd<32>(dq, dk, dv, dout, lse, D, &a, s);
    else backward_hd<64>(dq, dk, dv, dout, lse, D, &a, s);
}
