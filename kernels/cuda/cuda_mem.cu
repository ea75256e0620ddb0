/* cuda_mem.cu - the CUDA backend's context and memory: cuda_open() picks the
 * GPU and sets up the one compute stream, the cuBLAS handle (TF32 off) and
 * the cuBLASLt handle with its workspace; device buffers (zeroed, counted
 * for the peak-memory report), copies, the grow-only scratch buffers, and
 * the backend table be_cuda that dispatch.c selects for "cuda[:N]". */
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"
#include "ops_cuda.h"

cuda_ctx_t cuda;

/* Live allocations and their sizes, for the in-use and peak byte counts. */
typedef struct {
    void *p;
    size_t bytes;
} live_t;
static live_t *live;
static size_t n_live, cap_live, bytes_in_use, bytes_peak;

static struct {
    void *p;
    size_t bytes;
} scratch[CUDA_SCRATCH_SLOTS];

static char description[384];

void cuda_open(const char *precision, int index) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) die("cuda: no usable GPU: %s", cudaGetErrorString(e));
    int dev = index < 0 ? 0 : index;
    if (dev >= count) die("cuda:%d: this machine has %d GPU%s", dev, count, count == 1 ? "" : "s");
    cuda.device = dev;
    cuda.bf16 = !strcmp(precision, "bf16");
    CHECK_CUDA(cudaSetDevice(dev));
    CHECK_CUDA(cudaStreamCreateWithFlags(&cuda.stream, cudaStreamNonBlocking));
    CHECK_CUDA(cudaDeviceGetAttribute(&cuda.num_sms, cudaDevAttrMultiProcessorCount, dev));
    CHECK_CUDA(cudaMalloc(&cuda.lt_workspace, CUDA_LT_WORKSPACE));
    /* Plain cuBLAS (batched attention GEMMs) shares the stream and the
     * workspace, so it never allocates behind our back. Its default math
     * mode keeps fp32 products in fp32: TF32 takes CUBLAS_TF32_TENSOR_OP_MATH
     * or a *_FAST_TF32 compute type, which this backend never uses. */
    CHECK_CUBLAS(cublasCreate(&cuda.blas));
    CHECK_CUBLAS(cublasSetStream(cuda.blas, cuda.stream));
    CHECK_CUBLAS(cublasSetWorkspace(cuda.blas, cuda.lt_workspace, CUDA_LT_WORKSPACE));
    CHECK_CUBLAS(cublasSetMathMode(cuda.blas, CUBLAS_DEFAULT_MATH));
    CHECK_CUBLAS(cublasLtCreate(&cuda.lt));

    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, dev));
    snprintf(description, sizeof description, "cuda: %s (device %d, %d SMs, %.1f GiB), %s",
             prop.name, dev, cuda.num_sms, (double)prop.totalGlobalMem / (1 << 30), precision);
}

const char *cuda_describe(void) { return description; }

/* For C code outside the backend (ops_cuda.h): the stream NCCL orders its
 * collectives against, and the most device memory held at once. */
cudaStream_t be_cuda_stream(void) { return cuda.stream; }

size_t be_cuda_peak_bytes(void) { return bytes_peak; }

/* New buffers are zero (ops.h); the memset finishes before the pointer is
 * handed out, so host code may upload into it from any thread. */
void *cuda_alloc(size_t bytes) {
    void *p;
    size_t rounded = bytes ? bytes : 1;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess)
        die("cuda: out of device memory allocating %zu bytes (%zu in use): %s", bytes, bytes_in_use,
            cudaGetErrorString(e));
    CHECK_CUDA(cudaMemsetAsync(p, 0, rounded, cuda.stream));
    CHECK_CUDA(cudaStreamSynchronize(cuda.stream));
    if (n_live == cap_live) {
        cap_live = cap_live ? 2 * cap_live : 64;
        live = (live_t *)xrealloc(live, cap_live * sizeof *live);
    }
    live[n_live].p = p;
    live[n_live++].bytes = rounded;
    bytes_in_use += rounded;
    if (bytes_in_use > bytes_peak) bytes_peak = bytes_in_use;
    return p;
}

/* Waits for the stream first: no queued op may still use the buffer. */
void cuda_be_free(void *dev) {
    if (!dev) return;
    for (size_t i = 0; i < n_live; i++)
        if (live[i].p == dev) {
            bytes_in_use -= live[i].bytes;
            live[i] = live[--n_live];
            CHECK_CUDA(cudaStreamSynchronize(cuda.stream));
            CHECK_CUDA(cudaFree(dev));
            return;
        }
    die("cuda: be_free of %p, which be_alloc did not return", dev);
}

void *cuda_scratch(int slot, size_t bytes) {
    if (bytes > scratch[slot].bytes) {
        cuda_be_free(scratch[slot].p);
        scratch[slot].p = cuda_alloc(bytes);
        scratch[slot].bytes = bytes;
    }
    return scratch[slot].p;
}

/* Both directions wait for the copy: the host buffer may be reused or read
 * as soon as the call returns. Uploads also come from OpenMP worker threads
 * (blip_model_init), whose current device is not set: set it. */
void cuda_be_upload(void *dev, const void *host, size_t bytes) {
    if (!bytes) return;
    CHECK_CUDA(cudaSetDevice(cuda.device));
    CHECK_CUDA(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, cuda.stream));
    CHECK_CUDA(cudaStreamSynchronize(cuda.stream));
}

void cuda_be_download(void *host, const void *dev, size_t bytes) {
    if (!bytes) return;
    CHECK_CUDA(cudaSetDevice(cuda.device));
    CHECK_CUDA(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, cuda.stream));
    CHECK_CUDA(cudaStreamSynchronize(cuda.stream));
}

/* memmove semantics like the CPU backend: overlapping ranges go through a
 * scratch buffer, since cudaMemcpy leaves overlap undefined. */
void cuda_be_copy(void *dst_dev, const void *src_dev, size_t bytes) {
    const char *d = (const char *)dst_dev, *s = (const char *)src_dev;
    if (!bytes || d == s) return;
    if (d < s + bytes && s < d + bytes) {
        void *tmp = cuda_scratch(CUDA_SCRATCH_A, bytes);
        CHECK_CUDA(cudaMemcpyAsync(tmp, src_dev, bytes, cudaMemcpyDeviceToDevice, cuda.stream));
        src_dev = tmp;
    }
    CHECK_CUDA(cudaMemcpyAsync(dst_dev, src_dev, bytes, cudaMemcpyDeviceToDevice, cuda.stream));
}

void cuda_be_sync(void) { CHECK_CUDA(cudaStreamSynchronize(cuda.stream)); }

/* extern "C": dispatch.c names the table; without BLIP_CUDA, ops.h does not
 * declare it here, and a C++ const would otherwise be file-local. */
extern "C" const backend_t be_cuda = {
    .describe = cuda_describe, .alloc = cuda_alloc, .open = cuda_open,
    .attn_state_floats = cuda_attn_state_floats,
#define BLIP_OP(name, params, args) .name = cuda_##name,
#include "ops_list.h"
#undef BLIP_OP
};
