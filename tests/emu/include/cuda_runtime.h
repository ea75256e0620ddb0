/* cuda_runtime.h - stand-in for the CUDA runtime when kernels/cuda/ (.cu) are
 * compiled by g++ for the CPU emulator (tests/emu/README). It declares the
 * subset of the runtime API the backend calls (implemented over host memory
 * in tests/emu/emu_runtime.cpp) and the device-side language: dim3,
 * threadIdx/blockIdx/blockDim/gridDim, __global__/__device__/__shared__,
 * __syncthreads, warp shuffles, the _rn intrinsics, and emu_launch, which
 * tests/emu/launch.sed substitutes for the <<<grid, block, smem, stream>>>
 * syntax. Anything not declared here is a compile error, never a guess. */
#ifndef EMU_CUDA_RUNTIME_H
#define EMU_CUDA_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* ---- runtime API (host side) --------------------------------------------- */

typedef enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
} cudaError_t;

typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType_t;
typedef cudaDataType_t cudaDataType;

typedef enum {
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
} cudaMemcpyKind;

typedef struct emu_stream *cudaStream_t;
#define cudaStreamNonBlocking 0x01

typedef enum { cudaDevAttrMultiProcessorCount = 16 } cudaDeviceAttr;

typedef struct {
    char name[256];
    size_t totalGlobalMem;
} cudaDeviceProp;

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);

/* ---- the device language -------------------------------------------------- */

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

/* The running fiber's coordinates (tests/emu/emu_runtime.cpp sets them on
 * every switch; one kernel runs at a time). */
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
/* One block runs at a time, so a function-static array is the block's
 * shared memory. */
#define __shared__ static
/* Kernels test BLIP_EMU to pick portable versions of what the emulator
 * cannot run (inline PTX: kernels/cuda/cuda_mma.cuh). */
#define BLIP_EMU 1

void __syncthreads(void);
int __syncthreads_or(int predicate);
/* Every live lane of the warp must arrive (as with a full mask); the mask
 * is checked to be full. */
float __shfl_xor_sync(unsigned mask, float v, int lane_mask);
double __shfl_xor_sync(unsigned mask, double v, int lane_mask);
/* The value of lane src_lane (0..31) of the warp. */
unsigned __shfl_sync(unsigned mask, unsigned v, int src_lane);

/* Round-to-nearest intrinsics: the host's IEEE operations with
 * -ffp-contract=off are exactly these. */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }

/* ---- kernel launches ------------------------------------------------------- */

typedef struct {
    dim3 grid, block;
} emu_cfg_t;

/* Checks the configuration as the runtime would (a bad one is reported by
 * the next cudaGetLastError) and records the stream. */
emu_cfg_t emu_cfg(dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = 0);

/* Runs body(arg) for every thread of every block, as fibers. */
void emu_run(const emu_cfg_t *cfg, void (*body)(void *), void *arg);

/* kernel<<<cfg>>>(args) becomes emu_launch(emu_cfg(cfg), [](auto... a_) {
 * kernel(a_...); })(args): the arguments are evaluated once, on the host,
 * then every thread calls the kernel with its own copies. */
template <class K> struct emu_launcher {
    emu_cfg_t cfg;
    K kernel;
    template <class... A> void operator()(A... args) {
        auto call = [&]() { kernel(args...); };
        emu_run(&cfg, [](void *c) { (*(decltype(call) *)c)(); }, &call);
    }
};
template <class K> emu_launcher<K> emu_launch(emu_cfg_t cfg, K kernel) { return {cfg, kernel}; }

#endif
