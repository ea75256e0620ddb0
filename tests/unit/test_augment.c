/* test_augment.c - BLIP's augmentation ops against BLIP's own OpenCV/numpy
 * code (fixtures from tests/ref/make_augment_fixtures.py), normalization,
 * and the random crop and RandomAugment draws. */
#include "test.h"

#include "augment.h"
#include "err.h"
#include "fileio.h"
#include "resize.h"

#define FIX "tests/fixtures/augment/"

static void load_src(image_t *im) {
    size_t n;
    char err[256];
    char *buf = read_file(FIX "src.png", &n);
    CHECK(image_decode(buf, n, im, err, sizeof err) == 0);
    free(buf);
}

TEST(ops_match_blip_exactly) {
    FILE *f = fopen(FIX "index.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[256], name[64], file[128];
    double arg;
    int cases = 0;
    while (fgets(line, sizeof line, f) && sscanf(line, "%63s %lf %127s", name, &arg, file) == 3) {
        int op = -1;
        for (int k = 0; k < AUG_NOPS; k++)
            if (strcmp(AUG_NAMES[k], name) == 0) op = k;
        CHECK_MSG(op >= 0, "unknown op %s", name);
        if (op < 0) continue;
        image_t im;
        load_src(&im);
        aug_apply(&im, (aug_op_t)op, arg);
        char *path = xasprintf(FIX "%s", file);
        size_t n;
        uint8_t *want = (uint8_t *)read_file(path, &n);
        CHECK(n == (size_t)im.w * im.h * 3);
        int diff = 0, maxd = 0;
        for (size_t i = 0; i < n && i < (size_t)im.w * im.h * 3; i++) {
            int d = abs((int)im.px[i] - want[i]);
            diff += d != 0;
            maxd = d > maxd ? d : maxd;
        }
        CHECK_MSG(diff == 0, "%s(%g): %d bytes differ from BLIP, max %d", name, arg, diff, maxd);
        free(want);
        free(path);
        image_free(&im);
        cases++;
    }
    fclose(f);
    CHECK_EQ_INT(cases, 22);
}

TEST(normalize_matches_torchvision) {
    image_t im;
    load_src(&im);
    size_t n;
    float *want = (float *)read_file(FIX "normalize.f32", &n);
    CHECK(n == (size_t)im.w * im.h * 3 * sizeof(float));
    float *got = xmalloc(n);
    normalize_chw(&im, got);
    double maxd = 0;
    for (size_t i = 0; i < n / sizeof(float); i++) maxd = fmax(maxd, fabs(got[i] - want[i]));
    CHECK_MSG(maxd == 0, "max difference %g", maxd);
    free(got);
    free(want);
    image_free(&im);
}

TEST(random_resized_crop_in_bounds_and_distributed) {
    rng_t r;
    rng_init(&r, 1, 2);
    double area_sum = 0;
    for (int i = 0; i < 50000; i++) {
        crop_t c = random_resized_crop(&r, 640, 480, 0.5, 1.0, 3.0 / 4, 4.0 / 3);
        CHECK(c.x >= 0 && c.y >= 0 && c.w > 0 && c.h > 0 && c.x + c.w <= 640 && c.y + c.h <= 480);
        area_sum += (double)c.w * c.h / (640.0 * 480);
    }
    /* torchvision's rule simulated in Python on 640x480: mean area fraction 0.6613 */
    CHECK_NEAR(area_sum / 50000, 0.6613, 0.005);
    /* very wide image: every try fails, central crop at ratio 4/3 */
    crop_t c = random_resized_crop(&r, 1000, 10, 0.5, 1.0, 3.0 / 4, 4.0 / 3);
    CHECK(c.h == 10 && c.w == 13 && c.x == (1000 - 13) / 2 && c.y == 0);
}

TEST(train_transform_deterministic_per_stream) {
    image_t src, a, b;
    load_src(&src);
    int differ = 0;
    for (uint64_t s = 0; s < 20; s++) {
        rng_t r1, r2;
        rng_init(&r1, 42, s);
        rng_init(&r2, 42, s);
        train_transform(&src, random_resized_crop(&r1, src.w, src.h, 0.5, 1, 0.75, 4.0 / 3), 32, &TRAIN_AUG_BLIP, &r1, &a);
        train_transform(&src, random_resized_crop(&r2, src.w, src.h, 0.5, 1, 0.75, 4.0 / 3), 32, &TRAIN_AUG_BLIP, &r2, &b);
        CHECK(memcmp(a.px, b.px, 32 * 32 * 3) == 0);
        if (s > 0) {
            image_t c;
            rng_t r3;
            rng_init(&r3, 42, s - 1);
            train_transform(&src, random_resized_crop(&r3, src.w, src.h, 0.5, 1, 0.75, 4.0 / 3), 32, &TRAIN_AUG_BLIP, &r3, &c);
            differ += memcmp(a.px, c.px, 32 * 32 * 3) != 0;
            image_free(&c);
        }
        image_free(&a);
        image_free(&b);
    }
    CHECK(differ >= 18);
    image_free(&src);
}

/* A config that turns the augmentations off (min_scale 1, no flip, no
 * RandomAugment) gets the whole image resized, as the test transform does. */
TEST(train_transform_with_augmentation_off_is_the_resize) {
    image_t src, got, want;
    load_src(&src);
    train_aug_t off = {.min_scale = 1, .hflip = 0, .randaug_n = 0, .randaug_m = 5};
    image_alloc(&want, 32, 32);
    resize_rgb8(&src, 0, 0, src.w, src.h, &want, RESAMPLE_BICUBIC);
    int same = 0;
    for (uint64_t s = 0; s < 10; s++) {
        rng_t r;
        rng_init(&r, 42, s);
        crop_t c = random_resized_crop(&r, src.w, src.h, off.min_scale, 1, 0.75, 4.0 / 3);
        train_transform(&src, c, 32, &off, &r, &got);
        same += c.x == 0 && c.y == 0 && c.w == src.w && c.h == src.h && memcmp(got.px, want.px, 32 * 32 * 3) == 0;
        image_free(&got);
    }
    CHECK_EQ_INT(same, 10);
    image_free(&want);
    image_free(&src);
}

/* The flip after the resize (resize_rgb8_mirror): pixel x of each row of
 * the plain resize becomes pixel w-1-x, for odd and even widths, shrinking,
 * enlarging and at the same width (no resampling then), in both orders of
 * the passes. */
TEST(mirrored_resize_mirrors_each_row) {
    image_t src;
    load_src(&src);
    int bad = 0, cases = 0;
    for (int w = 1; w <= 6; w++)
        for (int h = 1; h <= 3; h++) {
            int sizes[][2] = {{w, h}, {(w + 1) / 2, (h + 1) / 2}, {w, 2 * h}, {src.w, h}, {w, src.h}, {w + 40, h + 9}};
            for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                int cw = sizes[k][0] < src.w ? sizes[k][0] : src.w, ch = sizes[k][1] < src.h ? sizes[k][1] : src.h;
                image_t plain, mir;
                image_alloc(&plain, w, h);
                image_alloc(&mir, w, h);
                resize_rgb8(&src, 0, 0, cw, ch, &plain, RESAMPLE_BICUBIC);
                resize_rgb8_mirror(&src, 0, 0, cw, ch, &mir, RESAMPLE_BICUBIC, 1);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        bad += memcmp(mir.px + ((size_t)y * w + x) * 3, plain.px + ((size_t)y * w + (w - 1 - x)) * 3,
                                      3) != 0;
                cases++;
                image_free(&plain);
                image_free(&mir);
            }
        }
    CHECK_MSG(bad == 0, "%d pixels not mirrored in %d resizes", bad, cases);
    image_free(&src);
}
