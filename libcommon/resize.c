/* resize.c - Pillow-compatible separable resampling (see resize.h). */
#include "resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

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

/* Transpose h rows of w RGB pixels (in_stride bytes apart) into w rows of
 * h pixels: out[x][y] = in[y][x]. Blocked for the cache. */
static void transpose_rgb(const uint8_t *restrict in, size_t in_stride, int w, int h, uint8_t *restrict out) {
    enum { BLK = 16 };
    size_t out_stride = (size_t)h * 3;
    for (int x0 = 0; x0 < w; x0 += BLK)
        for (int y0 = 0; y0 < h; y0 += BLK) {
            int x1 = x0 + BLK < w ? x0 + BLK : w, y1 = y0 + BLK < h ? y0 + BLK : h;
            for (int x = x0; x < x1; x++) {
                const uint8_t *p = in + (size_t)y0 * in_stride + (size_t)x * 3;
                uint8_t *o = out + (size_t)x * out_stride + (size_t)y0 * 3;
                for (int y = y0; y < y1; y++, p += in_stride, o += 3) {
                    o[0] = p[0];
                    o[1] = p[1];
                    o[2] = p[2];
                }
            }
        }
}

/* Vertical pass; in rows start at in (stride in_stride); width w pixels.
 * Row-wise accumulation into an int32 row, which vectorizes. */
HOT_CLONES static void pass_v(const uint8_t *in, size_t in_stride, int w, uint8_t *out, int out_h, const coeffs_t *c) {
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
 * into out [rows, w_out]: a vertical pass over the transposed rows, so both
 * passes run the same vectorized row-wise loop. */
static void pass_h(const uint8_t *in, size_t in_stride, int w_in, int rows, uint8_t *out, int w_out,
                   const coeffs_t *c) {
    uint8_t *t_in = xmalloc((size_t)w_in * rows * 3), *t_out = xmalloc((size_t)w_out * rows * 3);
    transpose_rgb(in, in_stride, w_in, rows, t_in);
    pass_v(t_in, (size_t)rows * 3, rows, t_out, w_out, c);
    transpose_rgb(t_out, (size_t)rows * 3, rows, w_out, out);
    free(t_in);
    free(t_out);
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
