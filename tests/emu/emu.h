/* emu.h - what a test sees of the CPU emulator of the CUDA backend
 * (tests/emu/README): counters of the runtime calls the backend's rules
 * restrict and of the GEMM paths taken, the precision switch, and the switch
 * that makes the emulated cuBLASLt heuristic find no algorithm so the
 * backend's fallbacks run. C and C++. */
#ifndef BLIP_EMU_H
#define BLIP_EMU_H

#ifdef __cplusplus
extern "C" {
#endif

/* Counts since the start of the process. */
extern long emu_n_launches; /* kernel launches */
extern long emu_n_syncs;    /* host waits: cudaStreamSynchronize, cudaMemcpy */
extern long emu_n_mallocs;  /* cudaMalloc calls */
extern long emu_n_lt_matmuls, emu_n_lt_bias_matmuls; /* cublasLtMatmul, and with BIAS */
extern long emu_n_gemm_ex;  /* cublasGemmEx */

/* Switches the backend's precision ("bf16" rounds GEMM and attention
 * operands) after be_open(), so one process tests both. */
void emu_set_bf16(int on);

/* While set, cublasLtMatmulAlgoGetHeuristic answers NOT_SUPPORTED for
 * descriptors with the BIAS epilogue (EMU_LT_REFUSE_BIAS) or for all
 * (EMU_LT_REFUSE_ALL). The backend caches plans per shape: use new shapes. */
extern int emu_lt_refuse;
#define EMU_LT_REFUSE_BIAS 1
#define EMU_LT_REFUSE_ALL 2

#ifdef __cplusplus
}
#endif

#endif
