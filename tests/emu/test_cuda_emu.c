/* test_cuda_emu.c - every op of kernels/ops_list.h on the CUDA backend
 * (kernels/cuda/, run on the CPU by the emulator in tests/emu/) against the
 * CPU backend, in fp32 and bf16, at small odd shapes that reach the edge
 * cases: misaligned slices, strided and cached attention layouts, kv_group,
 * causal Tq < Tk, masks with empty rows, dropout, the in-place cross-entropy
 * gradient, accumulating backward ops, and each of the linear layer's GEMM
 * paths (cuBLASLt with the bias epilogue, without it, cublasGemmEx). Also
 * the backend's rules: no allocation and no host wait inside ops once the
 * scratch buffers have grown. And a small model's forward and backward in
 * bf16 (the fused attention kernels at head size 16) against fp32.
 *
 * The harness is tests/gpu/parity.h, shared with tests/gpu/ops_parity.c (the
 * same checks on a GPU at BLIP-base's shapes): device buffers are framed by
 * poisoned guards and outputs start poisoned (NaN), so an unwritten element
 * or a write outside the tensor fails. Error of a tensor: max |cuda - cpu| /
 * max |cpu| over the tensor; 1e-5 in fp32, 1e-2
 * for the ops that round operands to bf16 (matmul, attention); 0 where
 * the result is a copy or the same arithmetic (embeddings, dropout). */
#define main test_main
#include "test.h"
#undef main

#include "blip_config.h"
#include "emu.h"
#include "model.h"
#include "parity.h"

/* The statements run in fp32, then in bf16; fp32 again after. */
#define BOTH_PRECISIONS(...)                                                  \
    do {                                                                      \
        for (bf16 = 0; bf16 < 2; bf16++) {                                    \
            emu_set_bf16(bf16);                                               \
            __VA_ARGS__                                                       \
        }                                                                     \
        emu_set_bf16(bf16 = 0);                                               \
    } while (0)

/* ---- memory ---------------------------------------------------------------- */

/* Uploads, downloads, overlapping device copies (memmove semantics), zeroed
 * allocations. */
TEST(memory) {
    tens_t a = t_rand(1001, 1, 0), b = t_out(1001);
    D->be_copy(b.d, a.d, 1001 * sizeof(float));
    memcpy(b.h, a.h, 1001 * sizeof(float));
    t_check(&b, 0, 0, "be_copy");
    D->be_copy(a.d + 3, a.d, 900 * sizeof(float)); /* overlapping, forwards */
    memmove(a.h + 3, a.h, 900 * sizeof(float));
    D->be_copy(a.d, a.d + 7, 900 * sizeof(float)); /* overlapping, backwards */
    memmove(a.h, a.h + 7, 900 * sizeof(float));
    t_check(&a, 0, 0, "be_copy overlapping");
    float *z = D->alloc(333 * sizeof(float)), h[333];
    D->be_download(h, z, sizeof h);
    int nonzero = 0;
    for (int i = 0; i < 333; i++) nonzero += h[i] != 0.0f;
    CHECK_MSG(!nonzero, "%d floats of a new buffer not zero", nonzero);
    D->be_free(z);
    t_free(&a);
    t_free(&b);
}

/* ---- elementwise, reductions, dropout ---------------------------------------- */

static void elementwise_case(size_t n, size_t off) {
    tens_t x = t_rand(n + off, 1, 0), y = t_rand(n + off, 1, 0);
    tens_t sum = t_rand(n + off, 1, 0), gl = t_rand(n + off, 1, 0);
    C->op_add(sum.h + off, x.h + off, y.h + off, n);
    D->op_add(sum.d + off, x.d + off, y.d + off, n);
    t_check(&sum, 0, 0, "add n=%zu+%zu", n, off);
    gelu_chain(&x, &y, &gl, n, off);
    t_check(&y, tol_plain(), 0, "add_inplace, gelu_backward n=%zu+%zu", n, off);
    t_check(&x, 0, 0, "scale n=%zu+%zu", n, off);
    C->op_zero(x.h + off, n);
    D->op_zero(x.d + off, n);
    t_check(&x, 0, ZEROS_EXACT, "zero n=%zu+%zu", n, off);
    tens_t s = t_out(1), ss = t_out(1);
    C->op_sum(s.h, y.h + off, n);
    D->op_sum(s.d, y.d + off, n);
    C->op_sumsq(ss.h, y.h + off, n);
    D->op_sumsq(ss.d, y.d + off, n);
    t_check(&s, tol_plain(), 0, "sum n=%zu+%zu", n, off);
    t_check(&ss, tol_plain(), 0, "sumsq n=%zu+%zu", n, off);
    tens_t *all[] = {&x, &y, &sum, &gl, &s, &ss};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) t_free(all[i]);
}

