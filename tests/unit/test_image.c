/* test_image.c - decoding every image kind to RGB8 and resampling, against
 * Pillow's output (fixtures from tests/ref/make_image_fixtures.py). */
#include "test.h"

#include "err.h"
#include "fileio.h"
#include "image.h"
#include "resize.h"

#define FIX "tests/fixtures/image/"

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > m) m = d;
    }
    return m;
}

static void load_image(const char *file, image_t *im) {
    char *path = xasprintf(FIX "%s", file), err[256];
    size_t n;
    char *buf = read_file(path, &n);
    int rc = image_decode(buf, n, im, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", file, err);
    free(buf);
    free(path);
}

static uint8_t *load_rgb(const char *file, size_t want) {
    char *path = xasprintf(FIX "%s", file);
    size_t n;
    uint8_t *buf = (uint8_t *)read_file(path, &n);
    CHECK_MSG(n == want, "%s: %zu bytes, expected %zu", file, n, want);
    free(path);
    return buf;
}

TEST(decode_matches_pillow_for_every_kind) {
    FILE *f = fopen(FIX "index.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64], file[128];
        int w, h;
        if (strncmp(line, "resize ", 7) == 0 || sscanf(line, "%63s %127s %d %d", name, file, &w, &h) != 4) continue;
        image_t im;
        load_image(file, &im);
        CHECK_MSG(im.w == w && im.h == h, "%s: %dx%d, expected %dx%d", name, im.w, im.h, w, h);
        char *rgbname = xasprintf("%s.rgb", name);
        uint8_t *want = load_rgb(rgbname, (size_t)w * h * 3);
        if (im.px && im.w == w && im.h == h) {
            int d = max_diff(im.px, want, (size_t)w * h * 3);
            CHECK_MSG(d == 0, "%s: max pixel difference %d from Pillow", name, d);
        }
        int pw, ph;
        char err[256];
        char *path = xasprintf(FIX "%s", file);
        size_t n;
        char *buf = read_file(path, &n);
        CHECK(image_probe(buf, n, &pw, &ph, err, sizeof err) == 0 && pw == w && ph == h);
        free(buf);
        free(path);
        free(want);
        free(rgbname);
        image_free(&im);
        cases++;
    }
    fclose(f);
    CHECK_EQ_INT(cases, 14);
}

TEST(resize_matches_pillow_exactly) {
    FILE *f = fopen(FIX "index.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int cases = 0;
    image_t src;
    load_image("resize_src.png", &src);
    while (fgets(line, sizeof line, f)) {
        char filter[32], srcname[64], out[128];
        int x0, y0, cw, ch, w, h;
        if (sscanf(line, "resize %31s %63s %d %d %d %d %d %d %127s", filter, srcname, &x0, &y0, &cw, &ch, &w,
                   &h, out) != 9)
            continue;
        image_t dst;
        image_alloc(&dst, w, h);
        resize_rgb8(&src, x0, y0, cw, ch, &dst, strcmp(filter, "bicubic") == 0 ? RESAMPLE_BICUBIC : RESAMPLE_BILINEAR);
        uint8_t *want = load_rgb(out, (size_t)w * h * 3);
        int d = max_diff(dst.px, want, (size_t)w * h * 3);
        CHECK_MSG(d == 0, "%s: max pixel difference %d from Pillow", out, d);
        free(want);
        image_free(&dst);
        cases++;
    }
    fclose(f);
    image_free(&src);
    CHECK_EQ_INT(cases, 24);
}

TEST(bad_images_are_errors_not_crashes) {
    char err[256];
    image_t im;
    size_t n;
    char *jpg = read_file(FIX "jpeg_rgb.jpg", &n);
    CHECK(image_decode(jpg, n / 2, &im, err, sizeof err) != 0);
    CHECK(strstr(err, "truncated") != NULL);
    CHECK(image_decode(jpg, 10, &im, err, sizeof err) != 0);
    CHECK(image_decode("hello world", 11, &im, err, sizeof err) != 0);
    CHECK(image_decode(jpg, 0, &im, err, sizeof err) != 0);
    free(jpg);
    char *png = read_file(FIX "png_rgb.png", &n);
    CHECK(image_decode(png, n - 20, &im, err, sizeof err) != 0);
    png[40] ^= 0x55; /* corrupt IHDR/IDAT: CRC mismatch */
    CHECK(image_decode(png, n, &im, err, sizeof err) != 0);
    free(png);
}

TEST(jpeg_encode_round_trip) {
    image_t src; /* smooth content: JPEG at q95 stays close */
    image_alloc(&src, 64, 48);
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) {
            uint8_t *p = src.px + (y * 64 + x) * 3;
            p[0] = (uint8_t)(x * 4);
            p[1] = (uint8_t)(y * 5);
            p[2] = (uint8_t)(128 + 60 * sin(x * 0.2) * cos(y * 0.15));
        }
    int flag_sets[] = {0, JPEG_PROGRESSIVE, JPEG_GRAY, JPEG_444};
    for (size_t i = 0; i < ARRAY_LEN(flag_sets); i++) {
        size_t n;
        uint8_t *jpg = image_encode_jpeg(&src, 95, flag_sets[i], &n);
        image_t back;
        char err[256];
        CHECK(image_decode(jpg, n, &back, err, sizeof err) == 0);
        CHECK(back.w == src.w && back.h == src.h);
        if (flag_sets[i] != JPEG_GRAY && back.px) {
            double se = 0;
            for (size_t k = 0; k < (size_t)src.w * src.h * 3; k++) se += pow(back.px[k] - src.px[k], 2);
            CHECK_MSG(se / (src.w * src.h * 3) < 4, "flags %d: mse %.1f", flag_sets[i], se / (src.w * src.h * 3));
        }
        image_free(&back);
        free(jpg);
    }
    image_free(&src);
}
