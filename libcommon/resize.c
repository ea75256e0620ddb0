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
 * into out [rows, w_out], one output pixel at a time as Pillow does; output
 * pixel xx goes to column w_out - 1 - xx when mirror is set. */
static void pass_h_scalar(const uint8_t *in, size_t in_stride, int w_in, int rows, uint8_t *out, int w_out,
                          const coeffs_t *c, int mirror) {
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
            uint8_t *d = o + 3 * (size_t)(mirror ? w_out - 1 - xx : xx);
            d[0] = clip8(s0);
            d[1] = clip8(s1);
            d[2] = clip8(s2);
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

/* The horizontal pass as a vertical one: strips of TR rows are transposed
 * so that each source column is TB contiguous bytes (TR pixels of 3), the
 * taps then run down those columns as pass_v runs down rows (every sum in
 * vertical lanes, no shuffles), and the output columns are transposed back.
 * Transposes go 8 rows x 8 pixels at a time as 8 x 8 dwords (R G B 0). */
enum { TR = 16, TB = TR * 3 };

/* 8 pixels (the 24 bytes at p) -> 8 dwords R G B 0. Reads only those bytes. */
PIXEL_AVX2 static inline __m256i load8px(const uint8_t *p) {
    const __m256i expand = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, /**/
                                            0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    __m128i a = _mm_loadu_si128((const void *)p), b = _mm_loadl_epi64((const void *)(p + 16));
    return _mm256_shuffle_epi8(_mm256_set_m128i(_mm_alignr_epi8(b, a, 12), a), expand);
}

/* 8 dwords R G B x -> the 24 bytes at p. Writes only those bytes. */
PIXEL_AVX2 static inline void store8px(uint8_t *p, __m256i v) {
    const __m256i compact = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, /**/
                                             0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    v = _mm256_shuffle_epi8(v, compact);
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    _mm_storeu_si128((void *)p, _mm_or_si128(lo, _mm_bslli_si128(hi, 12)));
    _mm_storel_epi64((void *)(p + 16), _mm_bsrli_si128(hi, 4));
}

/* m[i][j] -> m[j][i] for 8 x 8 dwords. */
PIXEL_AVX2 static inline void transpose8(__m256i m[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(m[i], m[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(m[i], m[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        m[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        m[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

/* Pixel x of rows row[0..TR) -> col[x * TB + 3 * r], for x < w. */
PIXEL_AVX2 static void rows_to_cols(const uint8_t *const *row, int w, uint8_t *col) {
    int x = 0;
    for (; x + 8 <= w; x += 8)
        for (int r0 = 0; r0 < TR; r0 += 8) {
            __m256i m[8];
            for (int i = 0; i < 8; i++) { /* 16 rows at once: too many streams for the hardware prefetch */
                _mm_prefetch((const char *)row[r0 + i] + 3 * (size_t)x + 384, _MM_HINT_T0);
                m[i] = load8px(row[r0 + i] + 3 * (size_t)x);
            }
            transpose8(m);
            for (int j = 0; j < 8; j++) store8px(col + (size_t)(x + j) * TB + 3 * r0, m[j]);
        }
    for (; x < w; x++)
        for (int r = 0; r < TR; r++) memcpy(col + (size_t)x * TB + 3 * r, row[r] + 3 * (size_t)x, 3);
}

/* The inverse: col[x * TB + 3 * r] -> pixel x of row[r], for x < w. */
PIXEL_AVX2 static void cols_to_rows(const uint8_t *col, int w, uint8_t *const *row) {
    int x = 0;
    for (; x + 8 <= w; x += 8)
        for (int r0 = 0; r0 < TR; r0 += 8) {
            __m256i m[8];
            for (int j = 0; j < 8; j++) m[j] = load8px(col + (size_t)(x + j) * TB + 3 * r0);
            transpose8(m);
            for (int i = 0; i < 8; i++) store8px(row[r0 + i] + 3 * (size_t)x, m[i]);
        }
    for (; x < w; x++)
        for (int r = 0; r < TR; r++) memcpy(row[r] + 3 * (size_t)x, col + (size_t)x * TB + 3 * r, 3);
}

/* Output column xx of a strip (at w_out - 1 - xx when mirror is set): the
 * taps down the source columns, TB bytes each, in 6 x 8 int32 sums. */
PIXEL_AVX2 static void filter_cols(const uint8_t *col, uint8_t *out, int w_out, const coeffs_t *c, int mirror) {
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int xx = 0; xx < w_out; xx++) {
        const uint8_t *p = col + (size_t)c->bounds[2 * xx] * TB;
        const int32_t *k = c->k + (size_t)xx * c->ksize;
        __m256i a[TB / 8];
        for (int j = 0; j < TB / 8; j++) a[j] = half;
        for (int t = 0; t < c->bounds[2 * xx + 1]; t++, p += TB) {
            __m256i kt = _mm256_set1_epi32(k[t]);
            for (int j = 0; j < TB / 8; j++)
                a[j] = _mm256_add_epi32(
                    a[j], _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(p + 8 * j))), kt));
        }
        uint8_t *o = out + (size_t)(mirror ? w_out - 1 - xx : xx) * TB;
        _mm256_storeu_si256((void *)o, clip8x32(a[0], a[1], a[2], a[3]));
        _mm_storeu_si128((void *)(o + 32), _mm256_castsi256_si128(clip8x32(a[4], a[5], a[4], a[5])));
    }
}

PIXEL_AVX2 static void pass_h_avx2(const uint8_t *in, size_t in_stride, int w_in, int rows, uint8_t *out, int w_out,
                                   const coeffs_t *c, int mirror) {
    uint8_t *col = xmalloc((size_t)w_in * TB), *colo = xmalloc((size_t)w_out * TB);
    uint8_t *zero = xcalloc((size_t)w_in * 3, 1), *sink = xmalloc((size_t)w_out * 3); /* rows past the last */
    const uint8_t *row[TR];
    uint8_t *o[TR];
    for (int y = 0; y < rows; y += TR) {
        for (int r = 0; r < TR; r++) {
            row[r] = y + r < rows ? in + (size_t)(y + r) * in_stride : zero;
            o[r] = y + r < rows ? out + (size_t)(y + r) * w_out * 3 : sink;
        }
        rows_to_cols(row, w_in, col);
        filter_cols(col, colo, w_out, c, mirror);
        cols_to_rows(colo, w_out, o);
    }
    free(col);
    free(colo);
    free(zero);
    free(sink);
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
                   const coeffs_t *c, int mirror) {
#if PIXEL_SIMD_X86
    if (pixel_simd_active()) {
        pass_h_avx2(in, in_stride, w_in, rows, out, w_out, c, mirror);
        return;
    }
#endif
    pass_h_scalar(in, in_stride, w_in, rows, out, w_out, c, mirror);
}

void resize_rgb8_mirror(const image_t *src, int x0, int y0, int cw, int ch, image_t *dst, resample_t filter,
                        int mirror) {
    const filter_t *f = &FILTERS[filter];
    size_t stride = (size_t)src->w * 3;
    const uint8_t *base = src->px + (size_t)y0 * stride + (size_t)x0 * 3;
    /* mirroring needs the horizontal pass; at the same width its taps are
     * the identity (weight 1 at the pixel, 0 at the others) */
    int need_h = cw != dst->w || mirror, need_v = ch != dst->h;
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
        pass_h(base, stride, cw, ch, dst->px, dst->w, &ch_c, mirror);
    } else if (v_first) {
        uint8_t *tmp = xmalloc((size_t)cw * dst->h * 3);
        pass_v(base, stride, cw, tmp, dst->h, &cv_c);
        pass_h(tmp, (size_t)cw * 3, cw, dst->h, dst->px, dst->w, &ch_c, mirror);
        free(tmp);
    } else { /* only the rows the vertical pass reads (Pillow trims the same way) */
        int ybox0 = cv_c.bounds[0], ybox1 = cv_c.bounds[2 * (dst->h - 1)] + cv_c.bounds[2 * (dst->h - 1) + 1];
        uint8_t *tmp = xmalloc((size_t)(ybox1 - ybox0) * dst->w * 3);
        pass_h(base + (size_t)ybox0 * stride, stride, cw, ybox1 - ybox0, tmp, dst->w, &ch_c, mirror);
        for (int yy = 0; yy < dst->h; yy++) cv_c.bounds[2 * yy] -= ybox0;
        pass_v(tmp, (size_t)dst->w * 3, dst->w, dst->px, dst->h, &cv_c);
        free(tmp);
    }
    free_coeffs(&ch_c);
    free_coeffs(&cv_c);
}

void resize_rgb8(const image_t *src, int x0, int y0, int cw, int ch, image_t *dst, resample_t filter) {
    resize_rgb8_mirror(src, x0, y0, cw, ch, dst, filter, 0);
}
