/* test_base.c - CRC32C, SHA-256, the Philox RNG, the thread pool, atomic files. */
#include "test.h"

#include <stdatomic.h>
#include <unistd.h>

#include "crc32c.h"
#include "err.h"
#include "fileio.h"
#include "pool.h"
#include "rng.h"
#include "sha256.h"

TEST(crc32c_known_values) {
    CHECK_EQ_U64(crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(crc32c(0, "", 0), 0);
    uint8_t zeros[32] = {0};
    CHECK_EQ_U64(crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
}

TEST(crc32c_pieces_equal_whole) {
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (uint8_t)(i * 31 + 7);
    uint32_t whole = crc32c(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= 1000; cut += 37)
        CHECK_EQ_U64(crc32c(crc32c(0, buf, cut), buf + cut, 1000 - cut), whole);
}

static void sha_hex_of(const char *s, size_t n, char hex[65]) {
    sha256_t h;
    uint8_t d[32];
    sha256_init(&h);
    sha256_update(&h, s, n);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

TEST(sha256_known_values) {
    char hex[65];
    sha_hex_of("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex_of("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex_of(m, strlen(m), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256_streaming_equals_oneshot) {
    char buf[300], a[65], b[65];
    for (int i = 0; i < 300; i++) buf[i] = (char)i;
    sha_hex_of(buf, 300, a);
    sha256_t h;
    uint8_t d[32];
    sha256_init(&h);
    for (int i = 0; i < 300; i += 7) sha256_update(&h, buf + i, i + 7 <= 300 ? 7 : 300 - i);
    sha256_final(&h, d);
    sha256_hex(d, b);
    CHECK_STR(a, b);
}

TEST(philox_known_answer) {
    /* Random123 known-answer vectors for philox4x32_10. */
    uint32_t out[4];
    const uint32_t k0[2] = {0, 0}, c0[4] = {0, 0, 0, 0};
    philox4x32(k0, c0, out);
    CHECK_EQ_U64(out[0], 0x6627e8d5u);
    CHECK_EQ_U64(out[1], 0xe169c58du);
    CHECK_EQ_U64(out[2], 0xbc57ac4cu);
    CHECK_EQ_U64(out[3], 0x9b00dbd8u);
    const uint32_t k1[2] = {0xa4093822, 0x299f31d0};
    const uint32_t c1[4] = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
    philox4x32(k1, c1, out);
    CHECK_EQ_U64(out[0], 0xd16cfe09u);
    CHECK_EQ_U64(out[1], 0x94fdccebu);
    CHECK_EQ_U64(out[2], 0x5001e420u);
    CHECK_EQ_U64(out[3], 0x24126ea1u);
}

TEST(rng_streams_deterministic_and_uniform) {
    rng_t a, b, c;
    rng_init(&a, 42, 7);
    rng_init(&b, 42, 7);
    rng_init(&c, 42, 8);
    int same_c = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = rng_u32(&a), y = rng_u32(&b), z = rng_u32(&c);
        CHECK(x == y);
        same_c += x == z;
    }
    CHECK(same_c < 3);
    double sum = 0;
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        double u = rng_double(&a);
        CHECK(u >= 0 && u < 1);
        sum += u;
        counts[rng_below(&a, 10)]++;
    }
    CHECK_NEAR(sum / 100000, 0.5, 0.01);
    for (int i = 0; i < 10; i++) CHECK(counts[i] > 9500 && counts[i] < 10500);
}

static void add_index(void *ctx, size_t i, int worker) {
    atomic_llong *sum = ctx;
    atomic_fetch_add(sum, (long long)i);
    UNUSED(worker);
}

TEST(pool_visits_every_index_once) {
    pool_t *p = pool_new(3);
    for (int rep = 0; rep < 20; rep++) {
        atomic_llong sum = 0;
        pool_for(p, 1000, add_index, &sum);
        CHECK_EQ_INT(sum, 999 * 1000 / 2);
    }
    pool_free(p);
}

TEST(atomic_file_commit_and_abort) {
    char dir[] = "/tmp/blip-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *path = path_join(dir, "sub/out.txt");
    char *sub = path_join(dir, "sub");
    mkdir_p(sub);
    afile_t a;
    afile_open(&a, path);
    afile_write(&a, "hello", 5);
    CHECK(access(path, F_OK) != 0); /* not visible before commit */
    afile_commit(&a);
    size_t n;
    char *got = read_file(path, &n);
    CHECK(n == 5 && memcmp(got, "hello", 5) == 0);
    free(got);
    afile_open(&a, path);
    afile_write(&a, "partial", 7);
    afile_abort(&a);
    got = read_file(path, &n);
    CHECK(n == 5 && memcmp(got, "hello", 5) == 0); /* old content survives */
    free(got);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
    free(path);
    free(sub);
}
