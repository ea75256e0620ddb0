/* test_loader.c - the data pipeline: epochs visit every pair once, batches
 * do not depend on threads, ranks split global batches exactly, resume
 * reproduces the uninterrupted run, training samples are the transform of
 * the whole image, evaluation sees every image once. */
#include "test.h"

#include <math.h>
#include <unistd.h>

#include "augment.h"
#include "err.h"
#include "fileio.h"
#include "loader.h"
#include "resize.h"
#include "rng.h"

#define NIMG 23
#define S 24

static char g_path[64];

/* A shard of NIMG small JPEGs with 1..3 captions each. */
static const char *make_shard(void) {
    if (g_path[0]) return g_path;
    strcpy(g_path, "/tmp/blip-loader-XXXXXX");
    int fd = mkstemp(g_path);
    close(fd);
    shard_writer_t *w = shard_writer_open(g_path);
    bytes_t b = {0};
    for (int i = 0; i < NIMG; i++) {
        image_t im;
        image_alloc(&im, 40 + 2 * i, 30 + 5 * (i % 7)); /* some crops allow DCT scale 1/2 at S */
        for (size_t k = 0; k < (size_t)im.w * im.h * 3; k++) im.px[k] = (uint8_t)(k * (i + 3) + i);
        size_t n;
        uint8_t *jpg = image_encode_jpeg(&im, 90, 0, &n);
        char caps_text[3][64];
        shard_caption_t caps[3];
        int nc = 1 + i % 3;
        for (int c = 0; c < nc; c++) {
            snprintf(caps_text[c], sizeof caps_text[c], "A picture of image %d, caption %d.", i, c);
            caps[c] = (shard_caption_t){i * 10 + c, caps_text[c], (uint32_t)strlen(caps_text[c])};
        }
        shard_record_t rec = {.image_id = 1000 + i, .width = (uint32_t)im.w, .height = (uint32_t)im.h,
                              .split = "train", .file_name = "x.jpg", .image_format = IMG_JPEG, .image = jpg,
                              .image_len = n, .ncaps = (uint32_t)nc, .caps = caps};
        shard_encode_record(&b, &rec);
        shard_writer_add(w, b.v, b.n);
        free(jpg);
        image_free(&im);
    }
    shard_writer_close(w, NULL);
    free(b.v);
    return g_path;
}

static tokenizer_t *vocab(void) {
    char *p = xasprintf("%s/data/bert-base-uncased-vocab.txt", test_shared_dir());
    tokenizer_t *t = tok_load(p);
    free(p);
    return t;
}

/* All batches of an epoch from `first` on, concatenated: ids and pixels. */
typedef struct {
    DA(int64_t) ids;
    DA(float) px;
    DA(int32_t) tok;
    int batches;
} run_t;

static run_t run_epoch(shard_set_t *s, loader_cfg_t cfg, uint64_t epoch, uint64_t first) {
    run_t r = {0};
    loader_t *l = loader_new(s, &cfg);
    loader_start(l, epoch, first);
    const batch_t *b;
    while ((b = loader_next(l))) {
        for (int i = 0; i < b->B; i++) da_push(&r.ids, b->image_ids[i]);
        size_t n = (size_t)b->B * 3 * S * S;
        da_reserve(&r.px, r.px.n + n);
        memcpy(r.px.v + r.px.n, b->pixels, n * sizeof(float));
        r.px.n += n;
        if (cfg.train)
            for (int i = 0; i < b->caps.B * b->caps.T; i++) da_push(&r.tok, b->caps.ids[i]);
        r.batches++;
    }
    loader_free(l);
    return r;
}

static void free_run(run_t *r) {
    free(r->ids.v);
    free(r->px.v);
    free(r->tok.v);
}

static loader_cfg_t train_cfg(tokenizer_t *t, int B, int threads) {
    return (loader_cfg_t){.image_size = S, .batch_size = B, .seed = 7, .threads = threads, .prefetch = 2,
                          .train = 1, .rank = 0, .world = 1, .tok = t};
}

