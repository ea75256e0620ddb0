/* ops_parity.c - every op of kernels/ops_list.h on the CUDA backend against
 * the CPU backend (the reference semantics), on identical seeded random
 * inputs, at odd sizes and at BLIP-base's real shapes. Run by tests/gpu/run.
 *
 *   ops_parity fp32|bf16 [FILTER]     FILTER: run only tests whose name has it;
 *                                     BLIP_PARITY_SMALL=1: no case over 2^24 floats
 *                                     (=N: over N)
 *
 * Both backends live in one process: be_open() selects CUDA (and sets up its
 * context), then each case calls be_cpu.op_x on host buffers and be_cuda.op_x
 * on device buffers. Built without CUDA (cc ... build/libblip.a, to check this
 * harness itself), the tested backend is the CPU one.
 *
 * Every device buffer is framed by GUARD poisoned floats on each side, and
 * output buffers are poisoned all through (a NaN bit pattern uploaded first):
 * an element the op did not write, or one written outside its tensor, is a
 * failure. Gradients that backward ops accumulate into start from the same
 * small non-zero random values on both sides.
 *
 * Error of a tensor: max_i |gpu_i - cpu_i| / max(|cpu_i|, floor) with
 * floor = max_j |cpu_j|, i.e. the largest difference relative to the
 * tensor's largest magnitude (for a gradient accumulated onto initial
 * values: max_j |cpu_j - initial_j|, the scale of what the op added). Sums (GEMMs, reductions, softmax backward)
 * carry rounding errors proportional to the magnitudes summed, not to the
 * result, so an element that cancels to near zero has an unbounded
 * elementwise relative error in any correct implementation; the tensor's
 * own scale is the yardstick (as tests/unit/test_model.c measures against
 * HF). Wrong indexing or a missing term gives errors of order 1 on that
 * scale; where exact zeros are the specification (dropout masks, hidden
 * keys' probabilities) they are checked exactly as well.
 * Tolerances: 1e-5 for fp32; with bf16, 1e-2 for the ops that round
 * operands to bf16 (matmul, attention), 1e-5 for the rest (fp32 in both). */
#define main test_main
#include "test.h"
#undef main

#include <stdarg.h>

#include "err.h"
#include "ops.h"
#include "rng.h"

#ifdef BLIP_CUDA
#define TESTED be_cuda
#define TESTED_DEVICE "cuda"
#else
#define TESTED be_cpu
#define TESTED_DEVICE "cpu"
#endif

#define GUARD 64
#define POISON 0x7fc0dea1u /* a quiet NaN no arithmetic produces */

static const backend_t *D = &TESTED, *C = &be_cpu;
static int bf16;
static rng_t rng;
/* BLIP_PARITY_SMALL=1 skips cases whose largest tensor exceeds 2^24
 * elements (runs under compute-sanitizer, whose checks are slow); a larger
 * value is the limit itself (the CUDA emulator of tests/emu: 200000). */
static size_t big_limit = SIZE_MAX;
#define TOO_BIG(n) ((size_t)(n) > big_limit)

/* ---- tensors: a host reference copy and a guarded device copy --------- */

typedef struct {
    float *h;     /* host (CPU backend) data, n floats */
    float *d;     /* device data: base + GUARD */
    float *base;  /* device allocation of n + 2 * GUARD floats */
    float *init;  /* accumulators (t_acc): the initial values, else NULL */
    size_t n;
} tens_t;

