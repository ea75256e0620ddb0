/* cuda_elementwise.cu - CUDA backend: elementwise ops, the deterministic
 * sum and sum of squares, exact GELU, and dropout whose mask is the CPU
 * backend's bit for bit (the same Philox4x32-10 words, cpu_dropout_at). */
#include <math.h>

#include "cuda_internal.h"
#include "philox.h"

#define THREADS 256

/* Grid-stride loop over [0, n). */
#define FOR_EACH(i, n)                                                               \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
         i += (size_t)gridDim.x * blockDim.x)

void cuda_op_zero(float *x, size_t n) {
    if (!n) return;
    CHECK_CUDA(cudaMemsetAsync(x, 0, n * sizeof(float), cuda.stream));
}

__global__ void add_inplace_kernel(float *y, const float *x, size_t n) {
    FOR_EACH(i, n) y[i] += x[i];
}

void cuda_op_add_inplace(float *y, const float *x, size_t n) {
    if (!n) return;
    add_inplace_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(y, x, n);
    CHECK_LAUNCH();
}

__global__ void add_kernel(float *out, const float *a, const float *b, size_t n) {
    FOR_EACH(i, n) out[i] = a[i] + b[i];
}

void cuda_op_add(float *out, const float *a, const float *b, size_t n) {
    if (!n) return;
    add_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(out, a, b, n);
    CHECK_LAUNCH();
}

__global__ void scale_kernel(float *x, float s, size_t n) {
    FOR_EACH(i, n) x[i] *= s;
}

void cuda_op_scale(float *x, float s, size_t n) {
    if (!n) return;
    scale_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(x, s, n);
    CHECK_LAUNCH();
}

/* ---- deterministic reductions ------------------------------------------ */

/* A fixed number of parts (independent of the device), each summed in
 * double by one block in a fixed order, then the parts added in order by
 * one block: the same bits on every run, and as close to the CPU backend's
 * double sum as fp64 allows. */
#define RED_PARTS 1024
#define RED_THREADS 256

/* Sum of the block's values in a fixed tree order; every thread gets it. */
__device__ double block_sum(double v, double *shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    double total = shared[0];
    __syncthreads();
    return total;
}

/* part[p] = sum over x[i] (squared when `square`) for i in part p's range. */
__global__ void reduce_parts_kernel(double *part, const float *x, size_t n, int square) {
    __shared__ double shared[RED_THREADS];
    size_t lo = n * blockIdx.x / RED_PARTS, hi = n * (blockIdx.x + 1) / RED_PARTS;
    double s = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += RED_THREADS) {
        double xi = x[i];
        s += square ? xi * xi : xi;
    }
    s = block_sum(s, shared);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void reduce_final_kernel(float *out, const double *part) {
    __shared__ double shared[RED_THREADS];
    double s = 0.0;
    for (int p = threadIdx.x; p < RED_PARTS; p += RED_THREADS) s += part[p];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) *out = (float)s;
}

static void reduce(float *out, const float *x, size_t n, int square) {
    double *part = (double *)cuda_scratch(CUDA_SCRATCH_D, RED_PARTS * sizeof(double));
    reduce_parts_kernel<<<RED_PARTS, RED_THREADS, 0, cuda.stream>>>(part, x, n, square);
    CHECK_LAUNCH();
    reduce_final_kernel<<<1, RED_THREADS, 0, cuda.stream>>>(out, part);
    CHECK_LAUNCH();
}

void cuda_op_sumsq(float *out, const float *x, size_t n) { reduce(out, x, n, 1); }
void cuda_op_sum(float *out, const float *x, size_t n) { reduce(out, x, n, 0); }

/* ---- GELU ------------------------------------------------------------- */

/* out = x * 0.5 * (1 + erf(x / sqrt 2)), evaluated like cpu_op_gelu. */
__global__ void gelu_kernel(float *out, const float *inp, size_t n) {
    FOR_EACH(i, n) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
    }
}

void cuda_op_gelu(float *out, const float *inp, size_t n) {
    if (!n) return;
    gelu_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(out, inp, n);
    CHECK_LAUNCH();
}

/* dinp += dout * (Phi(x) + x * phi(x)). */
__global__ void gelu_backward_kernel(float *dinp, const float *inp, const float *dout, size_t n) {
    const float inv_sqrt_2pi = 0.3989422804014327f;
    FOR_EACH(i, n) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void cuda_op_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    if (!n) return;
    gelu_backward_kernel<<<cuda_blocks(n, THREADS), THREADS, 0, cuda.stream>>>(dinp, inp, dout, n);
    CHECK_LAUNCH();
}

/* ---- dropout ---------------------------------------------------------- */

/* Element e keeps when word e % 4 of Philox block e / 4 (counter: block
 * index low, high, stream low, high; key: seed low, high) is >= thresh.
 * One thread per block of four elements. */
__global__ void dropout_kernel(float *x, size_t n, uint32_t thresh, float scale, uint32_t key0,
                               uint32_t key1, uint64_t stream) {
    const uint32_t key[2] = {key0, key1};
    size_t nblk = (n + 3) / 4;
    FOR_EACH(blk, nblk) {
        uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)((uint64_t)blk >> 32), (uint32_t)stream,
                           (uint32_t)(stream >> 32)};
        uint32_t w[4];
        philox4x32_10(key, ctr, w);
        for (int k = 0; k < 4; k++) {
            size_t e = blk * 4 + k;
            if (e < n) x[e] = w[k] >= thresh ? x[e] * scale : 0.0f;
        }
    }
}

/* Threshold and scale computed on the host exactly as cpu_dropout_at does. */
static void dropout(float *x, size_t n, float p, uint64_t seed, uint64_t stream) {
    if (p <= 0.0f || !n) return;
    uint32_t thresh = (uint32_t)fmin((double)p * 4294967296.0, 4294967295.0);
    float scale = 1.0f / (1.0f - p);
    dropout_kernel<<<cuda_blocks((n + 3) / 4, THREADS), THREADS, 0, cuda.stream>>>(
        x, n, thresh, scale, (uint32_t)seed, (uint32_t)(seed >> 32), stream);
    CHECK_LAUNCH();
}

void cuda_op_dropout(float *x, size_t n, float p, uint64_t seed, uint64_t stream) {
    dropout(x, n, p, seed, stream);
}

void cuda_op_dropout_backward(float *dx, size_t n, float p, uint64_t seed, uint64_t stream) {
    dropout(dx, n, p, seed, stream);
}
