/* parity.h - the harness shared by the programs that check a device backend
 * op by op against the CPU backend (tests/gpu/ops_parity.c on a GPU,
 * tests/emu/test_cuda_emu.c under the CUDA emulator): tensors held twice (a
 * host copy the CPU backend computes on, a guarded device copy for the tested
 * backend), seeded random fills, the comparison of the two, and the cases
 * both programs run (attention, the GELU chain, text embedding,
 * cross-entropy, AdamW), each program with its own shapes. Include after
 * test.h (CHECK_MSG); static functions, one program per include (static inline:
 * a program uses what it needs).
 *
 * The tested backend D is be_cuda when built with -DBLIP_CUDA (on a GPU or
 * against the emulator), else the CPU backend itself (to check a harness).
 *
 * Every device buffer is framed by GUARD poisoned floats on each side, and
 * outputs start poisoned all through (a NaN bit pattern uploaded first): an
 * element the op did not write, or one written outside its tensor, fails.
 *
 * Error of a tensor: max_i |dev_i - cpu_i| / max(|cpu_i|, floor) with
 * floor = max_j |cpu_j|, the tensor's largest magnitude (for a gradient
 * accumulated onto initial values, t_acc: max_j |cpu_j - initial_j|, the
 * scale of what the op added). */
#ifndef BLIP_PARITY_H
#define BLIP_PARITY_H

#ifndef BLIP_TEST_H
#error "include test.h (with main renamed to test_main) before parity.h"
#endif

#include <stdarg.h>

#include "err.h"
#include "ops.h"
#include "rng.h"

#ifdef BLIP_CUDA
#define TESTED be_cuda
#else
#define TESTED be_cpu
#endif

#define GUARD 64
#define POISON 0x7fc0dea1u /* a quiet NaN no arithmetic produces */

static const backend_t *D = &TESTED, *C = &be_cpu;
static int bf16;         /* the tested backend runs in bf16: tol_gemm() widens */
static int show_errors;  /* t_check prints each tensor's error */
static rng_t rng;

/* ---- tensors: a host reference copy and a guarded device copy --------- */

typedef struct {
    float *h;     /* host (CPU backend) data, n floats */
    float *d;     /* device data: base + GUARD */
    float *base;  /* device allocation of n + 2 * GUARD floats */
    float *init;  /* accumulators (t_acc): the initial values, else NULL */
    size_t n;
} tens_t;

