/* pixel_simd.h - the switch between the AVX2 and the portable code paths of
 * the pixel transforms (resize.c, augment.c).
 *
 * Each AVX2 routine computes exactly the bytes (or floats) of its portable
 * twin: integer sums reordered only where every partial sum is exact, float
 * operations the same IEEE operations in the same order. The portable code
 * runs on CPUs without AVX2+FMA, on other architectures, and in the tests
 * that compare both paths (they clear pixel_simd). */
#ifndef BLIP_PIXEL_SIMD_H
#define BLIP_PIXEL_SIMD_H

#if defined(__x86_64__)
#include <immintrin.h>
#define PIXEL_SIMD_X86 1
#define PIXEL_AVX2 __attribute__((target("avx2,fma")))
#else
#define PIXEL_SIMD_X86 0
#endif

/* 1 (default): use the AVX2 paths when the CPU has AVX2 and FMA; 0: always
 * the portable code. */
extern int pixel_simd;
/* Whether the AVX2 paths run now (pixel_simd and the CPU allows). */
int pixel_simd_active(void);

#endif
