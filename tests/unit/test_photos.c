/* test_photos.c - blip-gen's preprocessing (image_decode, then the bicubic
 * resize to S x S) on real photographs against BLIP's test transform /
 * HF BlipImageProcessor (Pillow decode + Image.resize BICUBIC): every pixel
 * within 1, and the share that is exactly equal reported (fixtures from
 * tests/ref/make_photo_fixtures.py: JPEGs of scikit-image's photos). */
#include "test.h"

#include "err.h"
#include "fileio.h"
#include "image.h"
#include "resize.h"

#define FIX "tests/fixtures/photos/"

static int load(const char *file, image_t *im) {
    char *path = xasprintf(FIX "%s", file), err[256];
    size_t n;
    char *buf = read_file(path, &n);
    int rc = image_decode(buf, n, im, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", file, err);
    free(buf);
    free(path);
    return rc;
}

TEST(photos_within_one_of_pillow) {
    FILE *f = fopen(FIX "index.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char jpg[128], png[128];
    int S, cases = 0;
    size_t equal = 0, total = 0;
    while (fscanf(f, "%127s %d %127s", jpg, &S, png) == 3) {
        image_t src, want, got;
        if (load(jpg, &src) || load(png, &want)) continue;
        CHECK_EQ_INT(want.w, S);
        CHECK_EQ_INT(want.h, S);
        image_alloc(&got, S, S);
        resize_rgb8(&src, 0, 0, src.w, src.h, &got, RESAMPLE_BICUBIC);
        size_t n = 3 * (size_t)S * S, same = 0;
        int worst = 0;
        for (size_t i = 0; i < n; i++) {
            int d = abs((int)got.px[i] - (int)want.px[i]);
            worst = d > worst ? d : worst;
            same += d == 0;
        }
        CHECK_MSG(worst <= 1, "%s -> %d: max diff %d", jpg, S, worst);
        printf("  %s %dx%d -> %d: max diff %d, %.4f%% equal\n", jpg, src.w, src.h, S, worst, 100.0 * same / n);
        equal += same;
        total += n;
        cases++;
        image_free(&src);
        image_free(&want);
        image_free(&got);
    }
    fclose(f);
    CHECK(cases >= 5);
    if (total) printf("  all: %.4f%% of %zu values equal\n", 100.0 * equal / total, total);
}