TEST(elementwise) {
    const size_t sizes[] = {1, 2, 7, 1001, 70001}, offs[] = {0, 1, 3, 1, 0};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) elementwise_case(sizes[k], offs[k]);
}

/* Masks bit for bit the CPU's (the same Philox words), at lengths around
 * the 4 elements one draw covers, 64-bit seeds and streams, p = 0. */
TEST(dropout) {
    const struct { size_t n, off; float p; uint64_t seed, stream; } cases[] = {
        {1, 0, 0.5f, 1, 2}, {2, 1, 0.5f, 3, 4}, {3, 0, 0.3f, 5, 6}, {5, 2, 0.3f, 7, 8},
        {4099, 1, 0.1f, 0x123456789abcdefull, 0xfedcba9876543210ull}, {1001, 0, 0.0f, 9, 10}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t n = cases[k].n, off = cases[k].off;
        tens_t x = t_rand(n + off, 1, 0), dx = t_rand(n + off, 1, 0);
        C->op_dropout(x.h + off, n, cases[k].p, cases[k].seed, cases[k].stream);
        D->op_dropout(x.d + off, n, cases[k].p, cases[k].seed, cases[k].stream);
        C->op_dropout_backward(dx.h + off, n, cases[k].p, cases[k].seed, cases[k].stream);
        D->op_dropout_backward(dx.d + off, n, cases[k].p, cases[k].seed, cases[k].stream);
        t_check(&x, 0, ZEROS_EXACT, "dropout n=%zu+%zu p=%g", n, off, cases[k].p);
        t_check(&dx, 0, ZEROS_EXACT, "dropout_backward n=%zu+%zu p=%g", n, off, cases[k].p);
        t_free(&x);
        t_free(&dx);
    }
}

/* ---- linear layers ----------------------------------------------------------- */

/* Which GEMM path the emulated cuBLASLt is made to leave to the backend. */
enum { PATH_BIAS_EPILOGUE, PATH_MISALIGNED_BIAS, PATH_NO_BIAS_ALGO, PATH_GEMM_EX };

static void matmul_case(int N, int Cin, int OC, int path) {
    tens_t inp = t_rand((size_t)N * Cin, 1, 0), w = t_rand((size_t)OC * Cin, 0.3f, 0);
    tens_t b = t_rand((size_t)OC + 1, 0.5f, 0), out = t_out((size_t)N * OC);
    int off = path == PATH_MISALIGNED_BIAS; /* 4-byte aligned bias: no epilogue */
    emu_lt_refuse = path == PATH_NO_BIAS_ALGO ? EMU_LT_REFUSE_BIAS
                    : path == PATH_GEMM_EX    ? EMU_LT_REFUSE_ALL
                                              : 0;
    long bias_lt = emu_n_lt_bias_matmuls, gemm_ex = emu_n_gemm_ex;
    C->op_matmul(out.h, inp.h, w.h, b.h + off, N, Cin, OC);
    D->op_matmul(out.d, inp.d, w.d, b.d + off, N, Cin, OC);
    t_check(&out, tol_gemm(), 0, "matmul %dx%dx%d path %d", N, Cin, OC, path);
    CHECK_MSG((emu_n_lt_bias_matmuls > bias_lt) == (path == PATH_BIAS_EPILOGUE),
              "matmul %dx%dx%d: bias epilogue used %ld times on path %d", N, Cin, OC,
              emu_n_lt_bias_matmuls - bias_lt, path);
    /* backward into non-zero gradients, then the dinp-less and dbias-only forms */
    tens_t dout = t_rand((size_t)N * OC, 1, 0), dinp = t_rand((size_t)N * Cin, 1, 0);
    tens_t dw = t_rand((size_t)OC * Cin, 1, 0), db = t_rand((size_t)OC, 1, 0);
    C->op_matmul_backward(dinp.h, dw.h, db.h, dout.h, inp.h, w.h, N, Cin, OC);
    D->op_matmul_backward(dinp.d, dw.d, db.d, dout.d, inp.d, w.d, N, Cin, OC);
    C->op_matmul_backward(NULL, dw.h, NULL, dout.h, inp.h, w.h, N, Cin, OC);
    D->op_matmul_backward(NULL, dw.d, NULL, dout.d, inp.d, w.d, N, Cin, OC);
    C->op_matmul_backward(NULL, NULL, db.h, dout.h, inp.h, w.h, N, Cin, OC);
    D->op_matmul_backward(NULL, NULL, db.d, dout.d, inp.d, w.d, N, Cin, OC);
    CHECK_MSG((emu_n_gemm_ex > gemm_ex) == (path == PATH_GEMM_EX),
              "matmul %dx%dx%d: cublasGemmEx used %ld times on path %d", N, Cin, OC,
              emu_n_gemm_ex - gemm_ex, path);
    emu_lt_refuse = 0;
    t_check(&dinp, tol_gemm(), 0, "matmul_backward %dx%dx%d path %d dinp", N, Cin, OC, path);
    t_check(&dw, tol_gemm(), 0, "matmul_backward %dx%dx%d path %d dw", N, Cin, OC, path);
    t_check(&db, tol_plain(), 0, "matmul_backward %dx%dx%d path %d dbias", N, Cin, OC, path);
    /* without bias */
    C->op_matmul(out.h, inp.h, w.h, NULL, N, Cin, OC);
    D->op_matmul(out.d, inp.d, w.d, NULL, N, Cin, OC);
    t_check(&out, tol_gemm(), 0, "matmul %dx%dx%d no bias", N, Cin, OC);
    tens_t *all[] = {&inp, &w, &b, &out, &dout, &dinp, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) t_free(all[i]);
}

