/* test_pixel_simd.c - the AVX2 paths of resize and the augmentation ops give
 * the same bytes as the portable code (pixel_simd = 0), on random images of
 * odd sizes, crops and scales. The portable code is itself checked against
 * Pillow and BLIP (test_image, test_augment, test_photos). */
#include "test.h"

#include "augment.h"
#include "err.h"
#include "pixel_simd.h"
#include "resize.h"
#include "rng.h"

/* Photo-like random content: smooth gradients, noise and a few flat runs
 * (saturated 0/255 runs exercise the clipping). */
static void random_image(image_t *im, int w, int h, rng_t *r) {
    image_alloc(im, w, h);
    int gx = (int)rng_below(r, 5), gy = (int)rng_below(r, 5), noise = 1 + (int)rng_below(r, 120);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int v = (x * gx + y * gy + 50 * c) % 256 + (int)rng_below(r, (uint32_t)noise) - noise / 2;
                if (rng_below(r, 50) == 0) v = rng_below(r, 2) ? 0 : 255;
                im->px[((size_t)y * w + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

/* Bytes that differ between a and b (n bytes). */
static size_t differing(const uint8_t *a, const uint8_t *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += a[i] != b[i];
    return d;
}

static int simd_available(void) {
    if (pixel_simd_active()) return 1;
    printf("  (no AVX2 here: the portable path is compared with itself)\n");
    return 0;
}

TEST(resize_simd_equals_portable) {
    simd_available();
    rng_t r;
    rng_init(&r, 2024, 7);
    int cases = 0, bad = 0;
    for (int it = 0; it < 400; it++) {
        int w = 1 + (int)rng_below(&r, it % 4 == 0 ? 700 : 90), h = 1 + (int)rng_below(&r, it % 4 == 1 ? 500 : 90);
        image_t src, a, b;
        random_image(&src, w, h, &r);
        int cw = 1 + (int)rng_below(&r, (uint32_t)w), ch = 1 + (int)rng_below(&r, (uint32_t)h);
        int x0 = (int)rng_below(&r, (uint32_t)(w - cw + 1)), y0 = (int)rng_below(&r, (uint32_t)(h - ch + 1));
        int ow = it % 5 == 0 ? cw : 1 + (int)rng_below(&r, 2 * (uint32_t)cw + 8);
        int oh = it % 7 == 0 ? ch : 1 + (int)rng_below(&r, 2 * (uint32_t)ch + 8);
        resample_t f = it & 1 ? RESAMPLE_BICUBIC : RESAMPLE_BILINEAR;
        image_alloc(&a, ow, oh);
        image_alloc(&b, ow, oh);
        int mirror = it % 3 == 0;
        pixel_simd = 1;
        resize_rgb8_mirror(&src, x0, y0, cw, ch, &a, f, mirror);
        pixel_simd = 0;
        resize_rgb8_mirror(&src, x0, y0, cw, ch, &b, f, mirror);
        pixel_simd = 1;
        size_t d = differing(a.px, b.px, (size_t)ow * oh * 3);
        if (d && bad++ < 5)
            CHECK_MSG(0, "%dx%d crop (%d,%d %dx%d) -> %dx%d %s%s: %zu bytes differ", w, h, x0, y0, cw, ch, ow, oh,
                      f == RESAMPLE_BICUBIC ? "bicubic" : "bilinear", mirror ? " mirrored" : "", d);
        cases++;
        image_free(&src);
        image_free(&a);
        image_free(&b);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(cases, 400);
}

/* ShearX/Y and Rotate (the bilinear warps) at any factor or angle, on sizes
 * below, at and above the 8-pixel blocks; blocks inside the image, at its
 * edges and wholly outside. */
TEST(warps_simd_equal_portable) {
    simd_available();
    rng_t r;
    rng_init(&r, 2024, 8);
    static const aug_op_t ops[] = {AUG_SHEAR_X, AUG_SHEAR_Y, AUG_ROTATE};
    int bad = 0;
    for (int it = 0; it < 300; it++) {
        int w = 1 + (int)rng_below(&r, it % 3 == 0 ? 400 : 40), h = 1 + (int)rng_below(&r, it % 3 == 0 ? 300 : 40);
        aug_op_t op = ops[it % 3];
        double arg = op == AUG_ROTATE ? rng_range(&r, -200, 200) : rng_range(&r, -2, 2);
        if (it % 10 == 0) arg = op == AUG_ROTATE ? (it % 20 ? 30 : -30) : (it % 20 ? 0.15 : -0.15); /* BLIP's M=5 */
        image_t a, b;
        random_image(&a, w, h, &r);
        image_alloc(&b, w, h);
        memcpy(b.px, a.px, (size_t)w * h * 3);
        pixel_simd = 1;
        aug_apply(&a, op, arg);
        pixel_simd = 0;
        aug_apply(&b, op, arg);
        pixel_simd = 1;
        size_t d = differing(a.px, b.px, (size_t)w * h * 3);
        if (d && bad++ < 5) CHECK_MSG(0, "%s(%g) on %dx%d: %zu bytes differ", AUG_NAMES[op], arg, w, h, d);
        image_free(&a);
        image_free(&b);
    }
    CHECK_EQ_INT(bad, 0);
}

/* Every byte value in every channel, then random images of odd sizes: the
 * floats are bit for bit the same. */
TEST(normalize_simd_equals_portable) {
    simd_available();
    rng_t r;
    rng_init(&r, 2024, 9);
    int bad = 0;
    for (int it = 0; it < 60; it++) {
        /* the first image has every value in pixels the SIMD path converts (not the last few) */
        int w = it == 0 ? 266 : 1 + (int)rng_below(&r, 100), h = it == 0 ? 1 : 1 + (int)rng_below(&r, 50);
        image_t im;
        random_image(&im, w, h, &r);
        if (it == 0)
            for (int v = 0; v < 256; v++) im.px[3 * v] = im.px[3 * v + 1] = im.px[3 * v + 2] = (uint8_t)(255 - v);
        size_t n = (size_t)w * h * 3;
        float *a = xmalloc(n * sizeof(float)), *b = xmalloc(n * sizeof(float));
        pixel_simd = 1;
        normalize_chw(&im, a);
        pixel_simd = 0;
        normalize_chw(&im, b);
        pixel_simd = 1;
        if (memcmp(a, b, n * sizeof(float)) != 0 && bad++ < 5) CHECK_MSG(0, "%dx%d: floats differ", w, h);
        free(a);
        free(b);
        image_free(&im);
    }
    CHECK_EQ_INT(bad, 0);
}
