/* cuda_bf16.h - stand-in for CUDA's bfloat16 type in the CPU emulator
 * (tests/emu/README): storage and the round-to-nearest-even conversion
 * __float2bfloat16_rn, with NaN kept a (quiet) NaN as on the GPU. */
#ifndef EMU_CUDA_BF16_H
#define EMU_CUDA_BF16_H

#include <stdint.h>
#include <string.h>

struct __nv_bfloat16 {
    uint16_t x;
};

static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) { /* NaN: keep sign, make quiet */
        b.x = (uint16_t)((u >> 16) | 0x40);
        return b;
    }
    u += 0x7fffu + ((u >> 16) & 1u); /* ties to even; overflow rounds to inf */
    b.x = (uint16_t)(u >> 16);
    return b;
}

static inline float __bfloat162float(__nv_bfloat16 b) {
    uint32_t u = (uint32_t)b.x << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
