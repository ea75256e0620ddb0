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
 * The harness (tensors, fills, comparison) is parity.h, shared with
 * tests/emu/test_cuda_emu.c (the same checks at small odd shapes, under the
 * CUDA emulator, in make test).
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

#include "parity.h"

#ifdef BLIP_CUDA
#define TESTED_DEVICE "cuda"
#else
#define TESTED_DEVICE "cpu"
#endif

/* BLIP_PARITY_SMALL=1 skips cases whose largest tensor exceeds 2^24
 * elements (runs under compute-sanitizer, whose checks are slow); a larger
 * value is the limit itself (the CUDA emulator of tests/emu: 200000). */
static size_t big_limit = SIZE_MAX;
#define TOO_BIG(n) ((size_t)(n) > big_limit)

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
    gelu_chain(&x, &y, &gl, n, off);
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
        tens_t x = t_rand(n, 0.5f, 0), pos = t_out(n), s = t_out(1), ss = t_out(1);
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

static void attention_case(const at_case_t *c) {
    at_run_t r;
    at_forward(&r, c, 1.0f);
    if (c->group <= 1) { /* backward from each backend's forward */
        tens_t dout = t_rand(r.on, 1, 0), dq = t_acc(r.qn), dkvb = t_acc(r.kvn);
        at_backward(&r, c, &dout, &dq, &dkvb);
        t_check(&dq, tol_gemm(), 0, "attention_bwd %s %s", c->what, c->layout == FUSED ? "dqkv" : "dq");
        if (c->layout != FUSED) {
            t_check(&dkvb, tol_gemm(), 0, "attention_bwd %s dkv", c->what);
        }
        t_free(&dout);
        t_free(&dq);
        t_free(&dkvb);
    }
    at_free(&r);
}

TEST(attention) {
    for (size_t k = 0; k < ARRAY_LEN(at_cases); k++) {
        const at_case_t *c = &at_cases[k];
        if (!TOO_BIG((size_t)c->B * c->H * c->Tq * c->Tk)) attention_case(c);
    }
}

/* ---- embeddings --------------------------------------------------------------- */

/* BLIP's vocabulary and positions, ids from 12 values (collisions in the
 * backward's scatter-add). */
TEST(text_embed) {
    static const te_case_t cases[] = {
        {4, 40, 768, 30524, 512, 0}, {6, 1, 768, 30524, 512, 9}, {3, 7, 33, 50, 20, 3}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) text_embed_case(&cases[k], 12, tol_plain());
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

/* Label-smoothed cross-entropy (parity.h: crossentropy_case) at the LM
 * head's shapes; about a fifth of the rows are ignored (-100). */
TEST(crossentropy) {
    static const ce_case_t cases[] = {
        {4 * 39, 30524, CE_INPLACE, 0.1f, 1.0f},
        {13, 101, CE_SEPARATE, 0.0f, 0.5f},
        {64 * 3, 30524, CE_LOSS_ONLY, 0.1f, 1.0f},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int N = cases[k].N, V = cases[k].V;
        int32_t *th = i_rand((size_t)N, 0, V);
        for (int i = 1; i < N; i++)
            if (rng_below(&rng, 5) == 0) th[i] = -100;
        crossentropy_case(&cases[k], th);
        free(th);
    }
}

/* ---- optimizer ------------------------------------------------------------ */

TEST(adamw) {
    static const adamw_case_t cases[] = {
        {1000003, 0, 1, 0.05f, 1.0f}, {1000003, 1, 7, 0.05f, 0.5f}, {5, 0, 1000, 0.0f, 0.25f}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++)
        adamw_case(&cases[k]);
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
    show_errors = 1;
    /* be_name(): cuda names its precision; the CPU backend is fp32 */
    printf("ops_parity: %s against the CPU backend\n", be_name());
    rng_init(&rng, 20261127, 0);
    argv[1] = argv[0];
    return test_main(argc - 1, argv + 1);
}
