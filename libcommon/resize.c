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

/* rows [h] of width in_w (stride in bytes) -> out rows of width out_w. */
HOT_CLONES static void pass_h(const uint8_t *in, size_t in_stride, int h, uint8_t *out, int out_w, const coeffs_t *c) {
    for (int y = 0; y < h; y++) {
        const uint8_t *row = in + (size_t)y * in_stride;
        uint8_t *o = out + (size_t)y * out_w * 3;
        for (int xx = 0; xx < out_w; xx++) {
            int xmin = c->bounds[2 * xx], xn = c->bounds[2 * xx + 1];
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            const uint8_t *p = row + (size_t)xmin * 3;
            for (int x = 0; x < xn; x++, p += 3) {
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
    if (need_h) {
        make_coeffs(&ch_c, cw, 0, cw, dst->w, f);
        /* Only the rows the vertical pass reads (Pillow trims the same way). */
        int ybox0 = 0, ybox1 = ch;
        if (need_v) {
            ybox0 = cv_c.bounds[0];
            ybox1 = cv_c.bounds[2 * (dst->h - 1)] + cv_c.bounds[2 * (dst->h - 1) + 1];
        }
        int rows = ybox1 - ybox0;
        uint8_t *tmp = need_v ? xmalloc((size_t)rows * dst->w * 3) : dst->px;
        pass_h(base + (size_t)ybox0 * stride, stride, rows, tmp, dst->w, &ch_c);
        if (need_v) {
            for (int yy = 0; yy < dst->h; yy++) cv_c.bounds[2 * yy] -= ybox0;
            pass_v(tmp, (size_t)dst->w * 3, dst->w, dst->px, dst->h, &cv_c);
            free(tmp);
        }
    } else {
        pass_v(base, stride, cw, dst->px, dst->h, &cv_c);
    }
    free_coeffs(&ch_c);
    free_coeffs(&cv_c);
}
