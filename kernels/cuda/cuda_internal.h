/* cuda_internal.h - what the CUDA backend's files share: the error-check
 * macros, the one compute stream and library handles, the precision, the
 * grow-only scratch buffers, and the backend's entry points (cuda_op_zero,
 * cuda_be_copy, ... declared from ops_list.h). CUDA C++ used as C. */
#ifndef BLIP_CUDA_INTERNAL_H
#define BLIP_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ops.h"

/* ---- error checks: every CUDA / cuBLAS call goes through one of these -- */

#define CHECK_CUDA(call)                                                      \
    do {                                                                      \
        cudaError_t e_ = (call);                                              \
        if (e_ != cudaSuccess)                                                \
            die("cuda: %s:%d: %s: %s", __FILE__, __LINE__, #call,             \
                cudaGetErrorString(e_));                                      \
    } while (0)
#define CHECK_CUBLAS(call)                                                    \
    do {                                                                      \
        cublasStatus_t s_ = (call);                                           \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                      \
            die("cublas: %s:%d: %s: %s", __FILE__, __LINE__, #call,           \
                cublasGetStatusString(s_));                                   \
    } while (0)
/* After a kernel launch: launch errors surface here, execution errors at
 * the next synchronising call. */
#define CHECK_LAUNCH() CHECK_CUDA(cudaGetLastError())

/* ---- state set up by cuda_open() (cuda_mem.cu) ------------------------- */

typedef struct {
    int device;                 /* CUDA device index */
    int bf16;                   /* precision "bf16": bf16 GEMM operands */
    cudaStream_t stream;        /* every op runs on this one stream */
    cublasHandle_t blas;        /* bound to stream, TF32 off */
    cublasLtHandle_t lt;
    void *lt_workspace;         /* cuBLASLt workspace, CUDA_LT_WORKSPACE bytes */
    int num_sms;
} cuda_ctx_t;

extern cuda_ctx_t cuda;

#define CUDA_LT_WORKSPACE ((size_t)32 << 20)

/* A grow-only device scratch buffer per slot, reused across calls (it
 * grows only when a larger shape is seen, i.e. during the first step). */
enum { CUDA_SCRATCH_A, CUDA_SCRATCH_B, CUDA_SCRATCH_C, CUDA_SCRATCH_D, CUDA_SCRATCH_SLOTS };
void *cuda_scratch(int slot, size_t bytes);

/* Launch geometry: blocks of `threads` covering n elements, capped at a
 * multiple of the SM count (kernels loop grid-stride). */
static inline unsigned cuda_blocks(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads, cap = (size_t)cuda.num_sms * 32;
    return (unsigned)(b < 1 ? 1 : b > cap ? cap : b);
}

/* ---- the backend's entry points ---------------------------------------- */

#define BLIP_OP(name, params, args) void cuda_##name params;
#include "ops_list.h"
#undef BLIP_OP
void *cuda_alloc(size_t bytes);
const char *cuda_describe(void);
void cuda_open(const char *precision, int index);
size_t cuda_attn_state_floats(const attn_shape_t *s);

#endif