/* Each path at its own shapes (the backend caches a plan per shape and
 * precision), N over 64 rows so the bias gradient has several parts. */
TEST(matmul) {
    BOTH_PRECISIONS({
        matmul_case(37, 51, 29, PATH_BIAS_EPILOGUE);
        matmul_case(1, 16, 8, PATH_BIAS_EPILOGUE);
        matmul_case(130, 24, 40, PATH_BIAS_EPILOGUE);
        matmul_case(9, 13, 11, PATH_MISALIGNED_BIAS);
        matmul_case(10, 14, 12, PATH_NO_BIAS_ALGO);
        matmul_case(11, 15, 13, PATH_GEMM_EX);
        matmul_case(70, 5, 3, PATH_GEMM_EX);
    });
}

/* ---- LayerNorm ------------------------------------------------------------------- */

TEST(layernorm) {
    const struct { int N, C; float eps; } cases[] = {
        {7, 33, 1e-5f}, {5, 768, 1e-6f}, {300, 33, 1e-12f}, {1, 1, 1e-5f}, {70, 100, 1e-5f}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int N = cases[k].N, Cc = cases[k].C;
        size_t n = (size_t)N * Cc;
        tens_t inp = t_rand(n, 2, 0.5f), w = t_rand((size_t)Cc, 0.2f, 1), b = t_rand((size_t)Cc, 0.1f, 0);
        tens_t out = t_out(n), mean = t_out((size_t)N), rstd = t_out((size_t)N);
        C->op_layernorm(out.h, mean.h, rstd.h, inp.h, w.h, b.h, N, Cc, cases[k].eps);
        D->op_layernorm(out.d, mean.d, rstd.d, inp.d, w.d, b.d, N, Cc, cases[k].eps);
        t_check(&out, tol_plain(), 0, "layernorm %dx%d out", N, Cc);
        t_check(&mean, tol_plain(), 0, "layernorm %dx%d mean", N, Cc);
        t_check(&rstd, tol_plain(), 0, "layernorm %dx%d rstd", N, Cc);
        t_sync_up(&mean);
        t_sync_up(&rstd);
        tens_t dout = t_rand(n, 1, 0), dinp = t_rand(n, 1, 0);
        tens_t dw = t_rand((size_t)Cc, 1, 0), db = t_rand((size_t)Cc, 1, 0);
        C->op_layernorm_backward(dinp.h, dw.h, db.h, dout.h, inp.h, w.h, mean.h, rstd.h, N, Cc);
        D->op_layernorm_backward(dinp.d, dw.d, db.d, dout.d, inp.d, w.d, mean.d, rstd.d, N, Cc);
        t_check(&dinp, tol_plain(), 0, "layernorm_backward %dx%d dinp", N, Cc);
        t_check(&dw, tol_plain(), 0, "layernorm_backward %dx%d dw", N, Cc);
        t_check(&db, tol_plain(), 0, "layernorm_backward %dx%d db", N, Cc);
        tens_t *all[] = {&inp, &w, &b, &out, &mean, &rstd, &dout, &dinp, &dw, &db};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) t_free(all[i]);
    }
}

