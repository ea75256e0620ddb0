/* cpu_internal.h - helpers shared by the CPU backend's source files. */
#ifndef BLIP_CPU_INTERNAL_H
#define BLIP_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/* The CPU backend's entry points: cpu_op_zero, cpu_be_copy, ... */
#define BLIP_OP(name, params, args) void cpu_##name params;
#include "ops_list.h"
#undef BLIP_OP
void *cpu_alloc(size_t bytes);
const char *cpu_describe(void);
void cpu_open(const char *precision, int index);
/* The probabilities [B, H, Tq, Tk]: B*H*Tq*Tk floats. */
size_t cpu_attn_state_floats(const attn_shape_t *s);

/* Strict mode (device "cpu-strict"): every buffer from cpu_alloc() is
 * page-aligned and registered; cpu_guard(0) makes all registered buffers
 * inaccessible (PROT_NONE) and cpu_guard(1) opens them again. */
void cpu_strict_enable(void);
void cpu_guard(int open);

/* Work (elements, or multiply-adds / 16) below which an op runs on the
 * calling thread: for tiny tensors a parallel region costs more than it
 * saves, and far more when other processes hold the cores. */
#define CPU_PAR_MIN 32768

/* Dropout on x[0..n) as elements offset..offset+n of the (seed, stream)
 * Philox sequence: keep with probability 1-p and scale by 1/(1-p). */
void cpu_dropout_at(float *x, size_t n, float p, uint64_t seed, uint64_t stream,
                    size_t offset);

/* A grow-only scratch buffer per slot (reused across calls; it grows only
 * when a larger shape is seen, i.e. during the first step). */
float *cpu_scratch(int slot, size_t nfloats);

/* BLAS runs single-threaded inside the backend's OpenMP threads: call
 * before any BLAS call. Set on first use, not in a constructor: with
 * OpenBLAS linked statically (CUDA builds) a constructor of ours can run
 * before OpenBLAS's own and crash its thread server. */
void cpu_blas_single_thread(void);

/* Row-major C = alpha * op(A) @ op(B) + beta * C (ta/tb: transpose A/B),
 * split across the OpenMP threads along M or N, single-threaded BLAS each. */
void cpu_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

#endif
