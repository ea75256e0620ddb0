/* test_image.c - decoding every image kind to RGB8 and resampling, against
 * Pillow's output (fixtures from tests/ref/make_image_fixtures.py); a JPEG
 * decoded in part against the whole decode. */
#include "test.h"

#include <turbojpeg.h>

#include "augment.h"
#include "err.h"
#include "fileio.h"
#include "image.h"
#include "resize.h"
#include "rng.h"

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
    int w, h;
    CHECK(image_probe(jpg, n / 2, &w, &h, err, sizeof err) != 0 && strstr(err, "truncated") != NULL);
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

/* A JPEG of a w x h picture with soft gradients, hard colour edges (where
 * chroma upsampling shows) and noise, encoded by TurboJPEG with the given
 * subsampling (TJSAMP_*; TJSAMP_GRAY from gray input, CMYK input for YCCK). */
static uint8_t *test_jpeg(int w, int h, int samp, int cmyk, int progressive, size_t *len) {
    int ch = samp == TJSAMP_GRAY ? 1 : cmyk ? 4 : 3;
    uint8_t *px = xmalloc((size_t)w * h * ch);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                int edge = ((x / (5 + c)) + (y / (7 - c))) % 2 ? 90 : 0;
                int noise = (int)((uint32_t)(x * 73856093u ^ y * 19349663u ^ c * 83492791u) % 41u);
                px[((size_t)y * w + x) * ch + c] = (uint8_t)((x * 255 / w + y * (c + 1) * 97 / h + edge + noise) & 255);
            }
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    int pf = ch == 1 ? TJPF_GRAY : ch == 4 ? TJPF_CMYK : TJPF_RGB;
    int rc = tjCompress2(tj, px, w, 0, h, pf, &jpeg, &jlen, samp, 92, progressive ? TJFLAG_PROGRESSIVE : 0);
    CHECK_MSG(rc == 0, "encode: %s", tjGetErrorStr2(tj));
    uint8_t *copy = xmalloc(jlen);
    memcpy(copy, jpeg, jlen);
    tjFree(jpeg);
    tjDestroy(tj);
    free(px);
    *len = jlen;
    return copy;
}

/* A crop whose start crop_rescale maps one pixel below the integer floor
 * of the scaled start (at 2/8, 935 * 702 / 2805 is exactly 234; in floating
 * point 935 * (702 / 2805.0) truncates to 233) still lies in the part's
 * exact columns and rows. */
TEST(part_covers_crops_rescaled_below_the_floor) {
    static const struct { int W, H; image_rect_t win; } cases[] = {
        {2805, 2000, {935, 0, 1870, 1600}}, /* the loader's S = 384: decoded at 2/8 */
        {2000, 2805, {0, 935, 1600, 1870}},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int W = cases[k].W, H = cases[k].H;
        image_rect_t win = cases[k].win;
        size_t n;
        uint8_t *jpg = test_jpeg(W, H, TJSAMP_420, 0, 0, &n);
        int min_w = (int)ceil(384.0 * W / win.w), min_h = (int)ceil(384.0 * H / win.h);
        image_part_t part;
        char err[256];
        CHECK(image_decode_part(jpg, n, min_w, min_h, &win, &part, err, sizeof err) == 0);
        image_t scaled = {.w = part.full_w, .h = part.full_h};
        crop_t c = crop_rescale((crop_t){win.x, win.y, win.w, win.h}, W, H, &scaled);
        CHECK_MSG(part.full_w < W, "%dx%d: not DCT-scaled (%dx%d)", W, H, part.full_w, part.full_h);
        CHECK_MSG(part.x + part.lo <= c.x && c.x + c.w <= part.x + part.im.w - part.hi && part.y <= c.y &&
                      c.y + c.h <= part.y + part.im.h,
                  "%dx%d: crop %d,%d %dx%d outside the exact part %d..%d x %d..%d", W, H, c.x, c.y, c.w, c.h,
                  part.x + part.lo, part.x + part.im.w - part.hi, part.y, part.y + part.im.h);
        image_free(&part.im);
        free(jpg);
    }
}

