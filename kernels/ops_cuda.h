/* ops_cuda.h - what code outside the CUDA backend needs from it beyond
 * ops.h (CUDA builds only): the stream its ops are queued on, so that NCCL
 * collectives (libcommon/comm_nccl.c) can be ordered against them with
 * events, and the peak device memory (tests/gpu/bench.c). NCCL uses the
 * GPU the backend made current in be_open(). Included from C and from the
 * backend's C++ (cuda_mem.cu, which defines these), hence extern "C". */
#ifndef BLIP_OPS_CUDA_H
#define BLIP_OPS_CUDA_H

#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

cudaStream_t be_cuda_stream(void);
size_t be_cuda_peak_bytes(void); /* most bytes held by be_alloc at once */

#ifdef __cplusplus
}
#endif

#endif