/* ---- attention ------------------------------------------------------------------- */

static const at_case_t at_cases[] = {
    {"vit", FUSED, 2, 3, 7, 7, 4, 0, 0, 0, MASK_NONE, 0.0f},
    {"vit dropout", FUSED, 2, 2, 9, 9, 8, 0, 0, 0, MASK_NONE, 0.25f},
    {"text causal mask dropout", FUSED, 3, 2, 6, 6, 5, 1, 0, 0, MASK_PAD, 0.3f},
    {"cross", CROSS, 2, 3, 5, 11, 4, 0, 0, 0, MASK_NONE, 0.1f},
    {"cache causal Tq<Tk", CACHE, 3, 2, 2, 6, 4, 1, 0, 8, MASK_NONE, 0.0f},
    {"cache step", CACHE, 3, 2, 1, 5, 4, 1, 0, 8, MASK_NONE, 0.0f},
    {"empty mask row", CACHE, 3, 2, 3, 4, 3, 0, 0, 5, MASK_PAD_EMPTY, 0.0f},
    {"causal empty mask dropout", FUSED, 3, 2, 4, 4, 3, 1, 0, 0, MASK_PAD_EMPTY, 0.2f},
    {"kv_group 3 step", CROSS, 6, 2, 1, 10, 4, 0, 3, 0, MASK_NONE, 0.0f},
    {"kv_group 3 causal mask", CROSS, 6, 2, 2, 5, 4, 1, 3, 0, MASK_PAD, 0.0f},
    {"kv_group 2 cache", CACHE, 4, 2, 1, 6, 4, 1, 2, 9, MASK_NONE, 0.0f},
    {"long rows Tk>64", CROSS, 1, 2, 3, 70, 8, 0, 0, 0, MASK_PAD, 0.5f},
    {"square 65 causal dropout", FUSED, 2, 2, 65, 65, 16, 1, 0, 0, MASK_PAD, 0.1f},
    {"hd 1", FUSED, 2, 1, 3, 3, 1, 0, 0, 0, MASK_NONE, 0.0f},
    {"odd heads", CACHE, 3, 5, 7, 11, 24, 1, 0, 13, MASK_PAD, 0.2f},
    {"kv_group 3 of 5 batches", CROSS, 5, 2, 2, 7, 4, 0, 3, 0, MASK_NONE, 0.0f},
    {"decode cross g3 577 hd64", CROSS, 6, 2, 1, 577, 64, 0, 3, 0, MASK_NONE, 0.0f},
    /* the fused bf16 kernels (head sizes 16, 32, 64): partial tiles of 64
     * queries / 64 keys / 32 queries (backward), several of each */
    {"flash vit hd64 Tk 37", FUSED, 2, 2, 37, 37, 64, 0, 0, 0, MASK_NONE, 0.0f},
    {"flash 2 tiles hd64 dropout", FUSED, 1, 1, 130, 130, 64, 0, 0, 0, MASK_NONE, 0.1f},
    {"flash causal mask dropout hd32", FUSED, 3, 2, 20, 20, 32, 1, 0, 0, MASK_PAD, 0.3f},
    {"flash cache causal Tq<Tk hd16", CACHE, 2, 2, 5, 70, 16, 1, 0, 75, MASK_PAD, 0.0f},
    {"flash causal 2 tiles Tq<Tk hd16", CROSS, 1, 2, 70, 135, 16, 1, 0, 0, MASK_NONE, 0.2f},
    {"flash cross mask dropout hd64", CROSS, 2, 2, 17, 77, 64, 0, 0, 0, MASK_PAD, 0.2f},
    {"flash empty mask row hd16", FUSED, 3, 1, 9, 9, 16, 1, 0, 0, MASK_PAD_EMPTY, 0.1f},
    {"flash kv_group 3 hd32", CROSS, 6, 2, 2, 40, 32, 0, 3, 0, MASK_PAD, 0.1f},
};