TEST(epoch_visits_every_pair_once) {
    tokenizer_t *t = vocab();
    shard_set_t *s = shard_open(make_shard());
    loader_t *l = loader_new(s, &(loader_cfg_t){.image_size = S, .batch_size = 5, .seed = 7, .threads = 2,
                                                .prefetch = 2, .train = 1, .world = 1, .tok = t});
    uint64_t pairs = 0;
    for (int i = 0; i < NIMG; i++) pairs += 1 + i % 3;
    CHECK_EQ_INT(loader_samples(l), pairs);
    CHECK_EQ_INT(loader_steps_per_epoch(l), pairs / 5);
    loader_free(l);
    /* batch size 1: nothing dropped, each image once per caption */
    run_t r = run_epoch(s, train_cfg(t, 1, 2), 0, 0);
    CHECK_EQ_INT(r.ids.n, pairs);
    int count[NIMG] = {0};
    for (size_t i = 0; i < r.ids.n; i++) count[r.ids.v[i] - 1000]++;
    for (int i = 0; i < NIMG; i++) CHECK_EQ_INT(count[i], 1 + i % 3);
    run_t r1 = run_epoch(s, train_cfg(t, 1, 2), 1, 0);
    CHECK(memcmp(r.ids.v, r1.ids.v, r.ids.n * sizeof(int64_t)) != 0); /* epochs reshuffle */
    free_run(&r);
    free_run(&r1);
    shard_close(s);
    tok_free(t);
}

TEST(batches_independent_of_threads_and_prefetch) {
    tokenizer_t *t = vocab();
    shard_set_t *s = shard_open(make_shard());
    run_t a = run_epoch(s, train_cfg(t, 4, 1), 3, 0);
    loader_cfg_t c = train_cfg(t, 4, 3);
    c.prefetch = 5;
    run_t b = run_epoch(s, c, 3, 0);
    CHECK(a.batches == b.batches && a.batches > 0);
    CHECK(a.px.n == b.px.n && memcmp(a.px.v, b.px.v, a.px.n * sizeof(float)) == 0);
    CHECK(a.tok.n == b.tok.n && memcmp(a.tok.v, b.tok.v, a.tok.n * sizeof(int32_t)) == 0);
    free_run(&a);
    free_run(&b);
    shard_close(s);
    tok_free(t);
}

TEST(two_ranks_see_the_samples_of_one_with_twice_the_batch) {
    tokenizer_t *t = vocab();
    shard_set_t *s = shard_open(make_shard());
    run_t one = run_epoch(s, train_cfg(t, 6, 2), 2, 0);
    loader_cfg_t c0 = train_cfg(t, 3, 2), c1 = c0;
    c0.world = c1.world = 2;
    c1.rank = 1;
    run_t r0 = run_epoch(s, c0, 2, 0), r1 = run_epoch(s, c1, 2, 0);
    CHECK_EQ_INT(r0.batches, one.batches);
    size_t per = 3 * 3 * S * S;
    int same = r0.batches == one.batches;
    for (int k = 0; same && k < one.batches; k++) {
        same &= memcmp(one.px.v + (2 * k) * per, r0.px.v + k * per, per * sizeof(float)) == 0;
        same &= memcmp(one.px.v + (2 * k + 1) * per, r1.px.v + k * per, per * sizeof(float)) == 0;
    }
    CHECK(same);
    free_run(&one);
    free_run(&r0);
    free_run(&r1);
    shard_close(s);
    tok_free(t);
}

TEST(resume_reproduces_the_rest_of_the_epoch) {
    tokenizer_t *t = vocab();
    shard_set_t *s = shard_open(make_shard());
    run_t full = run_epoch(s, train_cfg(t, 4, 2), 5, 0);
    run_t rest = run_epoch(s, train_cfg(t, 4, 2), 5, 3);
    CHECK_EQ_INT(rest.batches, full.batches - 3);
    size_t off = 3 * 4 * 3 * S * S;
    CHECK(rest.px.n == full.px.n - off && memcmp(rest.px.v, full.px.v + off, rest.px.n * sizeof(float)) == 0);
    free_run(&full);
    free_run(&rest);
    shard_close(s);
    tok_free(t);
}

/* The loader decodes only the part of a JPEG around the crop: every
 * training sample must still be the train transform of the whole image
 * decoded at the DCT scale the crop allows (the crop mapped onto it). */
