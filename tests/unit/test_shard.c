/* test_shard.c - shard format round trips (file, random access, stream) and
 * detection of every single-byte corruption and every truncation. */
#include "test.h"

#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "image.h"
#include "shard.h"

static const char *CAPS[] = {"a dog on a skateboard", "Ünïcödé — “quotes” 日本語", "", "x"};

/* A tiny JPEG so records pass the image-format check. */
static uint8_t *tiny_jpeg(size_t *n, int seed) {
    image_t im;
    image_alloc(&im, 8 + seed, 8);
    for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) im.px[i] = (uint8_t)(i * 7 + seed);
    uint8_t *j = image_encode_jpeg(&im, 90, 0, n);
    image_free(&im);
    return j;
}

static void write_test_shard(const char *path, int nrec) {
    shard_writer_t *w = shard_writer_open(path);
    bytes_t b = {0};
    for (int r = 0; r < nrec; r++) {
        size_t n;
        uint8_t *jpg = tiny_jpeg(&n, r);
        shard_caption_t caps[4];
        for (int k = 0; k < 4; k++) caps[k] = (shard_caption_t){1000 * r + k, CAPS[k], (uint32_t)strlen(CAPS[k])};
        shard_record_t rec = {.image_id = 42 + r, .width = 8 + r, .height = 8, .split = r % 2 ? "val" : "train",
                              .file_name = "train2014/x.jpg", .image_format = IMG_JPEG, .image = jpg,
                              .image_len = n, .ncaps = (uint32_t)(r % 5 == 4 ? 0 : 4), .caps = caps};
        shard_encode_record(&b, &rec);
        shard_writer_add(w, b.v, b.n);
        free(jpg);
    }
    shard_stats_t st;
    shard_writer_close(w, &st);
    CHECK_EQ_INT(st.records, nrec);
    free(b.v);
}

static void check_record(const shard_record_t *rec, int r) {
    CHECK_EQ_INT(rec->image_id, 42 + r);
    CHECK_EQ_INT(rec->width, 8 + r);
    CHECK_STR(rec->split, r % 2 ? "val" : "train");
    CHECK_STR(rec->file_name, "train2014/x.jpg");
    CHECK_EQ_INT(rec->ncaps, r % 5 == 4 ? 0 : 4);
    for (uint32_t k = 0; k < rec->ncaps; k++) {
        CHECK_STR(rec->caps[k].text, CAPS[k]);
        CHECK_EQ_INT(rec->caps[k].id, 1000 * r + (int)k);
    }
    size_t n;
    uint8_t *jpg = tiny_jpeg(&n, r);
    CHECK(rec->image_len == n && memcmp(rec->image, jpg, n) == 0);
    free(jpg);
}

static char *tmp_path(const char *name) {
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/blip-shard-XXXXXX");
        if (!mkdtemp(dir)) die("mkdtemp failed");
    }
    return path_join(dir, name);
}

TEST(round_trip_random_access_and_stream) {
    char *path = tmp_path("a.shard");
    write_test_shard(path, 11);
    shard_set_t *s = shard_open(path);
    CHECK_EQ_INT(shard_count(s), 11);
    shard_record_t rec = {0};
    for (int r = 10; r >= 0; r--) { /* random access, backwards */
        shard_get(s, (size_t)r, &rec);
        check_record(&rec, r);
    }
    int r = 0;
    while (shard_next(s, &rec)) check_record(&rec, r++);
    CHECK_EQ_INT(r, 11);
    shard_close(s);
    /* the same file read as a stream (a pipe-like FILE) */
    char *cmd = xasprintf("cat %s %s", path, path); /* two shards concatenated */
    FILE *p = popen(cmd, "r");
    int saved = dup(0);
    dup2(fileno(p), 0);
    s = shard_open("-");
    CHECK(shard_is_stream(s));
    r = 0;
    while (shard_next(s, &rec)) check_record(&rec, r++ % 11);
    CHECK_EQ_INT(r, 22);
    shard_close(s);
    dup2(saved, 0);
    close(saved);
    pclose(p);
    shard_record_free(&rec);
    free(cmd);
    unlink(path);
    free(path);
}

TEST(empty_shard_is_valid) {
    char *path = tmp_path("empty.shard");
    write_test_shard(path, 0);
    shard_stats_t st;
    char err[256];
    CHECK(shard_verify(path, &st, err, sizeof err) == 0);
    CHECK_EQ_INT(st.records, 0);
    unlink(path);
    free(path);
}

TEST(every_flipped_byte_and_truncation_is_detected) {
    char *path = tmp_path("b.shard"), *bad = tmp_path("bad.shard");
    write_test_shard(path, 3);
    size_t n;
    uint8_t *orig = (uint8_t *)read_file(path, &n);
    shard_stats_t st;
    char err[512];
    CHECK(shard_verify(path, &st, err, sizeof err) == 0);
    CHECK_EQ_INT(st.records, 3);
    CHECK_EQ_INT(st.captions, 12);
    int undetected = 0;
    for (size_t i = 0; i < n; i++) {
        orig[i] ^= 0x20;
        write_file_atomic(bad, orig, n);
        if (shard_verify(bad, &st, err, sizeof err) == 0) undetected++;
        orig[i] ^= 0x20;
    }
    CHECK_MSG(undetected == 0, "%d of %zu single-byte flips went undetected", undetected, n);
    int truncated_ok = 0;
    for (size_t len = 0; len < n; len++) {
        write_file_atomic(bad, orig, len);
        if (shard_verify(bad, &st, err, sizeof err) == 0) truncated_ok++;
    }
    CHECK_MSG(truncated_ok == 0, "%d truncations passed verification", truncated_ok);
    /* the error names the record */
    orig[16 + 50] ^= 1; /* inside record 0 */
    write_file_atomic(bad, orig, n);
    CHECK(shard_verify(bad, &st, err, sizeof err) != 0 && strstr(err, "record 0") != NULL);
    free(orig);
    unlink(path);
    unlink(bad);
    free(path);
    free(bad);
}