static void attention_case(const at_case_t *c) {
    at_run_t r;
    at_forward(&r, c, 1.5f);
    if (c->group <= 1) { /* backward from each backend's forward, accumulating */
        tens_t dout = t_rand(r.on, 1, 0), dq = t_rand(r.qn, 1, 0), dkvb = t_rand(r.kvn, 1, 0);
        if (c->layout == CACHE) {
            poison_rows(&dq, c->B, r.qrows, (size_t)r.Cc, c->Tq);
            poison_rows(&dkvb, r.Bkv, c->cap, 2 * (size_t)r.Cc, c->Tk);
        }
        at_backward(&r, c, &dout, &dq, &dkvb);
        if (c->layout == CACHE) { /* the padding rows stay poison: check, then compare the rest */
            tens_t *both[] = {&dq, &dkvb};
            for (int i = 0; i < 2; i++) {
                float *p = xmalloc(both[i]->n * sizeof *p);
                size_t written = 0;
                D->be_download(p, both[i]->d, both[i]->n * sizeof(float));
                for (size_t j = 0; j < both[i]->n; j++)
                    if (isnan(both[i]->h[j])) {
                        written += !isnan(p[j]);
                        both[i]->h[j] = p[j] = 0.0f;
                    }
                CHECK_MSG(!written, "attention_backward %s: %zu padding floats written", c->what,
                          written);
                D->be_upload(both[i]->d, p, both[i]->n * sizeof(float));
                free(p);
            }
        }
        t_check(&dq, tol_gemm(), 0, "attention_backward %s dq", c->what);
        if (c->layout != FUSED) t_check(&dkvb, tol_gemm(), 0, "attention_backward %s dkv", c->what);
        t_free(&dout);
        t_free(&dq);
        t_free(&dkvb);
    }
    at_free(&r);
}

TEST(attention) {
    BOTH_PRECISIONS({
        for (size_t k = 0; k < sizeof at_cases / sizeof *at_cases; k++) attention_case(&at_cases[k]);
    });
}

/* ---- embeddings -------------------------------------------------------------------- */

/* Ids from 6 values: rows collide in the scatter-add of the backward. */
TEST(text_embed) {
    static const te_case_t cases[] = {{3, 7, 33, 50, 20, 3}, {6, 1, 40, 13, 12, 9}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) text_embed_case(&cases[k], 6, 0);
}

/* Image sizes that are not multiples of P (the border is dropped). */
TEST(patchify) {
    const struct { int B, Hi, Wi, P; } cases[] = {{3, 9, 12, 4}, {1, 16, 16, 16}, {2, 48, 40, 8}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int B = cases[k].B, Hi = cases[k].Hi, Wi = cases[k].Wi, P = cases[k].P;
        tens_t pix = t_rand((size_t)B * 3 * Hi * Wi, 1, 0);
        tens_t patches = t_out((size_t)B * (Hi / P) * (Wi / P) * 3 * P * P);
        C->op_patchify(patches.h, pix.h, B, Hi, Wi, P);
        D->op_patchify(patches.d, pix.d, B, Hi, Wi, P);
        t_check(&patches, 0, 0, "patchify B%d %dx%d P%d", B, Hi, Wi, P);
        t_free(&pix);
        t_free(&patches);
    }
}

/* The backward with and without the patch gradient (the patch embedding's
 * input needs none). */
TEST(vit_embed) {
    const int B = 3, NP = 9, Cc = 29;
    tens_t po = t_rand((size_t)B * NP * Cc, 1, 0), cls = t_rand((size_t)Cc, 0.02f, 0);
    tens_t pos = t_rand((size_t)(NP + 1) * Cc, 0.02f, 0), out = t_out((size_t)B * (NP + 1) * Cc);
    C->op_vit_embed(out.h, po.h, cls.h, pos.h, B, NP, Cc);
    D->op_vit_embed(out.d, po.d, cls.d, pos.d, B, NP, Cc);
    t_check(&out, 0, 0, "vit_embed");
    tens_t dout = t_rand((size_t)B * (NP + 1) * Cc, 1, 0);
    C->op_vit_embed_backward(po.h, cls.h, pos.h, dout.h, B, NP, Cc);
    D->op_vit_embed_backward(po.d, cls.d, pos.d, dout.d, B, NP, Cc);
    C->op_vit_embed_backward(NULL, cls.h, pos.h, dout.h, B, NP, Cc);
    D->op_vit_embed_backward(NULL, cls.d, pos.d, dout.d, B, NP, Cc);
    t_check(&po, tol_plain(), 0, "vit_embed_backward dpatch");
    t_check(&cls, tol_plain(), 0, "vit_embed_backward dcls");
    t_check(&pos, tol_plain(), 0, "vit_embed_backward dpos");
    tens_t *all[] = {&po, &cls, &pos, &out, &dout};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) t_free(all[i]);
}

