/* resize.c - Pillow-compatible separable resampling (see resize.h). */
#include "resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pixel_simd.h"

#define PRECISION_BITS (32 - 8 - 2)

typedef struct {
    double support;
    double (*fn)(double x);
} filter_t;

static double bilinear(double x) {
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

static double bicubic(double x) { /* a = -0.5, as Pillow */
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

static const filter_t FILTERS[] = {{1.0, bilinear}, {2.0, bicubic}};

/* Per output pixel: first input index, tap count and fixed-point weights. */
typedef struct {
    int ksize;
    int *bounds; /* [out, 2] = (xmin, count) */
    int32_t *k;  /* [out, ksize] */
} coeffs_t;

static void make_coeffs(coeffs_t *c, int in_size, double in0, double in1, int out_size, const filter_t *f) {
    double scale = (in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = xmalloc((size_t)out_size * 2 * sizeof(int));
    c->k = xcalloc((size_t)out_size * c->ksize, sizeof(int32_t));
    double *w = xmalloc((size_t)c->ksize * sizeof(double));
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ss = 1.0 / filterscale, ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = f->fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            c->k[(size_t)xx * c->ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                                              : 0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(w);
}

static void free_coeffs(coeffs_t *c) {
    free(c->bounds);
    free(c->k);
}

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* ---- portable passes ---------------------------------------------------------- */

/* Vertical pass; in rows start at in (stride in_stride); width w pixels.
 * Row-wise accumulation into an int32 row, which the compiler vectorizes. */
static void pass_v_scalar(const uint8_t *in, size_t in_stride, int w, uint8_t *out, int out_h, const coeffs_t *c) {
    size_t n = (size_t)w * 3;
    int32_t *acc = xmalloc(n * sizeof *acc);
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = c->bounds[2 * yy], yn = c->bounds[2 * yy + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        for (size_t x = 0; x < n; x++) acc[x] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < yn; y++) {
            const uint8_t *row = in + (size_t)(ymin + y) * in_stride;
            int32_t ky = k[y];
            for (size_t x = 0; x < n; x++) acc[x] += row[x] * ky;
        }
        uint8_t *o = out + (size_t)yy * n;
        for (size_t x = 0; x < n; x++) o[x] = clip8(acc[x]);
    }
    free(acc);
}

/* Horizontal pass over `rows` rows of w_in pixels (in_stride bytes apart)
 * into out [rows, w_out], one output pixel at a time as Pillow does. */
static void pass_h_scalar(const uint8_t *in, size_t in_stride, int w_in, int rows, uint8_t *out, int w_out,
                          const coeffs_t *c) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = in + (size_t)y * in_stride;
        uint8_t *o = out + (size_t)y * w_out * 3;
        for (int xx = 0; xx < w_out; xx++) {
            const uint8_t *p = row + (size_t)c->bounds[2 * xx] * 3;
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < c->bounds[2 * xx + 1]; x++, p += 3) {
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            o[3 * xx] = clip8(s0);
            o[3 * xx + 1] = clip8(s1);
            o[3 * xx + 2] = clip8(s2);
        }
    }
}

/* ---- AVX2 passes ----------------------------------------------------------------
 * The same integer sums in another order: every product and partial sum is
 * exact in int32 (wrapping like the scalar code), so the bytes are the same. */

#if PIXEL_SIMD_X86
/* 8 int32 sums [a, b] -> 32 bytes rounded/clipped as clip8, in order. */
PIXEL_AVX2 static inline __m256i clip8x32(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
    __m256i p01 = _mm256_packs_epi32(_mm256_srai_epi32(a0, PRECISION_BITS), _mm256_srai_epi32(a1, PRECISION_BITS));
    __m256i p23 = _mm256_packs_epi32(_mm256_srai_epi32(a2, PRECISION_BITS), _mm256_srai_epi32(a3, PRECISION_BITS));
    return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Vertical pass, 32 bytes of a row at a time with the sums in registers. */
PIXEL_AVX2 static void pass_v_avx2(const uint8_t *in, size_t in_stride, int w, uint8_t *out, int out_h,
                                   const coeffs_t *c) {
    size_t n = (size_t)w * 3;
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int yy = 0; yy < out_h; yy++) {
        int ymin = c->bounds[2 * yy], yn = c->bounds[2 * yy + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        const uint8_t *top = in + (size_t)ymin * in_stride;
        uint8_t *o = out + (size_t)yy * n;
        size_t x = 0;
        for (; x + 32 <= n; x += 32) {
            __m256i a0 = half, a1 = half, a2 = half, a3 = half;
            const uint8_t *row = top + x;
            for (int y = 0; y < yn; y++, row += in_stride) {
                __m256i ky = _mm256_set1_epi32(k[y]);
                a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)row)), ky));
                a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(row + 8))), ky));
                a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(row + 16))), ky));
                a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(row + 24))), ky));
            }
            _mm256_storeu_si256((void *)(o + x), clip8x32(a0, a1, a2, a3));
        }
        for (; x < n; x++) {
            int32_t s = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < yn; y++) s += top[(size_t)y * in_stride + x] * k[y];
            o[x] = clip8(s);
        }
    }
}

