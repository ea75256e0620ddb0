/* cuda_layernorm.cu - CUDA backend: LayerNorm over the last dimension,
 * forward (saving mean and rstd) and backward, one warp per row with the
 * statistics in double and the per-element arithmetic in the CPU backend's
 * order (kernels/cpu/cpu_layernorm.c); the weight and bias gradients are
 * two-stage column sums in a fixed order, so results repeat bit for bit. */
#include "cuda_internal.h"

#define THREADS 256
#define ROWS_PER_BLOCK (THREADS / 32)

static __device__ inline double warp_sum(double v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static unsigned row_blocks(int N) { return (unsigned)((N + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK); }

/* out[N, C] = (inp - mean) * rstd * w + b; mean[N], rstd[N] saved. */
__global__ void layernorm_kernel(float *out, float *mean, float *rstd, const float *inp,
                                 const float *w, const float *b, int N, int C, float eps) {
    int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C;
    double s = 0.0;
    for (int c = lane; c < C; c += 32) s += x[c];
    double m = warp_sum(s) / C, v = 0.0;
    for (int c = lane; c < C; c += 32) v += (x[c] - m) * (x[c] - m);
    float r = (float)(1.0 / sqrt(warp_sum(v) / C + eps));
    float *y = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32)
        y[c] = __fadd_rn(__fmul_rn(__fmul_rn((float)(x[c] - m), r), w[c]), b[c]);
    if (lane == 0) {
        mean[row] = (float)m;
        rstd[row] = r;
    }
}

void cuda_op_layernorm(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps) {
    if (N <= 0) return;
    layernorm_kernel<<<row_blocks(N), THREADS, 0, cuda.stream>>>(out, mean, rstd, inp, w, b, N,
                                                                  C, eps);
    CHECK_LAUNCH();
}

/* dinp[N, C] += (dy*w - mean(dy*w) - xn * mean(dy*w * xn)) * rstd per row. */
__global__ void layernorm_dinp_kernel(float *dinp, const float *dout, const float *inp,
                                      const float *w, const float *mean, const float *rstd,
                                      int N, int C) {
    int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const float *x = inp + (size_t)row * C, *dy = dout + (size_t)row * C;
    float m = mean[row], r = rstd[row];
    double sd = 0.0, sdn = 0.0;
    for (int c = lane; c < C; c += 32) {
        float dn = __fmul_rn(dy[c], w[c]);
        sd += dn;
        sdn += __fmul_rn(dn, __fmul_rn(x[c] - m, r));
    }
    float md = (float)(warp_sum(sd) / C), mdn = (float)(warp_sum(sdn) / C);
    float *dx = dinp + (size_t)row * C;
    for (int c = lane; c < C; c += 32) {
        float xn = __fmul_rn(x[c] - m, r);
        float t = __fsub_rn(__fsub_rn(__fmul_rn(dy[c], w[c]), md), __fmul_rn(xn, mdn));
        dx[c] = __fadd_rn(dx[c], __fmul_rn(t, r));
    }
}

/* Stage 1 of dw, db: block (x, y) sums columns x*32.. over row chunk y, in
 * LN_LANES interleaved row lanes combined in lane order:
 * pw[chunk, C] = sum dy * xn, pb[chunk, C] = sum dy. */
#define LN_LANES 8
__global__ void layernorm_wb_parts_kernel(double *pw, double *pb, const float *dout,
                                          const float *inp, const float *mean, const float *rstd,
                                          int N, int C, int nchunk) {
    __shared__ double sw[LN_LANES][32], sb[LN_LANES][32];
    int tx = threadIdx.x, ty = threadIdx.y, c = blockIdx.x * 32 + tx, chunk = blockIdx.y;
    int lo = (int)((long)N * chunk / nchunk), hi = (int)((long)N * (chunk + 1) / nchunk);
    double aw = 0.0, ab = 0.0;
    if (c < C)
        for (int n = lo + ty; n < hi; n += LN_LANES) {
            float dy = dout[(size_t)n * C + c];
            float xn = __fmul_rn(inp[(size_t)n * C + c] - mean[n], rstd[n]);
            aw += __fmul_rn(dy, xn);
            ab += dy;
        }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && c < C) {
        for (int k = 1; k < LN_LANES; k++) {
            aw += sw[k][tx];
            ab += sb[k][tx];
        }
        pw[(size_t)chunk * C + c] = aw;
        pb[(size_t)chunk * C + c] = ab;
    }
}

/* Stage 2: dw[c] += sum over chunks in order (likewise db). */
__global__ void layernorm_wb_final_kernel(float *dw, float *db, const double *pw,
                                          const double *pb, int C, int nchunk) {
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += gridDim.x * blockDim.x) {
        double sw = dw[c], sb = db[c];
        for (int k = 0; k < nchunk; k++) {
            sw += pw[(size_t)k * C + c];
            sb += pb[(size_t)k * C + c];
        }
        dw[c] = (float)sw;
        db[c] = (float)sb;
    }
}

void cuda_op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                const float *inp, const float *w, const float *mean,
                                const float *rstd, int N, int C) {
    if (N <= 0 || C <= 0) return;
    layernorm_dinp_kernel<<<row_blocks(N), THREADS, 0, cuda.stream>>>(dinp, dout, inp, w, mean,
                                                                       rstd, N, C);
    CHECK_LAUNCH();
    /* Chunks of at least 64 rows, at most 256 of them: a function of N only. */
    int nchunk = (N + 63) / 64 < 256 ? (N + 63) / 64 : 256;
    double *pw = (double *)cuda_scratch(CUDA_SCRATCH_D, 2 * (size_t)nchunk * C * sizeof(double));
    double *pb = pw + (size_t)nchunk * C;
    dim3 grid((C + 31) / 32, nchunk), block(32, LN_LANES);
    layernorm_wb_parts_kernel<<<grid, block, 0, cuda.stream>>>(pw, pb, dout, inp, mean, rstd, N,
                                                                C, nchunk);
    CHECK_LAUNCH();
    layernorm_wb_final_kernel<<<cuda_blocks(C, THREADS), THREADS, 0, cuda.stream>>>(dw, db, pw,
                                                                                     pb, C, nchunk);
    CHECK_LAUNCH();
}