/* ---- loss, optimizer ------------------------------------------------------------------ */

/* The model's in-place gradient (dlogits == logits), a separate gradient
 * buffer, the loss alone; ignored rows (-100); row 0 shifted by +60. */
TEST(crossentropy) {
    static const ce_case_t cases[] = {
        {9, 1037, CE_INPLACE, 0.1f, 1.0f}, {13, 101, CE_SEPARATE, 0.0f, 0.5f},
        {6, 3001, CE_LOSS_ONLY, 0.1f, 1.0f}, {1, 5, CE_INPLACE, 0.2f, 2.0f},
        {2, 30524, CE_INPLACE, 0.1f, 1.0f}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        int N = cases[k].N, V = cases[k].V;
        int32_t *th = xmalloc((size_t)N * sizeof *th);
        for (int i = 0; i < N; i++)
            th[i] = i > 0 && rng_below(&rng, 4) == 0 ? -100 : (int32_t)rng_below(&rng, (uint32_t)V);
        crossentropy_case(&cases[k], th);
        free(th);
    }
}

TEST(adamw) {
    static const adamw_case_t cases[] = {
        {10001, 0, 1, 0.05f, 1.0f}, {1001, 1, 7, 0.05f, 0.5f}, {5, 0, 1000, 0.0f, 0.25f}};
    for (size_t k = 0; k < ARRAY_LEN(cases); k++)
        adamw_case(&cases[k]);
}

/* ---- the model in bf16 --------------------------------------------------------------- */

/* One forward and backward of m on batch b in the current precision: the
 * loss; the logits and gradients into host arrays. */
static float model_step(blip_model_t *m, const blip_batch_t *b, float *logits, float *grads) {
    m->dropout_step = 0; /* the same dropout masks each time */
    blip_zero_grad(m);
    float loss = blip_forward(m, b);
    blip_get_logits(m, logits);
    blip_backward(m);
    D->be_download(grads, m->g, m->nfloats * sizeof(float));
    return loss;
}

/* max |a - b| / max(max |b|, floor) */
static double max_rel(const float *a, const float *b, size_t n, double floor) {
    double d = 0.0, mx = floor;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, isfinite(a[i]) ? fabs((double)a[i] - b[i]) : INFINITY);
        mx = fmax(mx, fabs((double)b[i]));
    }
    return d / mx;
}

/* A 2+2-layer captioner with head size 16 (BLIP-base's heads are 64: the
 * op tests cover that size) and dropout on, in bf16 against itself in fp32
 * (which test_cuda_emu_model holds to the CPU): loss within 1e-2, logits and
 * all gradients within 2e-2 of their largest magnitude. Two captions, the
 * second padded (key mask). */