static float poison_value(void) {
    uint32_t u = POISON;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* A device buffer of n floats between guards, all of it poisoned. */
static tens_t t_alloc(size_t n) {
    tens_t t = {.h = xmalloc((n ? n : 1) * sizeof(float)), .n = n};
    size_t all = n + 2 * GUARD;
    float *p = xmalloc(all * sizeof *p), pv = poison_value();
    for (size_t i = 0; i < all; i++) p[i] = pv;
    t.base = D->alloc(all * sizeof(float));
    D->be_upload(t.base, p, all * sizeof(float));
    free(p);
    t.d = t.base + GUARD;
    for (size_t i = 0; i < n; i++) t.h[i] = pv;
    return t;
}

/* Copy the host values to the device (between the guards). */
static void t_sync_up(tens_t *t) { D->be_upload(t->d, t->h, t->n * sizeof(float)); }

/* Random values: normal * scale + shift, the same on both sides. */
static tens_t t_rand(size_t n, float scale, float shift) {
    tens_t t = t_alloc(n);
    for (size_t i = 0; i < n; i++) t.h[i] = (float)rng_normal(&rng) * scale + shift;
    t_sync_up(&t);
    return t;
}

/* An output the op overwrites: the device copy stays poisoned. */
static tens_t t_out(size_t n) { return t_alloc(n); }

/* A gradient a backward op adds to: small random values (so an op that
 * overwrites instead of adding is caught), remembered for t_check. */
static tens_t t_acc(size_t n) {
    tens_t t = t_rand(n, 0.1f, 0);
    t.init = xmalloc((n ? n : 1) * sizeof(float));
    memcpy(t.init, t.h, n * sizeof(float));
    return t;
}

static void t_free(tens_t *t) {
    free(t->init);
    free(t->h);
    D->be_free(t->base);
}

/* int32 device input (no guards: integer inputs are read, never written). */
typedef struct {
    int32_t *h, *d;
    size_t n;
} itens_t;

static itens_t i_make(const int32_t *vals, size_t n) {
    itens_t t = {.h = xmalloc((n ? n : 1) * sizeof(int32_t)), .n = n};
    t.d = D->alloc((n ? n : 1) * sizeof(int32_t));
    if (n) {
        memcpy(t.h, vals, n * sizeof(int32_t));
        D->be_upload(t.d, vals, n * sizeof(int32_t));
    }
    return t;
}

static void i_free(itens_t *t) {
    free(t->h);
    D->be_free(t->d);
}

/* ---- comparison --------------------------------------------------------- */

enum { ZEROS_EXACT = 1 }; /* cpu_i == 0 exactly iff gpu_i == 0 exactly */

static double tol_plain(void) { return 1e-5; }
static double tol_gemm(void) { return bf16 ? 1e-2 : 1e-5; }

/* Download t, compare with its host copy; reports and counts a failure.
 * The rest names the tensor, printf-style. */
__attribute__((format(printf, 4, 5))) static void t_check(const tens_t *t, double tol, int flags,
                                                          const char *fmt, ...) {
    char what[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t all = t->n + 2 * GUARD;
    float *p = xmalloc(all * sizeof *p);
    D->be_download(p, t->base, all * sizeof(float));
    const float *g = p + GUARD;
    size_t guard_bad = 0, nonfinite = 0, zeros_bad = 0, worst_i = 0, first_bad = 0;
    for (size_t i = 0; i < GUARD; i++) {
        uint32_t a, b;
        memcpy(&a, p + i, 4);
        memcpy(&b, p + GUARD + t->n + i, 4);
        guard_bad += (a != POISON) + (b != POISON);
    }
    /* the scale: the largest value the op produced (for an accumulator,
     * the largest increment: the initial values would hide its errors) */
    double floor = 0.0, worst = 0.0;
    for (size_t i = 0; i < t->n; i++)
        floor = fmax(floor, fabs((double)t->h[i] - (t->init ? t->init[i] : 0.0)));
    for (size_t i = 0; i < t->n; i++) {
        if (!isfinite(g[i])) {
            if (nonfinite++ == 0) first_bad = i;
            continue;
        }
        if ((flags & ZEROS_EXACT) && ((g[i] == 0.0f) != (t->h[i] == 0.0f))) zeros_bad++;
        double den = fmax(fabs((double)t->h[i]), floor);
        double e = den > 0 ? fabs((double)g[i] - t->h[i]) / den : fabs((double)g[i]);
        if (e > worst) worst = e, worst_i = i;
    }
    printf("  %-40s n %-10zu max rel err %.3g (tol %.0e)%s\n", what, t->n, worst, tol,
           nonfinite ? " NON-FINITE" : "");
    CHECK_MSG(!guard_bad, "%s: %zu guard floats overwritten (writes outside the tensor)", what,
              guard_bad);
    CHECK_MSG(!nonfinite, "%s: %zu of %zu elements unwritten or not finite, first at %zu", what,
              nonfinite, t->n, first_bad);
    CHECK_MSG(!zeros_bad, "%s: %zu elements zero on one side only (mask mismatch)", what,
              zeros_bad);
    CHECK_MSG(worst <= tol, "%s: max rel err %.3g > %.0e at %zu: %.9g vs %.9g", what,
              worst, tol, worst_i, g[worst_i], t->h[worst_i]);
    free(p);
}

/* Integer draws in [lo, hi). */
static int32_t *i_rand(size_t n, int lo, int hi) {
    int32_t *v = xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = lo + (int32_t)rng_below(&rng, (uint32_t)(hi - lo));
    return v;
}

/* ---- memory ------------------------------------------------------------- */

/* upload, device-to-device copy at odd offsets and lengths, download */
TEST(memory_copy) {
    tens_t a = t_rand(100003, 1, 0), b = t_out(100003);
    D->be_copy(b.d + 5, a.d + 3, 99991 * sizeof(float));
    memcpy(b.h + 5, a.h + 3, 99991 * sizeof(float));
    /* the rest of b stays poisoned on both sides: compare only what was copied */
    tens_t view = b;
    view.n = 99991;
    view.h = b.h + 5;
    float *p = xmalloc(view.n * sizeof *p);
    D->be_download(p, b.d + 5, view.n * sizeof(float));
    CHECK_MSG(memcmp(p, view.h, view.n * sizeof(float)) == 0, "copied bytes differ");
    uint32_t first;
    D->be_download(&first, b.d + 4, sizeof first);
    CHECK_MSG(first == POISON, "be_copy wrote before its destination");
    D->be_sync();
    free(p);
    t_free(&a);
    t_free(&b);
}

/* A fresh buffer reads as zeros. */
TEST(memory_alloc_zeroed) {
    size_t n = 1 << 20;
    float *d = D->alloc(n * sizeof(float)), *h = xmalloc(n * sizeof *h);
    D->be_download(h, d, n * sizeof(float));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != 0.0f;
    CHECK_MSG(!bad, "%zu of %zu floats of a new buffer not zero", bad, n);
    D->be_free(d);
    D->be_free(NULL);
    free(h);
}

/* ---- elementwise and reductions --------------------------------------- */

/* Sizes: odd, not a multiple of 4 (vector loads), and a GELU-sized one
 * (32 x 577 rows x 3072); offsets of 1 float make pointers misaligned
 * for 16-byte vector access, as parameter slices (m->w + off) can be. */
static const size_t ew_sizes[] = {1, 1001, 1000003, (size_t)32 * 577 * 3072};
static const size_t ew_offs[] = {0, 1, 0, 0};

static void elementwise_case(size_t n, size_t off) {
    /* with an offset the prefix is outside the ops: random on both sides */
    tens_t x = t_rand(n + off, 1, 0), y = t_rand(n + off, 1, 0);
    tens_t sum = off ? t_rand(n + off, 1, 0) : t_out(n), gl = off ? t_rand(n + off, 1, 0) : t_out(n);
    /* sum = x + y */
    C->op_add(sum.h + off, x.h + off, y.h + off, n);
    D->op_add(sum.d + off, x.d + off, y.d + off, n);
    t_check(&sum, tol_plain(), 0, "add n=%zu+%zu", n, off);
    /* y += x; x *= 0.37; gl = gelu(y); y += gelu'(x) * gl */
    C->op_add_inplace(y.h + off, x.h + off, n);
    D->op_add_inplace(y.d + off, x.d + off, n);
    C->op_scale(x.h + off, 0.37f, n);
    D->op_scale(x.d + off, 0.37f, n);
    C->op_gelu(gl.h + off, y.h + off, n);
    D->op_gelu(gl.d + off, y.d + off, n);
    t_check(&gl, tol_plain(), 0, "gelu n=%zu+%zu", n, off);
    C->op_gelu_backward(y.h + off, x.h + off, gl.h + off, n);
    D->op_gelu_backward(y.d + off, x.d + off, gl.d + off, n);
    t_check(&y, tol_plain(), 0, "add_inplace+gelu_bwd n=%zu+%zu", n, off);
    t_check(&x, tol_plain(), 0, "scale n=%zu+%zu", n, off);
    /* zero all but the first and last element */
    if (n > 2) {
        C->op_zero(x.h + off + 1, n - 2);
        D->op_zero(x.d + off + 1, n - 2);
        t_check(&x, tol_plain(), ZEROS_EXACT, "zero n=%zu+%zu", n - 2, off + 1);
    }
    tens_t *all[] = {&x, &y, &sum, &gl};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
}

TEST(elementwise) {
    for (size_t k = 0; k < ARRAY_LEN(ew_sizes); k++)
        if (!TOO_BIG(ew_sizes[k])) elementwise_case(ew_sizes[k], ew_offs[k]);
}

/* sumsq and sum into one device float; the sum of positive values (losses
 * are what op_sum adds up), so cancellation does not hide its rounding. */
TEST(reductions) {
    const size_t sizes[] = {1, 1023, 1000003, 50000017};
    for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
        size_t n = sizes[k];
        if (TOO_BIG(n)) continue;
        tens_t x = t_rand(n, 0.5f, 0), pos = t_alloc(n), s = t_out(1), ss = t_out(1);
        for (size_t i = 0; i < n; i++) pos.h[i] = fabsf(x.h[i]) + 0.1f;
        t_sync_up(&pos);
        C->op_sumsq(ss.h, x.h, n);
        D->op_sumsq(ss.d, x.d, n);
        C->op_sum(s.h, pos.h, n);
        D->op_sum(s.d, pos.d, n);
        t_check(&ss, tol_plain(), 0, "sumsq n=%zu", n);
        t_check(&s, tol_plain(), 0, "sum n=%zu", n);
        t_free(&x);
        t_free(&pos);
        t_free(&s);
        t_free(&ss);
    }
}

/* Dropout masks equal the CPU's bit for bit (same Philox words), at an odd
 * length, 64-bit seed and stream, and p = 0 leaves x as it is. */
TEST(dropout) {
    const struct { size_t n; float p; uint64_t seed, stream; } cases[] = {
        {1000003, 0.1f, 0x123456789abcdefull, 0xfedcba9876543210ull},
        {7, 0.5f, 1, 2},
        {(size_t)32 * 577 * 768, 0.1f, 42, 77},
        {1001, 0.0f, 3, 4},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        size_t n = cases[k].n;
        if (TOO_BIG(n)) continue;
        tens_t x = t_rand(n, 1, 0), dx = t_rand(n, 1, 0);
        C->op_dropout(x.h, n, cases[k].p, cases[k].seed, cases[k].stream);
        D->op_dropout(x.d, n, cases[k].p, cases[k].seed, cases[k].stream);
        C->op_dropout_backward(dx.h, n, cases[k].p, cases[k].seed, cases[k].stream);
        D->op_dropout_backward(dx.d, n, cases[k].p, cases[k].seed, cases[k].stream);
        t_check(&x, tol_plain(), ZEROS_EXACT, "dropout n=%zu p=%g", n, cases[k].p);
        t_check(&dx, tol_plain(), ZEROS_EXACT, "dropout_bwd n=%zu p=%g", n, cases[k].p);
        t_free(&x);
        t_free(&dx);
    }
}

/* ---- linear layers -------------------------------------------------------- */

typedef struct { int N, C, OC; const char *what; } mm_case_t;

/* odd sizes, then BLIP-base: ViT qkv at batch 32 (32 x 577 rows), ViT MLP,
 * the cross-attention key|value projection of image tokens, the LM head. */
static const mm_case_t mm_cases[] = {
    {37, 51, 29, "odd"},
    {1, 768, 2304, "one row"},
    {32 * 577, 768, 2304, "vit qkv b32"},
    {2 * 577, 768, 3072, "vit fc1 b2"},
    {2 * 577, 3072, 768, "vit fc2 b2"},
    {4 * 577, 768, 1536, "cross kv b4"},
    {4 * 39, 768, 30524, "lm head b4"},
};

static void matmul_case(const mm_case_t *c, int with_bias) {
    size_t N = c->N, K = c->C, O = c->OC;
    float ws = 1.0f / sqrtf((float)K);
    tens_t inp = t_rand(N * K, 1, 0), w = t_rand(O * K, ws, 0), b = t_rand(O, 0.5f, 0);
    tens_t out = t_out(N * O);
    const float *bh = with_bias ? b.h : NULL, *bd = with_bias ? b.d : NULL;
    C->op_matmul(out.h, inp.h, w.h, bh, c->N, c->C, c->OC);
    D->op_matmul(out.d, inp.d, w.d, bd, c->N, c->C, c->OC);
    t_check(&out, tol_gemm(), 0, "matmul %s%s", c->what, with_bias ? " +bias" : "");
    /* backward, accumulating into non-zero gradients; without bias, the
     * dinp-less form the patch embedding uses */
    tens_t dout = t_rand(N * O, 1, 0), dinp = t_acc(N * K), dw = t_acc(O * K), db = t_acc(O);
    C->op_matmul_backward(with_bias ? dinp.h : NULL, dw.h, with_bias ? db.h : NULL, dout.h, inp.h,
                          w.h, c->N, c->C, c->OC);
    D->op_matmul_backward(with_bias ? dinp.d : NULL, dw.d, with_bias ? db.d : NULL, dout.d, inp.d,
                          w.d, c->N, c->C, c->OC);
    t_check(&dinp, tol_gemm(), 0, "matmul_bwd %s dinp", c->what);
    t_check(&dw, tol_gemm(), 0, "matmul_bwd %s dw", c->what);
    t_check(&db, tol_plain(), 0, "matmul_bwd %s dbias", c->what);
    tens_t *all[] = {&inp, &w, &b, &out, &dout, &dinp, &dw, &db};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
}

TEST(matmul) {
    for (size_t k = 0; k < ARRAY_LEN(mm_cases); k++) {
        const mm_case_t *c = &mm_cases[k];
        if (TOO_BIG((size_t)c->N * c->OC) || TOO_BIG((size_t)c->N * c->C) ||
            TOO_BIG((size_t)c->OC * c->C))
            continue;
        matmul_case(&mm_cases[k], 1);
        if (k < 3) matmul_case(&mm_cases[k], 0);
    }
}

/* ---- LayerNorm -------------------------------------------------------------- */

TEST(layernorm) {
    const struct { int N, C; float eps; } cases[] = {
        {7, 33, 1e-5f}, {32 * 577, 768, 1e-6f}, {4 * 40, 768, 1e-12f}, {3, 3072, 1e-5f}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        size_t N = cases[k].N, Cc = cases[k].C;
        if (TOO_BIG(N * Cc)) continue;
        /* rows with a mean offset and their own scale, like residual streams */
        tens_t inp = t_rand(N * Cc, 2, 0.5f), w = t_rand(Cc, 0.2f, 1), b = t_rand(Cc, 0.1f, 0);
        tens_t out = t_out(N * Cc), mean = t_out(N), rstd = t_out(N);
        C->op_layernorm(out.h, mean.h, rstd.h, inp.h, w.h, b.h, (int)N, (int)Cc, cases[k].eps);
        D->op_layernorm(out.d, mean.d, rstd.d, inp.d, w.d, b.d, (int)N, (int)Cc, cases[k].eps);
        t_check(&out, tol_plain(), 0, "layernorm %zux%zu out", N, Cc);
        t_check(&mean, tol_plain(), 0, "layernorm %zux%zu mean", N, Cc);
        t_check(&rstd, tol_plain(), 0, "layernorm %zux%zu rstd", N, Cc);
        /* backward from the CPU's statistics (identical inputs on both) */
        t_sync_up(&mean);
        t_sync_up(&rstd);
        tens_t dout = t_rand(N * Cc, 1, 0), dinp = t_acc(N * Cc), dw = t_acc(Cc), db = t_acc(Cc);
        C->op_layernorm_backward(dinp.h, dw.h, db.h, dout.h, inp.h, w.h, mean.h, rstd.h, (int)N,
                                 (int)Cc);
        D->op_layernorm_backward(dinp.d, dw.d, db.d, dout.d, inp.d, w.d, mean.d, rstd.d, (int)N,
                                 (int)Cc);
        t_check(&dinp, tol_plain(), 0, "layernorm_bwd %zux%zu dinp", N, Cc);
        t_check(&dw, tol_plain(), 0, "layernorm_bwd %zux%zu dw", N, Cc);
        t_check(&db, tol_plain(), 0, "layernorm_bwd %zux%zu db", N, Cc);
        tens_t *all[] = {&inp, &w, &b, &out, &mean, &rstd, &dout, &dinp, &dw, &db};
        for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
    }
}

/* ---- attention ---------------------------------------------------------------- */

/* Layouts as the model calls attention: FUSED q|k|v rows of 3C (ViT, text
 * self-attention in training), CROSS q rows of C and k|v rows of 2C (cross-
 * attention; with group g the beams of an image share its k|v), CACHE the
 * decoder's KV cache: k|v rows in a buffer of `cap` rows per batch, q with
 * an explicit batch stride. Cache rows past Tk and q's padding row hold
 * poison, so reading them shows as non-finite outputs. */
enum { FUSED, CROSS, CACHE };
enum { MASK_NONE, MASK_PAD, MASK_PAD_EMPTY };

typedef struct {
    const char *what;
    int layout, B, H, Tq, Tk, hd, causal, group, cap, mask;
    float p_drop;
} at_case_t;

static const at_case_t at_cases[] = {
    {"vit b2", FUSED, 2, 12, 577, 577, 64, 0, 0, 0, MASK_NONE, 0.0f},
    {"vit b32 dropout", FUSED, 32, 12, 577, 577, 64, 0, 0, 0, MASK_NONE, 0.1f},
    {"text self b4", FUSED, 4, 12, 40, 40, 64, 1, 0, 0, MASK_PAD, 0.1f},
    {"cross b4", CROSS, 4, 12, 40, 577, 64, 0, 0, 0, MASK_NONE, 0.1f},
    {"decode prompt", CACHE, 6, 12, 4, 4, 64, 1, 0, 20, MASK_NONE, 0.0f},
    {"decode step", CACHE, 6, 12, 1, 9, 64, 1, 0, 20, MASK_NONE, 0.0f},
    {"decode cross g3", CROSS, 6, 12, 1, 577, 64, 0, 3, 0, MASK_NONE, 0.0f},
    {"odd", CACHE, 3, 5, 7, 11, 24, 1, 0, 13, MASK_PAD, 0.2f},
    {"odd empty row", CACHE, 3, 5, 7, 11, 24, 1, 0, 13, MASK_PAD_EMPTY, 0.0f},
};

/* Key mask [B, Tk]: batch 0 sees every key, others a random prefix (with
 * MASK_PAD_EMPTY, batch 1 none at all: its rows get zero probabilities). */
static int32_t *key_mask(const at_case_t *c) {
    int32_t *m = xmalloc((size_t)c->B * c->Tk * sizeof *m);
    for (int b = 0; b < c->B; b++) {
        int len = b == 0 ? c->Tk : c->mask == MASK_PAD_EMPTY && b == 1 ? 0
                                                                        : 1 + (int)rng_below(&rng, (uint32_t)c->Tk);
        for (int j = 0; j < c->Tk; j++) m[(size_t)b * c->Tk + j] = j < len;
    }
    return m;
}

/* Set rows [from, per) of each of nb blocks of `per` rows of `row` floats to
 * poison (host and device). */
static void poison_rows(tens_t *t, int nb, int per, size_t row, int from) {
    for (int b = 0; b < nb; b++)
        for (int r = from; r < per; r++)
            for (size_t i = 0; i < row; i++) t->h[((size_t)b * per + r) * row + i] = poison_value();
    t_sync_up(t);
}

static void attention_case(const at_case_t *c) {
    int Cc = c->H * c->hd, Bkv = c->group > 1 ? c->B / c->group : c->B;
    attn_shape_t s = {.B = c->B, .H = c->H, .Tq = c->Tq, .Tk = c->Tk, .hd = c->hd,
                      .kv_group = c->group, .causal = c->causal, .p_drop = c->p_drop,
                      .seed = 0x5eed5eed5eedull, .stream = 0x1234567890ull};
    size_t koff, voff, qn, kvn = 0;
    int qrows = c->Tq;
    if (c->layout == FUSED) {
        s.q_stride = s.kv_stride = 3 * Cc;
        qn = (size_t)c->B * c->Tq * 3 * Cc, koff = (size_t)Cc, voff = 2 * (size_t)Cc;
    } else {
        s.q_stride = Cc, s.kv_stride = 2 * Cc, koff = 0, voff = (size_t)Cc;
        if (c->layout == CACHE) {
            qrows = c->Tq + 1;
            s.q_bstride = (size_t)qrows * Cc;
            s.kv_bstride = (size_t)c->cap * 2 * Cc;
        }
        qn = (size_t)c->B * qrows * Cc;
        kvn = (size_t)Bkv * (c->layout == CACHE ? c->cap : c->Tk) * 2 * Cc;
    }
    tens_t q = t_rand(qn, 1, 0), kvb = t_rand(kvn, 1, 0), *kv = c->layout == FUSED ? &q : &kvb;
    if (c->layout == CACHE) {
        poison_rows(&q, c->B, qrows, (size_t)Cc, c->Tq);
        poison_rows(&kvb, c->B, c->cap, 2 * (size_t)Cc, c->Tk);
    }
    int32_t *mh = c->mask ? key_mask(c) : NULL;
    itens_t mask = i_make(mh, mh ? (size_t)c->B * c->Tk : 0);
    attn_shape_t sh = s, sd = s;
    sh.key_mask = mh;
    sd.key_mask = mh ? mask.d : NULL;

    size_t on = (size_t)c->B * c->Tq * Cc, pn = (size_t)c->B * c->H * c->Tq * c->Tk;
    tens_t out = t_out(on), probs = t_out(pn);
    C->op_attention(out.h, probs.h, q.h, kv->h + koff, kv->h + voff, &sh);
    D->op_attention(out.d, probs.d, q.d, kv->d + koff, kv->d + voff, &sd);
    t_check(&out, tol_gemm(), 0, "attention %s out", c->what);
    t_check(&probs, tol_gemm(), ZEROS_EXACT, "attention %s probs", c->what);

    if (c->group <= 1) { /* backward from the CPU's probabilities */
        t_sync_up(&probs);
        tens_t dout = t_rand(on, 1, 0), dq = t_acc(qn), dkvb = t_acc(kvn);
        tens_t *dkv = c->layout == FUSED ? &dq : &dkvb;
        C->op_attention_backward(dq.h, dkv->h + koff, dkv->h + voff, dout.h, probs.h, q.h,
                                 kv->h + koff, kv->h + voff, &sh);
        D->op_attention_backward(dq.d, dkv->d + koff, dkv->d + voff, dout.d, probs.d, q.d,
                                 kv->d + koff, kv->d + voff, &sd);
        t_check(&dq, tol_gemm(), 0, "attention_bwd %s %s", c->what, c->layout == FUSED ? "dqkv" : "dq");
        if (c->layout != FUSED) {
            t_check(&dkvb, tol_gemm(), 0, "attention_bwd %s dkv", c->what);
        }
        t_free(&dout);
        t_free(&dq);
        t_free(&dkvb);
    }
    free(mh);
    i_free(&mask);
    t_free(&q);
    t_free(&kvb);
    t_free(&out);
    t_free(&probs);
}

TEST(attention) {
    for (size_t k = 0; k < ARRAY_LEN(at_cases); k++) {
        const at_case_t *c = &at_cases[k];
        if (!TOO_BIG((size_t)c->B * c->H * c->Tq * c->Tk)) attention_case(c);
    }
}

/* ---- embeddings --------------------------------------------------------------- */

/* Token ids from a few values (0 = pad among them), so rows share ids and
 * the scatter-add of the backward meets collisions. */
TEST(text_embed) {
    const struct { int B, T, C, V, P, pos0; } cases[] = {{4, 40, 768, 30524, 512, 0},
                                                         {6, 1, 768, 30524, 512, 9},
                                                         {3, 7, 33, 50, 20, 3}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int B = cases[k].B, T = cases[k].T, Cc = cases[k].C, pos0 = cases[k].pos0;
        size_t nt = (size_t)B * T;
        int32_t *ih = i_rand(nt, 0, 12);
        itens_t ids = i_make(ih, nt);
        tens_t wte = t_rand((size_t)cases[k].V * Cc, 0.02f, 0), wpe = t_rand((size_t)cases[k].P * Cc, 0.02f, 0);
        tens_t out = t_out(nt * Cc);
        C->op_text_embed(out.h, ids.h, wte.h, wpe.h, B, T, Cc, pos0);
        D->op_text_embed(out.d, ids.d, wte.d, wpe.d, B, T, Cc, pos0);
        t_check(&out, tol_plain(), 0, "text_embed B%d T%d C%d", B, T, Cc);
        tens_t dout = t_rand(nt * Cc, 1, 0);
        C->op_text_embed_backward(wte.h, wpe.h, dout.h, ids.h, B, T, Cc, pos0, 0);
        D->op_text_embed_backward(wte.d, wpe.d, dout.d, ids.d, B, T, Cc, pos0, 0);
        t_check(&wte, tol_plain(), 0, "text_embed_bwd B%d T%d dwte", B, T);
        t_check(&wpe, tol_plain(), 0, "text_embed_bwd B%d T%d dwpe", B, T);
        free(ih);
        i_free(&ids);
        t_free(&wte);
        t_free(&wpe);
        t_free(&out);
        t_free(&dout);
    }
}

TEST(patchify) {
    const struct { int B, Hi, Wi, P; } cases[] = {{2, 384, 384, 16}, {3, 48, 40, 8}, {1, 16, 16, 16}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int B = cases[k].B, Hi = cases[k].Hi, Wi = cases[k].Wi, P = cases[k].P;
        size_t np = (size_t)B * 3 * Hi * Wi, nq = (size_t)B * (Hi / P) * (Wi / P) * 3 * P * P;
        tens_t pix = t_rand(np, 1, 0), patches = t_out(nq);
        C->op_patchify(patches.h, pix.h, B, Hi, Wi, P);
        D->op_patchify(patches.d, pix.d, B, Hi, Wi, P);
        t_check(&patches, 0.0, 0, "patchify B%d %dx%d P%d", B, Hi, Wi, P);
        t_free(&pix);
        t_free(&patches);
    }
}

TEST(vit_embed) {
    const struct { int B, NP, C; } cases[] = {{2, 576, 768}, {32, 576, 768}, {3, 9, 33}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int B = cases[k].B, NP = cases[k].NP, Cc = cases[k].C;
        size_t T = (size_t)NP + 1;
        if (TOO_BIG(B * T * Cc)) continue;
        tens_t po = t_rand((size_t)B * NP * Cc, 1, 0), cls = t_rand((size_t)Cc, 0.02f, 0);
        tens_t pos = t_rand(T * Cc, 0.02f, 0), out = t_out((size_t)B * T * Cc);
        C->op_vit_embed(out.h, po.h, cls.h, pos.h, B, NP, Cc);
        D->op_vit_embed(out.d, po.d, cls.d, pos.d, B, NP, Cc);
        t_check(&out, tol_plain(), 0, "vit_embed B%d NP%d", B, NP);
        tens_t dout = t_rand((size_t)B * T * Cc, 1, 0);
        C->op_vit_embed_backward(po.h, cls.h, pos.h, dout.h, B, NP, Cc);
        D->op_vit_embed_backward(po.d, cls.d, pos.d, dout.d, B, NP, Cc);
        t_check(&po, tol_plain(), 0, "vit_embed_bwd B%d dpatch", B);
        t_check(&cls, tol_plain(), 0, "vit_embed_bwd B%d dcls", B);
        t_check(&pos, tol_plain(), 0, "vit_embed_bwd B%d dpos", B);
        tens_t *all[] = {&po, &cls, &pos, &out, &dout};
        for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
    }
}

/* ---- loss ------------------------------------------------------------------ */

/* Label-smoothed cross-entropy: the model's in-place form (dlogits ==
 * logits), a separate gradient buffer, and the loss alone (validation).
 * About a fifth of the rows are ignored (-100); row 0 is shifted by +60 so
 * the max subtraction matters. */
TEST(crossentropy) {
    enum { INPLACE, SEPARATE, LOSS_ONLY };
    const struct { int N, V, mode; float eps, dscale; } cases[] = {
        {4 * 39, 30524, INPLACE, 0.1f, 1.0f},
        {13, 101, SEPARATE, 0.0f, 0.5f},
        {64 * 3, 30524, LOSS_ONLY, 0.1f, 1.0f},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int N = cases[k].N, V = cases[k].V, mode = cases[k].mode;
        int32_t *th = i_rand((size_t)N, 0, V);
        int count = 0;
        for (int i = 0; i < N; i++) {
            if (i > 0 && rng_below(&rng, 5) == 0) th[i] = -100;
            count += th[i] >= 0;
        }
        itens_t tg = i_make(th, (size_t)N);
        tens_t lg = t_rand((size_t)N * V, 3, 0), dl = t_out(mode == SEPARATE ? (size_t)N * V : 0);
        for (int j = 0; j < V; j++) lg.h[j] += 60.0f;
        t_sync_up(&lg);
        tens_t loss = t_out((size_t)N);
        float *dh = mode == INPLACE ? lg.h : mode == SEPARATE ? dl.h : NULL;
        float *dd = mode == INPLACE ? lg.d : mode == SEPARATE ? dl.d : NULL;
        C->op_crossentropy(loss.h, dh, lg.h, tg.h, N, V, cases[k].eps, count, cases[k].dscale);
        D->op_crossentropy(loss.d, dd, lg.d, tg.d, N, V, cases[k].eps, count, cases[k].dscale);
        t_check(&loss, tol_plain(), 0, "crossentropy N%d V%d losses", N, V);
        if (mode != LOSS_ONLY)
            t_check(mode == INPLACE ? &lg : &dl, tol_plain(), 0, "crossentropy N%d V%d dlogits", N, V);
        free(th);
        i_free(&tg);
        t_free(&lg);
        t_free(&dl);
        t_free(&loss);
    }
}

/* ---- optimizer ------------------------------------------------------------ */

TEST(adamw) {
    const struct { size_t n, off; int t; float wd, gscale; } cases[] = {
        {1000003, 0, 1, 0.05f, 1.0f}, {1000003, 1, 7, 0.05f, 0.5f}, {5, 0, 1000, 0.0f, 0.25f}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        size_t n = cases[k].n, off = cases[k].off;
        tens_t p = t_rand(n + off, 0.02f, 0), g = t_rand(n + off, 0.01f, 0);
        tens_t m = t_rand(n + off, 0.001f, 0), v = t_rand(n + off, 1, 0);
        for (size_t i = 0; i < n + off; i++) v.h[i] = 1e-6f * v.h[i] * v.h[i];
        t_sync_up(&v);
        adamw_args_t a = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                          .weight_decay = cases[k].wd, .gscale = cases[k].gscale, .t = cases[k].t};
        C->op_adamw(p.h + off, g.h + off, m.h + off, v.h + off, n, &a);
        D->op_adamw(p.d + off, g.d + off, m.d + off, v.d + off, n, &a);
        t_check(&p, tol_plain(), 0, "adamw n=%zu+%zu t=%d param", n, off, cases[k].t);
        t_check(&m, tol_plain(), 0, "adamw n=%zu+%zu t=%d m", n, off, cases[k].t);
        t_check(&v, tol_plain(), 0, "adamw n=%zu+%zu t=%d v", n, off, cases[k].t);
        t_free(&p);
        t_free(&g);
        t_free(&m);
        t_free(&v);
    }
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc < 2 || (strcmp(argv[1], "fp32") && strcmp(argv[1], "bf16")))
        usage_die("usage: ops_parity fp32|bf16 [FILTER]");
    bf16 = strcmp(argv[1], "bf16") == 0;
    const char *small = getenv("BLIP_PARITY_SMALL");
    if (small && *small && strcmp(small, "0"))
        big_limit = atol(small) > 1 ? (size_t)atol(small) : (size_t)1 << 24;
    be_open(TESTED_DEVICE, argv[1]);
    printf("ops_parity: %s against the CPU backend, %s\n", be_name(), argv[1]);
    rng_init(&rng, 20261127, 0);
    argv[1] = argv[0];
    return test_main(argc - 1, argv + 1);
}
