/* ops.h - the compute backend interface: every op the BLIP model and its
 * optimizer need, forward and backward, and the choice of backend.
 *
 * Buffers are device memory owned by the backend: the model allocates them
 * once up front with be_alloc(), moves data with be_upload()/be_download(),
 * and passes device pointers (and offsets into them) to ops; only the backend
 * dereferences them. The CPU backend (kernels/cpu/) uses host memory, BLAS
 * and OpenMP; the CUDA backend (kernels/cuda/, built with make CUDA=1) runs
 * the same ops on a GPU. be_open() picks one for the whole process; the op
 * functions forward to it (kernels/dispatch.c). The ops themselves are listed
 * and documented in ops_list.h.
 *
 * Conventions
 *   - Tensors are row-major fp32. "[N, C]" means N rows of C floats.
 *   - Linear weights have PyTorch's layout [OC, C] (out = inp @ w^T + b).
 *   - Backward ops ACCUMULATE (+=) into every gradient they write, parameter
 *     and activation gradients alike; callers zero gradients before a pass.
 *   - Ops are asynchronous with respect to the host on devices that can be;
 *     be_download() and be_sync() wait for all previous work.
 *   - Integer inputs (token ids, targets, masks) are int32 device buffers.
 *   - Dropout draws from Philox4x32-10 (rng.h) keyed by (seed, stream) and
 *     counted by element index, so the backward pass regenerates the same
 *     mask without storing it and results never depend on thread count.
 *   - Precision "fp32" computes in fp32 everywhere (TF32 off on GPUs);
 *     "bf16" (CUDA only) rounds matmul and attention operands to bfloat16
 *     and accumulates in fp32; every buffer stays fp32. */
#ifndef BLIP_OPS_H
#define BLIP_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Shape of one op_attention call (documented with op_attention). */
typedef struct {
    int B, H, Tq, Tk, hd;
    int q_stride, kv_stride;
    size_t q_bstride, kv_bstride;
    int kv_group;            /* query batches per key/value batch; 0 = 1 (>1: forward only) */
    int causal;
    const int32_t *key_mask; /* [B, Tk] or NULL */
    float p_drop;
    uint64_t seed, stream;
} attn_shape_t;

/* Hyperparameters of one op_adamw call (documented with op_adamw). */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay, gscale;
    int t;
} adamw_args_t;

/* ---- backend selection ------------------------------------------------- */

/* Select the backend for the rest of the process, before any other call:
 * device "cpu", "cpu-strict" (the CPU backend with device buffers made
 * inaccessible to host code between ops, to test that callers never touch
 * them directly), "cuda" or "cuda:N"; precision "fp32", "bf16", or NULL
 * for the device's default (fp32 on the CPU, bf16 on a GPU). Dies with
 * a one-line message when the device or precision is unavailable. Without a
 * call, the CPU backend in fp32 is used. */
void be_open(const char *device, const char *precision);

/* Allocate device memory (bytes); contents of a new buffer are zero. */
void *be_alloc(size_t bytes);
/* Short description of the backend ("cpu: openblas in 2 openmp threads"). */
const char *be_name(void);
/* Floats of the attention state op_attention keeps for its backward at
 * shape s (at most B*H*Tq*Tk; see op_attention). It grows with B, Tq and
 * Tk, so a buffer sized for the largest shape serves every smaller one. */
size_t be_attn_state_floats(const attn_shape_t *s);

/* The ops: void functions declared from the list. */
#define BLIP_OP(name, params, args) void name params;
#include "ops_list.h"
#undef BLIP_OP

/* A backend: its entry points, one per op plus the non-void ones. */
typedef struct {
    const char *(*describe)(void);
    void *(*alloc)(size_t bytes);
    /* Called once by be_open() with the precision ("fp32", "bf16") and the
     * device index (-1 when none was given); dies when it cannot serve. */
    void (*open)(const char *precision, int index);
    size_t (*attn_state_floats)(const attn_shape_t *s);
#define BLIP_OP(name, params, args) void (*name) params;
#include "ops_list.h"
#undef BLIP_OP
} backend_t;

extern const backend_t be_cpu, be_cpu_strict;
#ifdef BLIP_CUDA
extern const backend_t be_cuda;
#endif

#ifdef __cplusplus
}
#endif

#endif