TEST(train_samples_equal_the_transform_of_the_whole_decode) {
    tokenizer_t *t = vocab();
    shard_set_t *s = shard_open(make_shard());
    loader_cfg_t cfg = train_cfg(t, 1, 2);
    run_t r = run_epoch(s, cfg, 4, 0);
    shard_record_t rec = {0};
    float *want = xmalloc(3 * S * S * sizeof(float));
    int same = 0, scaled = 0;
    for (size_t pos = 0; pos < r.ids.n; pos++) {
        shard_get(s, (size_t)(r.ids.v[pos] - 1000), &rec);
        rng_t g;
        rng_init(&g, cfg.seed, rng_mix(4, pos));
        crop_t c = random_resized_crop(&g, (int)rec.width, (int)rec.height, 0.5, 1.0, 3.0 / 4.0, 4.0 / 3.0);
        int min_w = (int)ceil((double)S * rec.width / c.w), min_h = (int)ceil((double)S * rec.height / c.h);
        image_t src, im;
        char err[128];
        CHECK(image_decode_scaled(rec.image, rec.image_len, min_w, min_h, &src, err, sizeof err) == 0);
        scaled += src.w < (int)rec.width;
        train_transform(&src, crop_rescale(c, (int)rec.width, (int)rec.height, &src), S, &TRAIN_AUG_BLIP, &g, &im);
        normalize_chw(&im, want);
        same += memcmp(want, r.px.v + pos * 3 * S * S, 3 * S * S * sizeof(float)) == 0;
        image_free(&src);
        image_free(&im);
    }
    CHECK_EQ_INT(same, r.ids.n);
    CHECK(scaled > 0); /* some samples went through a DCT-scaled part */
    free(want);
    shard_record_free(&rec);
    free_run(&r);
    shard_close(s);
    tok_free(t);
}

TEST(eval_sees_every_image_once_with_the_test_transform) {
    shard_set_t *s = shard_open(make_shard());
    loader_cfg_t c = {.image_size = S, .batch_size = 4, .seed = 1, .threads = 2, .prefetch = 1, .world = 1};
    run_t r = run_epoch(s, c, 0, 0);
    CHECK_EQ_INT(r.ids.n, NIMG);
    CHECK_EQ_INT(r.batches, (NIMG + 3) / 4);
    shard_record_t rec = {0};
    float *want = xmalloc(3 * S * S * sizeof(float));
    for (int i = 0; i < NIMG; i++) {
        CHECK_EQ_INT(r.ids.v[i], 1000 + i);
        shard_get(s, (size_t)i, &rec);
        image_t src, im;
        char err[128];
        CHECK(image_decode(rec.image, rec.image_len, &src, err, sizeof err) == 0);
        image_alloc(&im, S, S);
        resize_rgb8(&src, 0, 0, src.w, src.h, &im, RESAMPLE_BICUBIC);
        normalize_chw(&im, want);
        CHECK(memcmp(want, r.px.v + (size_t)i * 3 * S * S, 3 * S * S * sizeof(float)) == 0);
        image_free(&src);
        image_free(&im);
    }
    /* two ranks: interleaved batches, together every image once */
    c.world = 2;
    run_t a = run_epoch(s, c, 0, 0);
    c.rank = 1;
    run_t b = run_epoch(s, c, 0, 0);
    CHECK_EQ_INT(a.ids.n + b.ids.n, NIMG);
    CHECK_EQ_INT(b.ids.v[0], 1004);
    free(want);
    shard_record_free(&rec);
    free_run(&r);
    free_run(&a);
    free_run(&b);
    shard_close(s);
}

TEST(several_shard_paths_join_in_argument_order) {
    const char *paths[2] = {make_shard(), make_shard()};
    shard_set_t *s = shard_open_list(paths, 2);
    loader_cfg_t c = {.image_size = S, .batch_size = 5, .seed = 1, .threads = 2, .prefetch = 1, .world = 1};
    run_t r = run_epoch(s, c, 0, 0);
    CHECK_EQ_INT(r.ids.n, 2 * NIMG);
    for (int i = 0; i < 2 * NIMG && (size_t)i < r.ids.n; i++) CHECK_EQ_INT(r.ids.v[i], 1000 + i % NIMG);
    free_run(&r);
    shard_close(s);
}

TEST(scaled_decode_reaches_the_minimum) {
    image_t im, out;
    image_alloc(&im, 64, 48);
    memset(im.px, 100, 64 * 48 * 3);
    size_t n;
    uint8_t *jpg = image_encode_jpeg(&im, 90, 0, &n);
    char err[128];
    CHECK(image_decode_scaled(jpg, n, 20, 20, &out, err, sizeof err) == 0);
    CHECK(out.w == 32 && out.h == 24);
    image_free(&out);
    CHECK(image_decode_scaled(jpg, n, 100, 10, &out, err, sizeof err) == 0);
    CHECK(out.w == 64 && out.h == 48);
    image_free(&out);
    free(jpg);
    image_free(&im);
    unlink(make_shard());
}