/* Horizontal taps in groups of 4 with _mm256_madd_epi16: a coefficient k
 * (22 bits and sign) is split as k = hi * 2^11 + lo, 0 <= lo < 2^11, so
 * pixel * hi and pixel * lo pairs fit madd's 16-bit operands; the sum is
 * (sum hi) * 2^11 + sum lo. Per output pixel and group: int16 [hi0..hi3,
 * lo0..lo3]. */
enum { HSPLIT = 11 };

typedef struct {
    int groups;      /* groups of 4 taps per output pixel */
    int16_t *hl;     /* [out, groups, 8] */
} hcoeffs_t;

static void split_coeffs(const coeffs_t *c, int w_out, hcoeffs_t *h) {
    h->groups = (c->ksize + 3) / 4;
    h->hl = xcalloc((size_t)w_out * h->groups * 8, sizeof(int16_t));
    for (int xx = 0; xx < w_out; xx++)
        for (int t = 0; t < c->bounds[2 * xx + 1]; t++) {
            int32_t k = c->k[(size_t)xx * c->ksize + t];
            int16_t *g = h->hl + ((size_t)xx * h->groups + t / 4) * 8;
            g[t % 4] = (int16_t)(k >> HSPLIT); /* arithmetic shift: floor */
            g[4 + t % 4] = (int16_t)(k & ((1 << HSPLIT) - 1));
        }
}

enum { HROWS = 4 }; /* rows per sweep: they share the coefficient loads */

/* The taps of output pixel xx over R rows (R <= HROWS): per row 8 int32,
 * the R G B sums of its taps 0, 1 (mod 4) in lane 0 and of taps 2, 3 in
 * lane 1 (4th word 0). Reads 16 source bytes per group of 4 taps (pixels
 * t..t+3 and 4 bytes past them, which meet zero coefficients). */
PIXEL_AVX2 static inline __attribute__((always_inline)) void h_taps(const uint8_t *const *row, int R, int xx,
                                                                  const coeffs_t *c, const hcoeffs_t *h,
                                                                  __m256i *s) {
    /* lane 0: pixels 0, 1 of the group as int16 pairs (R0 R1 G0 G1 B0 B1 0 0);
     * lane 1: pixels 2, 3 */
    const __m256i px_shuf = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, /**/
                                             6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
    /* coefficients (k0 k1) x 3 in lane 0, (k2 k3) x 3 in lane 1: hi words, lo words */
    const __m256i hi_shuf = _mm256_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, -1, -1, -1, -1, /**/
                                             4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, -1, -1, -1, -1);
    const __m256i lo_shuf = _mm256_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, -1, -1, -1, -1, /**/
                                             12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, -1, -1, -1, -1);
    size_t off = (size_t)c->bounds[2 * xx] * 3;
    const int16_t *g = h->hl + (size_t)xx * h->groups * 8;
    int ng = (c->bounds[2 * xx + 1] + 3) / 4;
    __m256i shi[HROWS], slo[HROWS];
    for (int r = 0; r < R; r++) shi[r] = slo[r] = _mm256_setzero_si256();
    for (int i = 0; i < ng; i++, off += 12, g += 8) {
        __m256i kk = _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)g));
        __m256i khi = _mm256_shuffle_epi8(kk, hi_shuf), klo = _mm256_shuffle_epi8(kk, lo_shuf);
        for (int r = 0; r < R; r++) {
            __m256i px = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)(row[r] + off))),
                                             px_shuf);
            shi[r] = _mm256_add_epi32(shi[r], _mm256_madd_epi16(px, khi));
            slo[r] = _mm256_add_epi32(slo[r], _mm256_madd_epi16(px, klo));
        }
    }
    for (int r = 0; r < R; r++) s[r] = _mm256_add_epi32(_mm256_slli_epi32(shi[r], HSPLIT), slo[r]);
}