static inline float poison_value(void) {
    uint32_t u = POISON;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* An output the op overwrites: n floats between guards, all of it poisoned
 * on both sides. */
static inline tens_t t_out(size_t n) {
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
static inline void t_sync_up(tens_t *t) { D->be_upload(t->d, t->h, t->n * sizeof(float)); }

/* Random values: normal * scale + shift, the same on both sides. */
static inline tens_t t_rand(size_t n, float scale, float shift) {
    tens_t t = t_out(n);
    for (size_t i = 0; i < n; i++) t.h[i] = (float)rng_normal(&rng) * scale + shift;
    t_sync_up(&t);
    return t;
}

/* A gradient a backward op adds to: small random values (so an op that
 * overwrites instead of adding is caught), remembered for t_check. */
static inline tens_t t_acc(size_t n) {
    tens_t t = t_rand(n, 0.1f, 0);
    t.init = xmalloc((n ? n : 1) * sizeof(float));
    memcpy(t.init, t.h, n * sizeof(float));
    return t;
}

static inline void t_free(tens_t *t) {
    free(t->init);
    free(t->h);
    D->be_free(t->base);
}

/* int32 device input (no guards: integer inputs are read, never written). */
typedef struct {
    int32_t *h, *d;
    size_t n;
} itens_t;

/* vals may be NULL when n is 0. */
static inline itens_t i_make(const int32_t *vals, size_t n) {
    itens_t t = {.h = xmalloc((n ? n : 1) * sizeof(int32_t)), .n = n};
    t.d = D->alloc((n ? n : 1) * sizeof(int32_t));
    if (n) { /* not memcpy(.., NULL, 0): the compiler may then assume vals != NULL */
        memcpy(t.h, vals, n * sizeof(int32_t));
        D->be_upload(t.d, vals, n * sizeof(int32_t));
    }
    return t;
}

static inline void i_free(itens_t *t) {
    free(t->h);
    D->be_free(t->d);
}

/* Integer draws in [lo, hi). */
static inline int32_t *i_rand(size_t n, int lo, int hi) {
    int32_t *v = xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = lo + (int32_t)rng_below(&rng, (uint32_t)(hi - lo));
    return v;
}

/* ---- comparison --------------------------------------------------------- */

enum { ZEROS_EXACT = 1 }; /* cpu_i == 0 exactly iff dev_i == 0 exactly */

static inline double tol_plain(void) { return 1e-5; }
static inline double tol_gemm(void) { return bf16 ? 1e-2 : 1e-5; }

/* Download t, compare with its host copy; reports and counts a failure.
 * The rest names the tensor, printf-style. */
__attribute__((format(printf, 4, 5))) static inline void t_check(const tens_t *t, double tol,
                                                                 int flags, const char *fmt, ...) {
    char what[160];
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
        if (!isfinite(g[i]) || !isfinite(t->h[i])) {
            if (nonfinite++ == 0) first_bad = i;
            continue;
        }
        if ((flags & ZEROS_EXACT) && ((g[i] == 0.0f) != (t->h[i] == 0.0f))) zeros_bad++;
        double den = fmax(fabs((double)t->h[i]), floor);
        double e = den > 0 ? fabs((double)g[i] - t->h[i]) / den : fabs((double)g[i]);
        if (e > worst) worst = e, worst_i = i;
    }
    if (show_errors)
        printf("  %-40s n %-10zu max rel err %.3g (tol %.0e)%s\n", what, t->n, worst, tol,
               nonfinite ? " NON-FINITE" : "");
    CHECK_MSG(!guard_bad, "%s: %zu guard floats overwritten (writes outside the tensor)", what,
              guard_bad);
    CHECK_MSG(!nonfinite, "%s: %zu of %zu elements unwritten or not finite, first at %zu", what,
              nonfinite, t->n, first_bad);
    CHECK_MSG(!zeros_bad, "%s: %zu elements zero on one side only (mask mismatch)", what,
              zeros_bad);
    CHECK_MSG(worst <= tol, "%s (%s): max rel err %.3g > %.0e at %zu: %.9g vs %.9g", what,
              bf16 ? "bf16" : "fp32", worst, tol, worst_i, g[worst_i], t->h[worst_i]);
    free(p);
}

/* ---- attention cases ---------------------------------------------------- */

/* Layouts as the model calls attention: FUSED q|k|v rows of 3C (ViT, text
 * self-attention in training), CROSS q rows of C and k|v rows of 2C (cross-
 * attention; with group g the beams of an image share its k|v), CACHE the
 * decoder's KV cache: k|v rows in a buffer of `cap` rows per batch, q with
 * a padding row (explicit batch strides). Cache rows past Tk and q's padding
 * row hold poison, so reading them shows as non-finite outputs. */
enum { FUSED, CROSS, CACHE };
enum { MASK_NONE, MASK_PAD, MASK_PAD_EMPTY };

typedef struct {
    const char *what;
    int layout, B, H, Tq, Tk, hd, causal, group, cap, mask;
    float p_drop;
} at_case_t;

/* Key mask [B, Tk]: batch 0 sees every key, others a random prefix (with
 * MASK_PAD_EMPTY, batch 1 none at all: its rows get zero probabilities). */
static inline int32_t *key_mask(const at_case_t *c) {
    int32_t *m = xmalloc((size_t)c->B * c->Tk * sizeof *m);
    for (int b = 0; b < c->B; b++) {
        int len = b == 0                                 ? c->Tk
                  : c->mask == MASK_PAD_EMPTY && b == 1 ? 0
                                                         : 1 + (int)rng_below(&rng, (uint32_t)c->Tk);
        for (int j = 0; j < c->Tk; j++) m[(size_t)b * c->Tk + j] = j < len;
    }
    return m;
}

/* Set rows [from, per) of each of nb blocks of `per` rows of `row` floats to
 * poison (host and device). */
static inline void poison_rows(tens_t *t, int nb, int per, size_t row, int from) {
    for (int b = 0; b < nb; b++)
        for (int r = from; r < per; r++)
            for (size_t i = 0; i < row; i++) t->h[((size_t)b * per + r) * row + i] = poison_value();
    t_sync_up(t);
}

/* One attention case run forward on both backends and compared; the
 * program then runs its own backward checks from it (at_free after). */
typedef struct {
    attn_shape_t sh, sd;   /* the host and device shapes (their key masks) */
    int Cc, qrows, Bkv;    /* width H*hd, q rows per batch, k|v batches */
    size_t koff, voff, qn, kvn, on, pn; /* k, v offsets in a row; sizes of q, k|v, out, probs */
    tens_t q, kvb, *kv;    /* kv: kvb, or q itself for FUSED */
    tens_t out, probs;     /* [B, Tq, Cc]; the state: [B, H, Tq, Tk] on the CPU, on the
                              device be_attn_state_floats (probabilities, or fewer floats) */
    int32_t *mh;           /* host key mask or NULL */
    itens_t mask;
} at_run_t;

/* q drawn with standard deviation qscale, k|v with 1. */
static inline void at_forward(at_run_t *r, const at_case_t *c, float qscale) {
    int Cc = c->H * c->hd, g = c->group > 1 ? c->group : 1;
    r->Cc = Cc, r->Bkv = (c->B + g - 1) / g, r->qrows = c->Tq, r->kvn = 0;
    attn_shape_t s = {.B = c->B, .H = c->H, .Tq = c->Tq, .Tk = c->Tk, .hd = c->hd,
                      .kv_group = c->group, .causal = c->causal, .p_drop = c->p_drop,
                      .seed = 0x5eed5eed5eedull, .stream = 0x1234567890ull};
    if (c->layout == FUSED) {
        s.q_stride = s.kv_stride = 3 * Cc;
        r->qn = (size_t)c->B * c->Tq * 3 * Cc, r->koff = (size_t)Cc, r->voff = 2 * (size_t)Cc;
    } else {
        s.q_stride = Cc, s.kv_stride = 2 * Cc, r->koff = 0, r->voff = (size_t)Cc;
        if (c->layout == CACHE) {
            r->qrows = c->Tq + 1;
            s.q_bstride = (size_t)r->qrows * Cc;
            s.kv_bstride = (size_t)c->cap * 2 * Cc;
        }
        r->qn = (size_t)c->B * r->qrows * Cc;
        r->kvn = (size_t)r->Bkv * (c->layout == CACHE ? c->cap : c->Tk) * 2 * Cc;
    }
    r->q = t_rand(r->qn, qscale, 0), r->kvb = t_rand(r->kvn, 1, 0);
    r->kv = c->layout == FUSED ? &r->q : &r->kvb;
    if (c->layout == CACHE) {
        poison_rows(&r->q, c->B, r->qrows, (size_t)Cc, c->Tq);
        poison_rows(&r->kvb, r->Bkv, c->cap, 2 * (size_t)Cc, c->Tk);
    }
    r->mh = c->mask ? key_mask(c) : NULL;
    r->mask = i_make(r->mh, r->mh ? (size_t)c->B * c->Tk : 0);
    r->sh = r->sd = s;
    r->sh.key_mask = r->mh;
    r->sd.key_mask = r->mh ? r->mask.d : NULL;

    r->on = (size_t)c->B * c->Tq * Cc, r->pn = (size_t)c->B * c->H * c->Tq * c->Tk;
    r->out = t_out(r->on), r->probs = t_out(r->pn);
    C->op_attention(r->out.h, r->probs.h, r->q.h, r->kv->h + r->koff, r->kv->h + r->voff, &r->sh);
    D->op_attention(r->out.d, r->probs.d, r->q.d, r->kv->d + r->koff, r->kv->d + r->voff, &r->sd);
    t_check(&r->out, tol_gemm(), 0, "attention %s out", c->what);
    /* a state of B*H*Tq*Tk floats is the probabilities (Tk > 1: else a
     * per-row state would have the same size) */
    if (!bf16 || (D->attn_state_floats(&r->sd) == r->pn && c->Tk > 1))
        t_check(&r->probs, tol_gemm(), ZEROS_EXACT, "attention %s probs", c->what);
}

/* The backward from dout [B, Tq, Cc] into dq and dkvb (they accumulate; the
 * k|v gradients at r's offsets, in dq for FUSED), each backend from its own
 * forward output and state. */
static inline void at_backward(at_run_t *r, const at_case_t *c, const tens_t *dout, tens_t *dq,
                               tens_t *dkvb) {
    tens_t *dkv = c->layout == FUSED ? dq : dkvb, *kv = r->kv;
    C->op_attention_backward(dq->h, dkv->h + r->koff, dkv->h + r->voff, dout->h, r->out.h,
                             r->probs.h, r->q.h, kv->h + r->koff, kv->h + r->voff, &r->sh);
    D->op_attention_backward(dq->d, dkv->d + r->koff, dkv->d + r->voff, dout->d, r->out.d,
                             r->probs.d, r->q.d, kv->d + r->koff, kv->d + r->voff, &r->sd);
}

static inline void at_free(at_run_t *r) {
    free(r->mh);
    i_free(&r->mask);
    tens_t *all[] = {&r->q, &r->kvb, &r->out, &r->probs};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
}

/* ---- cases shared by both programs --------------------------------------- */

/* y += x; x *= 0.37; gl = gelu(y) (checked); y += gelu'(x) * gl, at
 * element offset off of tensors of n + off floats. */
static inline void gelu_chain(tens_t *x, tens_t *y, tens_t *gl, size_t n, size_t off) {
    C->op_add_inplace(y->h + off, x->h + off, n);
    D->op_add_inplace(y->d + off, x->d + off, n);
    C->op_scale(x->h + off, 0.37f, n);
    D->op_scale(x->d + off, 0.37f, n);
    C->op_gelu(gl->h + off, y->h + off, n);
    D->op_gelu(gl->d + off, y->d + off, n);
    t_check(gl, tol_plain(), 0, "gelu n=%zu+%zu", n, off);
    C->op_gelu_backward(y->h + off, x->h + off, gl->h + off, n);
    D->op_gelu_backward(y->d + off, x->d + off, gl->d + off, n);
}

/* Token and position embeddings of B x T ids drawn from [0, nids) (0 = pad
 * among them: with few values rows share ids and the scatter-add of the
 * backward meets collisions), positions from pos0; the forward within
 * fwd_tol (0: the same arithmetic), the backward into the tables. */
typedef struct { int B, T, C, V, P, pos0; } te_case_t;

static inline void text_embed_case(const te_case_t *c, int nids, double fwd_tol) {
    int B = c->B, T = c->T, Cc = c->C, pos0 = c->pos0;
    size_t nt = (size_t)B * T;
    int32_t *ih = i_rand(nt, 0, nids);
    itens_t ids = i_make(ih, nt);
    tens_t wte = t_rand((size_t)c->V * Cc, 0.02f, 0), wpe = t_rand((size_t)c->P * Cc, 0.02f, 0);
    tens_t out = t_out(nt * Cc);
    C->op_text_embed(out.h, ids.h, wte.h, wpe.h, B, T, Cc, pos0);
    D->op_text_embed(out.d, ids.d, wte.d, wpe.d, B, T, Cc, pos0);
    t_check(&out, fwd_tol, 0, "text_embed B%d T%d C%d", B, T, Cc);
    tens_t dout = t_rand(nt * Cc, 1, 0);
    C->op_text_embed_backward(wte.h, wpe.h, dout.h, ids.h, B, T, Cc, pos0, 0);
    D->op_text_embed_backward(wte.d, wpe.d, dout.d, ids.d, B, T, Cc, pos0, 0);
    t_check(&wte, tol_plain(), 0, "text_embed_bwd B%d T%d dwte", B, T);
    t_check(&wpe, tol_plain(), 0, "text_embed_bwd B%d T%d dwpe", B, T);
    free(ih);
    i_free(&ids);
    tens_t *all[] = {&wte, &wpe, &out, &dout};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
}

/* Label-smoothed cross-entropy of N rows of V logits (row 0 shifted by +60
 * so the max subtraction matters) against targets th[N] (-100: ignored):
 * the model's in-place gradient (dlogits == logits), a separate gradient
 * buffer, or the loss alone (validation). */
enum { CE_INPLACE, CE_SEPARATE, CE_LOSS_ONLY };
typedef struct { int N, V, mode; float eps, dscale; } ce_case_t;

static inline void crossentropy_case(const ce_case_t *c, const int32_t *th) {
    int N = c->N, V = c->V, mode = c->mode;
    int count = 0;
    for (int i = 0; i < N; i++) count += th[i] >= 0;
    itens_t tg = i_make(th, (size_t)N);
    tens_t lg = t_rand((size_t)N * V, 3, 0), dl = t_out(mode == CE_SEPARATE ? (size_t)N * V : 0);
    for (int j = 0; j < V; j++) lg.h[j] += 60.0f;
    t_sync_up(&lg);
    tens_t loss = t_out((size_t)N);
    float *dh = mode == CE_INPLACE ? lg.h : mode == CE_SEPARATE ? dl.h : NULL;
    float *dd = mode == CE_INPLACE ? lg.d : mode == CE_SEPARATE ? dl.d : NULL;
    C->op_crossentropy(loss.h, dh, lg.h, tg.h, N, V, c->eps, count, c->dscale);
    D->op_crossentropy(loss.d, dd, lg.d, tg.d, N, V, c->eps, count, c->dscale);
    t_check(&loss, tol_plain(), 0, "crossentropy N%d V%d losses", N, V);
    if (mode != CE_LOSS_ONLY)
        t_check(mode == CE_INPLACE ? &lg : &dl, tol_plain(), 0, "crossentropy N%d V%d dlogits", N, V);
    i_free(&tg);
    tens_t *all[] = {&lg, &dl, &loss};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
}

/* One AdamW step on n parameters at element offset off (slices of the
 * parameter buffer), v positive and small as after training steps. */
typedef struct { size_t n, off; int t; float wd, gscale; } adamw_case_t;

static inline void adamw_case(const adamw_case_t *c) {
    size_t n = c->n, off = c->off;
    tens_t p = t_rand(n + off, 0.02f, 0), g = t_rand(n + off, 0.01f, 0);
    tens_t m = t_rand(n + off, 0.001f, 0), v = t_rand(n + off, 1, 0);
    for (size_t i = 0; i < n + off; i++) v.h[i] = 1e-6f * v.h[i] * v.h[i];
    t_sync_up(&v);
    adamw_args_t a = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                      .weight_decay = c->wd, .gscale = c->gscale, .t = c->t};
    C->op_adamw(p.h + off, g.h + off, m.h + off, v.h + off, n, &a);
    D->op_adamw(p.d + off, g.d + off, m.d + off, v.d + off, n, &a);
    t_check(&p, tol_plain(), 0, "adamw n=%zu+%zu t=%d param", n, off, c->t);
    t_check(&m, tol_plain(), 0, "adamw n=%zu+%zu t=%d m", n, off, c->t);
    t_check(&v, tol_plain(), 0, "adamw n=%zu+%zu t=%d v", n, off, c->t);
    tens_t *all[] = {&p, &g, &m, &v};
    for (size_t i = 0; i < ARRAY_LEN(all); i++) t_free(all[i]);
}

#endif
