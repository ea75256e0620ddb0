/* cuda_mma.cuh - the bf16 tensor-core step of the fused attention kernels:
 * two floats packed as a bf16x2 register, and the warp-wide
 *   D[16, 8] += A[16, 16] B[16, 8]   (mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32)
 * with the fragments of the PTX ISA ("Matrix Fragments for mma.m16n8k16 with
 * floating point type"). Lane l holds, with g = l / 4 and t = l % 4 (each
 * bf16x2 register has its lower-indexed element in its low 16 bits):
 *   a[0] = A[g][2t, 2t+1]    a[1] = A[g+8][2t, 2t+1]
 *   a[2] = A[g][2t+8, 2t+9]  a[3] = A[g+8][2t+8, 2t+9]
 *   b[0] = B[2t, 2t+1][g]    b[1] = B[2t+8, 2t+9][g]
 *   d[0], d[1] = D[g][2t], D[g][2t+1]    d[2], d[3] = D[g+8][2t], D[g+8][2t+1]
 * So an accumulator tile D[16, 16] held as two n-tiles is, packed, an A
 * fragment (the attention kernels feed probabilities to the next product).
 * Under the CPU emulator (BLIP_EMU, tests/emu) the product is computed from
 * the same fragments gathered with __shfl_sync: the kernels' index math is
 * the one the hardware runs. Every lane of the warp must call it. */
#ifndef BLIP_CUDA_MMA_CUH
#define BLIP_CUDA_MMA_CUH

#include <stdint.h>
#include <string.h>

#include <cuda_bf16.h>

/* Full unrolling of the loops over fragments, so that the register arrays
 * they index stay in registers (nvcc; g++ under the emulator has no such
 * pragma and needs none). */
#ifdef BLIP_EMU
#define UNROLL
#else
#define UNROLL _Pragma("unroll")
#endif

static __device__ inline uint32_t pack_bf16x2(float lo, float hi) {
    __nv_bfloat16 l = __float2bfloat16_rn(lo), h = __float2bfloat16_rn(hi);
    uint16_t a, b;
    memcpy(&a, &l, sizeof a);
    memcpy(&b, &h, sizeof b);
    return (uint32_t)a | (uint32_t)b << 16;
}

#ifdef BLIP_EMU
/* Element `half` (0 low, 1 high) of a bf16x2 register as a float. */
static inline float bf16x2_at(uint32_t w, int half) {
    uint32_t u = half ? w & 0xffff0000u : w << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
#endif

static __device__ inline void mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#ifndef BLIP_EMU
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    float A[2][16], Bc[2][16]; /* rows g, g+8 of A; columns 2t, 2t+1 of B */
    for (int j = 0; j < 4; j++) { /* from lanes g*4 + j and (2t + c)*4 + j */
        for (int r = 0; r < 4; r++) {
            uint32_t w = __shfl_sync(0xffffffffu, a[r], g * 4 + j);
            int row = r % 2, k = r / 2 * 8 + 2 * j;
            A[row][k] = bf16x2_at(w, 0), A[row][k + 1] = bf16x2_at(w, 1);
        }
        for (int c = 0; c < 2; c++)
            for (int r = 0; r < 2; r++) {
                uint32_t w = __shfl_sync(0xffffffffu, b[r], (2 * t + c) * 4 + j);
                int k = r * 8 + 2 * j;
                Bc[c][k] = bf16x2_at(w, 0), Bc[c][k + 1] = bf16x2_at(w, 1);
            }
    }
    for (int row = 0; row < 2; row++)
        for (int c = 0; c < 2; c++) {
            double acc = d[row * 2 + c];
            for (int k = 0; k < 16; k++) acc += (double)A[row][k] * Bc[c][k];
            d[row * 2 + c] = (float)acc;
        }
#endif
}

#endif