/* Every pixel of a part decode equals the whole decode's at the same scale,
 * and the part covers the window as crop_rescale maps it (the loader's use),
 * for random windows and DCT scales over every subsampling and odd sizes. */
TEST(jpeg_part_decode_equals_the_whole_decode) {
    static const struct { const char *name; int samp, cmyk, progressive; } kinds[] = {
        {"4:2:0", TJSAMP_420, 0, 0}, {"4:2:2", TJSAMP_422, 0, 0}, {"4:4:0", TJSAMP_440, 0, 0},
        {"4:4:4", TJSAMP_444, 0, 0}, {"4:1:1", TJSAMP_411, 0, 0}, {"gray", TJSAMP_GRAY, 0, 0},
        {"progressive 4:2:0", TJSAMP_420, 0, 1}, {"progressive gray", TJSAMP_GRAY, 0, 1},
        {"CMYK (YCCK 4:2:0)", TJSAMP_420, 1, 0},
    };
    static const int sizes[][2] = {{97, 61}, {33, 250}, {331, 247}};
    rng_t r;
    rng_init(&r, 11, 0);
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++)
        for (size_t z = 0; z < ARRAY_LEN(sizes); z++) {
            int W = sizes[z][0], H = sizes[z][1], bad = 0, cropped = 0, trials = 60;
            size_t n;
            uint8_t *jpg = test_jpeg(W, H, kinds[k].samp, kinds[k].cmyk, kinds[k].progressive, &n);
            char err[256];
            for (int t = 0; t < trials && !bad; t++) {
                int min_w = 1 + (int)rng_below(&r, (uint32_t)W), min_h = 1 + (int)rng_below(&r, (uint32_t)H);
                image_rect_t win;
                win.x = (int)rng_below(&r, (uint32_t)W);
                win.y = (int)rng_below(&r, (uint32_t)H);
                win.w = 1 + (int)rng_below(&r, (uint32_t)(W - win.x));
                win.h = 1 + (int)rng_below(&r, (uint32_t)(H - win.y));
                image_t whole;
                image_part_t part;
                CHECK(image_decode_scaled(jpg, n, min_w, min_h, &whole, err, sizeof err) == 0);
                CHECK(image_decode_part(jpg, n, min_w, min_h, &win, &part, err, sizeof err) == 0);
                CHECK(part.full_w == whole.w && part.full_h == whole.h);
                crop_t c = crop_rescale((crop_t){win.x, win.y, win.w, win.h}, W, H, &whole);
                int x0 = part.x + part.lo, x1 = part.x + part.im.w - part.hi; /* the exact columns */
                bad |= !(x0 <= c.x && part.y <= c.y && c.x + c.w <= x1 && c.y + c.h <= part.y + part.im.h &&
                         part.x + part.im.w <= whole.w && part.y + part.im.h <= whole.h);
                cropped += part.im.w < whole.w || part.im.h < whole.h;
                for (int y = 0; y < part.im.h && !bad; y++) {
                    const uint8_t *a = part.im.px + ((size_t)y * part.im.w + part.lo) * 3;
                    const uint8_t *b = whole.px + ((size_t)(part.y + y) * whole.w + x0) * 3;
                    bad |= memcmp(a, b, (size_t)(x1 - x0) * 3) != 0;
                }
                CHECK_MSG(!bad, "%s %dx%d: window %d,%d %dx%d at %dx%d: part %d,%d %dx%d differs or misses it",
                          kinds[k].name, W, H, win.x, win.y, win.w, win.h, whole.w, whole.h, part.x, part.y,
                          part.im.w, part.im.h);
                image_free(&whole);
                image_free(&part.im);
            }
            CHECK_MSG(cropped > trials / 2, "%s %dx%d: only %d of %d decodes were partial", kinds[k].name, W, H,
                      cropped, trials);
            free(jpg);
        }
}