TEST(model_bf16) {
    blip_config_t c;
    blip_config_base(&c);
    c.image_size = 48, c.v_hidden = 32, c.v_inter = 64, c.v_layers = 2, c.v_heads = 2;
    c.t_hidden = 32, c.t_inter = 64, c.t_layers = 2, c.t_heads = 2;
    c.t_hidden_dropout = c.t_attn_dropout = 0.1;
    enum { B = 2, T = 9 };
    blip_model_t *m = blip_model_new(&c, B, T, 1); /* state sized in fp32: the larger */
    blip_model_init(m, 42);
    m->dropout_seed = 7;
    size_t np = (size_t)B * 3 * c.image_size * c.image_size, nl = (size_t)B * T * c.vocab;
    float *pixels = xmalloc(np * sizeof *pixels);
    for (size_t i = 0; i < np; i++) pixels[i] = (float)rng_normal(&rng);
    int32_t ids[B * T], mask[B * T], labels[B * T];
    for (int i = 0; i < B * T; i++) {
        int t = i % T, len = i < T ? T : T - 3;
        ids[i] = t == 0 ? c.bos_id : t == len - 1 ? c.sep_id : t < len ? 1000 + i : c.pad_id;
        mask[i] = t < len;
        labels[i] = t < len ? ids[i] : -100;
    }
    blip_batch_t b = {.pixels = pixels, .ids = ids, .mask = mask, .labels = labels, .B = B, .T = T};
    float *l32 = xmalloc(nl * sizeof *l32), *l16 = xmalloc(nl * sizeof *l16);
    float *g32 = xmalloc(m->nfloats * sizeof *g32), *g16 = xmalloc(m->nfloats * sizeof *g16);
    float loss32 = model_step(m, &b, l32, g32);
    emu_set_bf16(1);
    float loss16 = model_step(m, &b, l16, g16);
    emu_set_bf16(0);
    CHECK_MSG(fabsf(loss16 - loss32) <= 1e-2f * fabsf(loss32), "model bf16 loss %.6g vs %.6g",
              loss16, loss32);
    double el = max_rel(l16, l32, nl, 0.0), gmax = 0.0;
    CHECK_MSG(el <= 2e-2, "model bf16 logits: max rel err %.3g", el);
    for (size_t i = 0; i < m->nfloats; i++) gmax = fmax(gmax, fabs((double)g32[i]));
    for (size_t i = 0; i < m->nparams; i++) {
        const blip_param_t *p = &m->params[i];
        double e = max_rel(g16 + p->off, g32 + p->off, p->n, 1e-3 * gmax);
        CHECK_MSG(e <= 2e-2, "model bf16 gradient %s: max rel err %.3g", p->name, e);
    }
    blip_model_free(m);
    free(pixels), free(l32), free(l16), free(g32), free(g16);
}

/* ---- the backend's rules ---------------------------------------------------------------- */

/* A layer's worth of ops, twice at the same shapes: the second round
 * allocates nothing (scratch has grown) and waits for nothing. */
static void one_layer(float *x, float *h, float *qkv, float *probs, float *w, float *b,
                      float *stats, const attn_shape_t *s, int N, int Cc) {
    D->op_layernorm(h, stats, stats + N, x, w, b, N, Cc, 1e-6f);
    D->op_matmul(qkv, h, w, b, N, Cc, 3 * Cc);
    D->op_attention(h, probs, qkv, qkv + Cc, qkv + 2 * Cc, s);
    D->op_attention_backward(qkv, qkv + Cc, qkv + 2 * Cc, h, h, probs, qkv, qkv + Cc,
                             qkv + 2 * Cc, s);
    D->op_matmul_backward(h, w, b, qkv, h, w, N, Cc, 3 * Cc);
    D->op_gelu(x, h, (size_t)N * Cc);
    D->op_sumsq(stats, x, (size_t)N * Cc);
}

TEST(no_alloc_no_wait_in_ops) {
    BOTH_PRECISIONS({
        const int B = 2, T = 5, Cc = 8, N = B * T;
        attn_shape_t s = {.B = B, .H = 2, .Tq = T, .Tk = T, .hd = Cc / 2, .q_stride = 3 * Cc,
                          .kv_stride = 3 * Cc, .p_drop = 0.1f, .seed = 1, .stream = 2};
        float *x = D->alloc((size_t)N * Cc * 4), *h = D->alloc((size_t)N * Cc * 4);
        float *qkv = D->alloc((size_t)N * 3 * Cc * 4), *probs = D->alloc((size_t)B * 2 * T * T * 4);
        float *w = D->alloc((size_t)3 * Cc * Cc * 4), *b = D->alloc((size_t)3 * Cc * 4);
        float *stats = D->alloc((size_t)2 * N * 4);
        one_layer(x, h, qkv, probs, w, b, stats, &s, N, Cc);
        long mallocs = emu_n_mallocs, syncs = emu_n_syncs, launches = emu_n_launches;
        one_layer(x, h, qkv, probs, w, b, stats, &s, N, Cc);
        CHECK_MSG(emu_n_mallocs == mallocs, "%ld cudaMalloc calls in repeated ops",
                  emu_n_mallocs - mallocs);
        CHECK_MSG(emu_n_syncs == syncs, "%ld host waits in ops", emu_n_syncs - syncs);
        CHECK(emu_n_launches > launches);
        float *all[] = {x, h, qkv, probs, w, b, stats};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) D->be_free(all[i]);
    });
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    be_open("cuda", "fp32");
    rng_init(&rng, 20261127, 0);
    return test_main(argc, argv);
}
