/* test.h - a minimal unit-test harness; include once per test program.
 *
 *   TEST(crc_known_value) { CHECK_EQ_U64(crc32c(0, "123456789", 9), 0xE3069283); }
 *
 * Each TEST prints "PASS name" or "FAIL name" (after the failed checks, each
 * as "  file:line: message"); tests/run counts those lines. Checks do not
 * abort the test. Run one program with a name argument to run only tests
 * whose name contains it. */
#ifndef BLIP_TEST_H
#define BLIP_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
static struct { const char *name; test_fn fn; } g_tests[256];
static int g_ntests, g_failed_checks;

#define TEST(tname)                                                            \
    static void test_##tname(void);                                            \
    __attribute__((constructor)) static void register_##tname(void) {         \
        g_tests[g_ntests].name = #tname;                                       \
        g_tests[g_ntests++].fn = test_##tname;                                 \
    }                                                                         \
    static void test_##tname(void)

#define CHECK_MSG(cond, ...)                                                  \
    do {                                                                      \
        if (!(cond)) {                                                        \
            g_failed_checks++;                                                \
            printf("  %s:%d: ", __FILE__, __LINE__);                          \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)
#define CHECK(cond) CHECK_MSG(cond, "check failed: %s", #cond)
#define CHECK_EQ_INT(a, b)                                                    \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        CHECK_MSG(a_ == b_, "%s == %s: %lld != %lld", #a, #b, a_, b_);        \
    } while (0)
#define CHECK_EQ_U64(a, b)                                                    \
    do {                                                                      \
        unsigned long long a_ = (a), b_ = (b);                                \
        CHECK_MSG(a_ == b_, "%s == %s: 0x%llx != 0x%llx", #a, #b, a_, b_);    \
    } while (0)
#define CHECK_STR(a, b)                                                       \
    do {                                                                      \
        const char *a_ = (a), *b_ = (b);                                      \
        CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "%s == %s: \"%s\" != \"%s\"", \
                  #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                 \
    do {                                                                      \
        double a_ = (a), b_ = (b);                                            \
        CHECK_MSG(fabs(a_ - b_) <= (tol), "%s ~ %s: %.17g vs %.17g (tol %g)", \
                  #a, #b, a_, b_, (double)(tol));                             \
    } while (0)

/* Directory of shared test data (../shared), from $BLIP_SHARED. */
static inline const char *test_shared_dir(void) {
    const char *s = getenv("BLIP_SHARED");
    return s && *s ? s : "../shared";
}

int main(int argc, char **argv) {
    int failed = 0;
    for (int i = 0; i < g_ntests; i++) {
        if (argc > 1 && !strstr(g_tests[i].name, argv[1])) continue;
        int before = g_failed_checks;
        fflush(stdout);
        g_tests[i].fn();
        int ok = g_failed_checks == before;
        printf("%s %s\n", ok ? "PASS" : "FAIL", g_tests[i].name);
        fflush(stdout);
        failed += !ok;
    }
    return failed ? 1 : 0;
}

#endif
