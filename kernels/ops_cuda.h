/* ops_cuda.h - what code outside the CUDA backend needs from it beyond
 * ops.h (CUDA builds only): the stream its ops are queued on, so that NCCL
 * collectives (libcommon/comm_nccl.c) can be ordered against them with
 * events. NCCL uses the GPU the backend made current in be_open(). */
#ifndef BLIP_OPS_CUDA_H
#define BLIP_OPS_CUDA_H

#include <cuda_runtime.h>

cudaStream_t be_cuda_stream(void);

#endif