/* h_taps of two pixels a, b -> [a's R G B sum, 0 | b's]. */
PIXEL_AVX2 static inline __m256i h_pair(__m256i a, __m256i b) {
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* 4 pixels' sums [a b | c d] -> the 12 bytes a b c d rounded and clipped
 * as clip8, stored at o: 16 bytes where the row has them (the next block
 * rewrites the last 4), else only the first n pixels. */
PIXEL_AVX2 static inline void h_store4(__m256i ab, __m256i cd, uint8_t *o, int n, int room16) {
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    const __m128i compact = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    ab = _mm256_srai_epi32(_mm256_add_epi32(ab, half), PRECISION_BITS);
    cd = _mm256_srai_epi32(_mm256_add_epi32(cd, half), PRECISION_BITS);
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(ab, cd), 0xd8); /* words a b | c d */
    __m128i px = _mm_shuffle_epi8(_mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)),
                                  compact);
    if (room16) {
        _mm_storeu_si128((void *)o, px);
        return;
    }
    uint8_t tmp[16];
    _mm_storeu_si128((void *)tmp, px);
    memcpy(o, tmp, 3 * (size_t)n);
}

/* R rows (row[r] -> o[r]), 4 output pixels at a time (the last block repeats
 * the last pixel and stores only the pixels that exist); the caller makes
 * sure 13 bytes past each row's pixels are readable. */
PIXEL_AVX2 static inline __attribute__((always_inline)) void h_rows(const uint8_t *const *row, uint8_t *const *o,
                                                                  int R, int w_out, const coeffs_t *c,
                                                                  const hcoeffs_t *h) {
    for (int xx = 0; xx < w_out; xx += 4) {
        int last = w_out - 1, x1 = xx + 1 < last ? xx + 1 : last, x2 = xx + 2 < last ? xx + 2 : last,
            x3 = xx + 3 < last ? xx + 3 : last, n = w_out - xx < 4 ? w_out - xx : 4;
        __m256i t0[HROWS], t1[HROWS], ab[HROWS];
        h_taps(row, R, xx, c, h, t0);
        h_taps(row, R, x1, c, h, t1);
        for (int r = 0; r < R; r++) ab[r] = h_pair(t0[r], t1[r]);
        h_taps(row, R, x2, c, h, t0);
        h_taps(row, R, x3, c, h, t1);
        for (int r = 0; r < R; r++)
            h_store4(ab[r], h_pair(t0[r], t1[r]), o[r] + 3 * (size_t)xx, n, 3 * xx + 16 <= 3 * w_out);
    }
}

PIXEL_AVX2 static void pass_h_avx2(const uint8_t *in, size_t in_stride, int w_in, int rows, uint8_t *out, int w_out,
                                   const coeffs_t *c) {
    hcoeffs_t h;
    split_coeffs(c, w_out, &h);
    const uint8_t *row[HROWS];
    uint8_t *o[HROWS];
    int y = 0;
    for (; y + HROWS < rows; y += HROWS) { /* the next row holds the bytes read past these */
        for (int r = 0; r < HROWS; r++) {
            row[r] = in + (size_t)(y + r) * in_stride;
            o[r] = out + (size_t)(y + r) * w_out * 3;
        }
        h_rows(row, o, HROWS, w_out, c, &h);
    }
    size_t n = (size_t)w_in * 3;
    uint8_t *last = xcalloc(n + 16, 1);
    memcpy(last, in + (size_t)(rows - 1) * in_stride, n);
    for (; y < rows; y++) {
        row[0] = y + 1 < rows ? in + (size_t)y * in_stride : last;
        o[0] = out + (size_t)y * w_out * 3;
        h_rows(row, o, 1, w_out, c, &h);
    }
    free(last);
    free(h.hl);
}
#endif

