/* emu_internal.h - what the emulator's runtime (emu_runtime.cpp) offers its
 * cuBLAS/cuBLASLt (emu_blas.cpp): checks that a range lies in emulated
 * device memory and that work goes to a stream the runtime created. */
#ifndef BLIP_EMU_INTERNAL_H
#define BLIP_EMU_INTERNAL_H

#include <cuda_runtime.h>

/* Dies unless [p, p + bytes) lies inside one cudaMalloc allocation. */
void emu_check_device(const void *p, size_t bytes, const char *what);
/* Dies unless s came from cudaStreamCreateWithFlags (the backend queues
 * everything on its one stream, never on the legacy default stream). */
void emu_check_stream(cudaStream_t s, const char *what);

#endif