/* ---- dispatch ----------------------------------------------------------------- */

int pixel_simd = 1;

int pixel_simd_active(void) {
#if PIXEL_SIMD_X86
    static int cpu = -1;
    if (cpu < 0) cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return pixel_simd && cpu;
#else
    return 0;
#endif
}

static void pass_v(const uint8_t *in, size_t in_stride, int w, uint8_t *out, int out_h, const coeffs_t *c) {
#if PIXEL_SIMD_X86
    if (pixel_simd_active()) {
        pass_v_avx2(in, in_stride, w, out, out_h, c);
        return;
    }
#endif
    pass_v_scalar(in, in_stride, w, out, out_h, c);
}

static void pass_h(const uint8_t *in, size_t in_stride, int w_in, int rows, uint8_t *out, int w_out,
                   const coeffs_t *c) {
#if PIXEL_SIMD_X86
    if (pixel_simd_active() && in_stride >= 13) { /* the bytes past a row lie in the next row */
        pass_h_avx2(in, in_stride, w_in, rows, out, w_out, c);
        return;
    }
#endif
    pass_h_scalar(in, in_stride, w_in, rows, out, w_out, c);
}

void resize_rgb8(const image_t *src, int x0, int y0, int cw, int ch, image_t *dst, resample_t filter) {
    const filter_t *f = &FILTERS[filter];
    size_t stride = (size_t)src->w * 3;
    const uint8_t *base = src->px + (size_t)y0 * stride + (size_t)x0 * 3;
    int need_h = cw != dst->w, need_v = ch != dst->h;
    if (!need_h && !need_v) {
        for (int y = 0; y < ch; y++) memcpy(dst->px + (size_t)y * cw * 3, base + y * stride, (size_t)cw * 3);
        return;
    }
    coeffs_t ch_c = {0}, cv_c = {0};
    if (need_v) make_coeffs(&cv_c, ch, 0, ch, dst->h, f);
    if (need_h) make_coeffs(&ch_c, cw, 0, cw, dst->w, f);
    /* Pillow 13: the vertical pass first when the height loses more than
     * twice as many pixels as the width. */
    int v_first = ch - dst->h > 0 && ch - dst->h > 2 * (cw - dst->w);
    if (!need_h) {
        pass_v(base, stride, cw, dst->px, dst->h, &cv_c);
    } else if (!need_v) {
        pass_h(base, stride, cw, ch, dst->px, dst->w, &ch_c);
    } else if (v_first) {
        uint8_t *tmp = xmalloc((size_t)cw * dst->h * 3);
        pass_v(base, stride, cw, tmp, dst->h, &cv_c);
        pass_h(tmp, (size_t)cw * 3, cw, dst->h, dst->px, dst->w, &ch_c);
        free(tmp);
    } else { /* only the rows the vertical pass reads (Pillow trims the same way) */
        int ybox0 = cv_c.bounds[0], ybox1 = cv_c.bounds[2 * (dst->h - 1)] + cv_c.bounds[2 * (dst->h - 1) + 1];
        uint8_t *tmp = xmalloc((size_t)(ybox1 - ybox0) * dst->w * 3);
        pass_h(base + (size_t)ybox0 * stride, stride, cw, ybox1 - ybox0, tmp, dst->w, &ch_c);
        for (int yy = 0; yy < dst->h; yy++) cv_c.bounds[2 * yy] -= ybox0;
        pass_v(tmp, (size_t)dst->w * 3, dst->w, dst->px, dst->h, &cv_c);
        free(tmp);
    }
    free_coeffs(&ch_c);
    free_coeffs(&cv_c);
}
