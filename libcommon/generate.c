/* generate.c - greedy search, beam search and nucleus sampling for captions,
 * step for step as HuggingFace's GenerationMixin (_sample, _beam_search and
 * the logits processors BLIP's generate() call enables). */
#include "generate.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "model_decode.h"
#include "rng.h"

#define NEG_BIG (-1.0e9f)   /* HF's "impossible" score offset */

typedef struct {
    float v;
    int32_t idx;
} cand_t;

/* Beam search state of one image. */
typedef struct {
    int32_t *run;          /* [K, max_length] running sequences */
    float *run_score;      /* [K] */
    int32_t *fin;          /* [K, max_length] finished hypotheses */
    int *fin_len;          /* [K] */
    float *fin_score;      /* [K] */
    int *fin_ok;           /* [K] slot holds a finished hypothesis */
    int *fin_order;        /* [K] insertion number (legacy scoring) */
    int nadd, done;
    double worst;          /* legacy scoring: BeamHypotheses.worst_score */
} beam_img_t;

struct gen {
    blip_model_t *m;
    gen_cfg_t c;
    int max_images, V;
    blip_kv_t *kv;
    float *logits;         /* [rows, V] */
    float *lp;             /* [K, V] one image's processed log-probs */
    int32_t *ids, *src;    /* [rows] next tokens, reorder sources */
    int32_t *live, *keep;  /* [max_images] image in each cache slot, slots kept */
    int *finished;         /* [max_images] image needs no more steps */
    long fed0;             /* blip_kv_fed() when gen_run began */
    int32_t *tmp;          /* [K, max_length] */
    cand_t *cand, *order;  /* [4K] */
    cand_t *vocab_sort;    /* [V] for sampling */
    beam_img_t *img;       /* [max_images] */
};

void gen_cfg_blip(gen_cfg_t *c, const blip_config_t *mc) {
    *c = (gen_cfg_t){.beams = 3, .max_length = 20, .min_length = 5, .top_p = 0.9f, .top_k = 50,
                     .repetition_penalty = 1.0f, .length_penalty = 1.0f,
                     .early_stopping = GEN_EARLY_FALSE, .eos = mc->sep_id, .pad = mc->pad_id};
}

void gen_cfg_blip_sample(gen_cfg_t *c) {
    c->sample = 1;
    c->beams = 1;
    c->top_p = 0.9f;
    c->top_k = 50;
    c->repetition_penalty = 1.1f;
}

int gen_cfg_check(const gen_cfg_t *c, const blip_config_t *mc, char *err, size_t errlen) {
    if (c->beams < 1 || c->beams > GEN_MAX_BEAMS)
        return errf(err, errlen, "beams must be 1..%d (got %d)", GEN_MAX_BEAMS, c->beams);
    if (c->sample && c->beams != 1) return errf(err, errlen, "sampling uses one beam (got %d)", c->beams);
    if (c->max_length < 1 || c->max_length > mc->max_pos)
        return errf(err, errlen, "max_length %d outside 1..%d (max_position_embeddings)", c->max_length,
                    mc->max_pos);
    if (c->min_length < 0 || c->min_length > c->max_length)
        return errf(err, errlen, "min_length %d outside 0..max_length %d", c->min_length, c->max_length);
    if (c->eos < 0 || c->eos >= mc->vocab || c->pad < 0 || c->pad >= mc->vocab)
        return errf(err, errlen, "eos %d or pad %d outside the vocabulary of %d", c->eos, c->pad, mc->vocab);
    if (!(c->repetition_penalty > 0)) return errf(err, errlen, "repetition penalty must be positive");
    if (c->sample && !(c->top_p > 0 && c->top_p <= 1)) return errf(err, errlen, "top_p must be in (0, 1]");
    if (c->top_k < 0) return errf(err, errlen, "top_k must not be negative");
    if (!isfinite(c->length_penalty)) return errf(err, errlen, "length penalty must be finite");
    return 0;
}

gen_t *gen_new(blip_model_t *m, const gen_cfg_t *c, int max_images) {
    char err[256];
    if (gen_cfg_check(c, &m->cfg, err, sizeof err)) die("generate: %s", err);
    gen_t *g = xcalloc(1, sizeof *g);
    g->m = m;
    g->c = *c;
    g->max_images = max_images;
    g->V = m->cfg.vocab;
    int K = c->beams, rows = max_images * K, L = c->max_length;
    g->kv = blip_kv_new(m, rows, L);
    g->logits = xmalloc((size_t)rows * g->V * sizeof(float));
    g->lp = xmalloc((size_t)K * g->V * sizeof(float));
    g->ids = xmalloc((size_t)rows * L * sizeof(int32_t));
    g->src = xmalloc((size_t)rows * sizeof(int32_t));
    g->live = xmalloc((size_t)max_images * sizeof(int32_t));
    g->keep = xmalloc((size_t)max_images * sizeof(int32_t));
    g->finished = xmalloc((size_t)max_images * sizeof(int));
    g->tmp = xmalloc((size_t)K * L * sizeof(int32_t));
    g->cand = xmalloc(4 * (size_t)K * sizeof(cand_t));
    g->order = xmalloc(4 * (size_t)K * sizeof(cand_t));
    g->vocab_sort = xmalloc((size_t)g->V * sizeof(cand_t));
    g->img = xcalloc((size_t)max_images, sizeof(beam_img_t));
    for (int i = 0; i < max_images; i++) {
        beam_img_t *b = &g->img[i];
        b->run = xmalloc((size_t)K * L * sizeof(int32_t));
        b->fin = xmalloc((size_t)K * L * sizeof(int32_t));
        b->run_score = xmalloc((size_t)K * sizeof(float));
        b->fin_score = xmalloc((size_t)K * sizeof(float));
        b->fin_len = xmalloc((size_t)K * sizeof(int));
        b->fin_ok = xmalloc((size_t)K * sizeof(int));
        b->fin_order = xmalloc((size_t)K * sizeof(int));
    }
    return g;
}

void gen_free(gen_t *g) {
    if (!g) return;
    for (int i = 0; i < g->max_images; i++) {
        beam_img_t *b = &g->img[i];
        free(b->run);
        free(b->fin);
        free(b->run_score);
        free(b->fin_score);
        free(b->fin_len);
        free(b->fin_ok);
        free(b->fin_order);
    }
    free(g->img);
    blip_kv_free(g->kv);
    free(g->logits);
    free(g->lp);
    free(g->ids);
    free(g->src);
    free(g->live);
    free(g->keep);
    free(g->finished);
    free(g->tmp);
    free(g->cand);
    free(g->order);
    free(g->vocab_sort);
    free(g);
}

void gen_out_free(gen_out_t *o, int n) {
    for (int i = 0; i < n; i++) free(o[i].ids);
}

/* ---- logits processors ---------------------------------------------------- */

/* RepetitionPenaltyLogitsProcessor: each distinct token of seq[0..n) has its
 * score multiplied by p when negative, divided by p otherwise. */
static void repetition_penalty(float *s, const int32_t *seq, int n, float p, int V) {
    if (p == 1.0f) return;
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) dup = seq[j] == seq[i];
        if (dup || seq[i] < 0 || seq[i] >= V) continue;
        float v = s[seq[i]];
        s[seq[i]] = v < 0 ? v * p : v / p;
    }
}

/* log_softmax of one row, in place. */
static void log_softmax(float *x, int V) {
    float mx = -INFINITY;
    for (int v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
    double sum = 0;
    for (int v = 0; v < V; v++) sum += exp((double)x[v] - mx);
    double lz = mx + log(sum);
    for (int v = 0; v < V; v++) x[v] = (float)((double)x[v] - lz);
}

/* The processed scores of a row: repetition penalty, then eos blocked while
 * the sequence is shorter than min_length. */
static void process(const gen_t *g, float *s, const int32_t *seq, int n) {
    repetition_penalty(s, seq, n, g->c.repetition_penalty, g->V);
    if (n < g->c.min_length) s[g->c.eos] = -INFINITY;
}

/* ---- greedy and sampling -------------------------------------------------- */

static int cand_desc(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int32_t argmax(const float *s, int V) {
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (s[v] > s[best]) best = v;
    return best;
}

/* TopKLogitsWarper, TopPLogitsWarper, softmax, one multinomial draw. */
static int32_t sample_token(gen_t *g, const float *s, rng_t *r) {
    int V = g->V, n = 0;
    cand_t *c = g->vocab_sort;
    for (int v = 0; v < V; v++)
        if (s[v] > -INFINITY) c[n++] = (cand_t){s[v], v};
    if (n == 0) return argmax(s, V);
    qsort(c, (size_t)n, sizeof *c, cand_desc);
    if (g->c.top_k > 0 && g->c.top_k < n) { /* keep scores >= the k-th largest (ties stay) */
        float kth = c[g->c.top_k - 1].v;
        int k = g->c.top_k;
        while (k < n && c[k].v >= kth) k++;
        n = k;
    }
    double mx = c[0].v, z = 0;
    for (int i = 0; i < n; i++) z += exp(c[i].v - mx);
    /* drop the smallest tokens while their cumulative probability (from the
     * smallest up) stays <= 1 - top_p; the largest is always kept */
    double cum = 0;
    int keep = n;
    for (int i = n - 1; i > 0; i--) {
        cum += exp(c[i].v - mx) / z;
        if (cum > 1.0 - g->c.top_p) break;
        keep = i;
    }
    double zk = 0;
    for (int i = 0; i < keep; i++) zk += exp(c[i].v - mx);
    double u = rng_double(r) * zk, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += exp(c[i].v - mx);
        if (u < acc) return c[i].idx;
    }
    return c[keep - 1].idx;
}

/* Every row starts from the prompt: ids [rows, plen]; cache slot i holds
 * image i. */
static void step_prompt(gen_t *g, int n_images, int K, const int32_t *prompt, int plen) {
    int rows = n_images * K;
    for (int r = 0; r < rows; r++) memcpy(g->ids + (size_t)r * plen, prompt, (size_t)plen * sizeof(int32_t));
    for (int i = 0; i < n_images; i++) g->live[i] = i;
    blip_kv_start(g->kv, n_images, K);
    blip_kv_step(g->kv, g->ids, plen, g->logits);
}

/* Drop the finished images from the decoder's batch: the K next tokens (and
 * reorder sources, relative to the slot, unless src is NULL) of each kept
 * cache slot move down with it, and so does its cache. Returns the slots
 * left. */
static int drop_finished(gen_t *g, int slots, int K, int32_t *src) {
    int n = 0;
    for (int j = 0; j < slots; j++) {
        if (g->finished[g->live[j]]) continue;
        g->keep[n] = j;
        g->live[n] = g->live[j];
        memmove(g->ids + (size_t)n * K, g->ids + (size_t)j * K, (size_t)K * sizeof(int32_t));
        if (src) memmove(src + (size_t)n * K, src + (size_t)j * K, (size_t)K * sizeof(int32_t));
        n++;
    }
    if (n && n < slots) blip_kv_keep(g->kv, g->keep, n);
    return n;
}

static void set_out(gen_out_t *o, const int32_t *seq, int n, float score) {
    o->ids = xmalloc((size_t)n * sizeof(int32_t));
    memcpy(o->ids, seq, (size_t)n * sizeof(int32_t));
    o->n = n;
    o->score = score;
}

/* Greedy search or sampling: one row per image, dropped when it ends. */
static void run_greedy(gen_t *g, int n, const int32_t *prompt, int plen, uint64_t first_image,
                       gen_out_t *out) {
    int V = g->V, L = g->c.max_length, slots = plen < L ? n : 0;
    int32_t *seq = xmalloc((size_t)n * L * sizeof(int32_t));
    int *len = xmalloc((size_t)n * sizeof(int));
    rng_t *rng = xmalloc((size_t)n * sizeof(rng_t));
    for (int i = 0; i < n; i++) {
        memcpy(seq + (size_t)i * L, prompt, (size_t)plen * sizeof(int32_t));
        len[i] = plen;
        rng_init(&rng[i], g->c.seed, first_image + (uint64_t)i);
    }
    if (slots) step_prompt(g, n, 1, prompt, plen);
    while (slots) {
        for (int j = 0; j < slots; j++) {
            int i = g->live[j];
            int32_t *si = seq + (size_t)i * L;
            float *s = g->logits + (size_t)j * V;
            process(g, s, si, len[i]);
            int32_t t = g->c.sample ? sample_token(g, s, &rng[i]) : argmax(s, V);
            si[len[i]++] = t;
            g->ids[j] = t;
            g->finished[i] = len[i] >= L || t == g->c.eos;
        }
        slots = drop_finished(g, slots, 1, NULL);
        if (slots) blip_kv_step(g->kv, g->ids, 1, g->logits);
    }
    for (int i = 0; i < n; i++) set_out(&out[i], seq + (size_t)i * L, len[i], 0.0f);
    free(seq);
    free(len);
    free(rng);
}

/* ---- beam search ---------------------------------------------------------- */

/* Insert (v, idx) into the best-first list c[0..*n) of at most cap entries;
 * equal scores keep the lower index first (torch.topk on CPU). */
static void topk_push(cand_t *c, int *n, int cap, float v, int32_t idx) {
    if (*n == cap && !(v > c[cap - 1].v)) return;
    int i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && v > c[i - 1].v) {
        c[i] = c[i - 1];
        i--;
    }
    c[i] = (cand_t){v, idx};
}

/* transformers 5 (_update_finished_beams): eos among the best K candidates
 * (every one of them at max_length) competes with the K finished slots,
 * scored by new tokens; nothing is added once the slots are full under
 * early stopping. */
static void hf_finished(gen_t *g, beam_img_t *b, int cur, int plen, int all_hit) {
    const gen_cfg_t *c = &g->c;
    int K = c->beams, V = g->V, L = c->max_length;
    const cand_t *cand = g->cand;
    int full = 1;
    for (int k = 0; k < K; k++) full &= b->fin_ok[k];
    if (full && c->early_stopping == GEN_EARLY_TRUE) return;
    float norm = powf((float)(cur + 1 - plen), c->length_penalty);
    int nm = 0;
    cand_t *m = g->order;
    for (int k = 0; k < K; k++) m[nm++] = (cand_t){b->fin_ok[k] ? b->fin_score[k] : NEG_BIG, k};
    for (int j = 0; j < K; j++)
        if (all_hit || cand[j].idx % V == c->eos) m[nm++] = (cand_t){cand[j].v / norm, K + j};
    if (nm <= K) return;
    qsort(m, (size_t)nm, sizeof *m, cand_desc);
    int32_t *seqs = g->tmp;
    float sc[GEN_MAX_BEAMS];
    int ok[GEN_MAX_BEAMS], ln[GEN_MAX_BEAMS];
    for (int k = 0; k < K; k++) {
        int e = m[k].idx;
        int32_t *dst = seqs + (size_t)k * L;
        if (e < K) {
            memcpy(dst, b->fin + (size_t)e * L, (size_t)b->fin_len[e] * sizeof(int32_t));
            ln[k] = b->fin_len[e];
            ok[k] = b->fin_ok[e];
        } else {
            const cand_t *cj = &cand[e - K];
            memcpy(dst, b->run + (size_t)(cj->idx / V) * L, (size_t)cur * sizeof(int32_t));
            dst[cur] = cj->idx % V;
            ln[k] = cur + 1;
            ok[k] = 1;
        }
        sc[k] = m[k].v;
    }
    memcpy(b->fin, seqs, (size_t)K * L * sizeof(int32_t));
    for (int k = 0; k < K; k++) {
        b->fin_score[k] = sc[k];
        b->fin_len[k] = ln[k];
        b->fin_ok[k] = ok[k];
    }
}

/* transformers 5 (_check_early_stop_heuristic): done at max_length, when
 * the slots are full under early stopping, or when they are full and the
 * best running beam cannot beat the worst of them. */
static void hf_done(gen_t *g, beam_img_t *b, int cur, int plen, int all_hit) {
    const gen_cfg_t *c = &g->c;
    int K = c->beams, L = c->max_length;
    int full = 1;
    float worst = FLT_MAX;
    for (int k = 0; k < K; k++) {
        full &= b->fin_ok[k];
        worst = b->fin_score[k] < worst ? b->fin_score[k] : worst;
    }
    if (all_hit || (full && c->early_stopping == GEN_EARLY_TRUE)) b->done = 1;
    if (full) {
        int hyp = c->early_stopping == GEN_EARLY_NEVER && c->length_penalty > 0 ? L - plen : cur + 1 - plen;
        float best = b->run_score[0] / powf((float)hyp, c->length_penalty);
        if (!(best > worst)) b->done = 1;
    }
}

/* transformers 4.15 (BeamHypotheses.add), as salesforce/BLIP runs: a
 * hypothesis is kept when fewer than K are or it beats the worst; then the
 * worst (earliest among equals) leaves. `with_eos` stores the eos that 4.15
 * appends when finalizing. */
static void legacy_add(beam_img_t *b, int K, int L, const int32_t *seq, int n, int with_eos, int32_t eos,
                       double score) {
    int count = 0, slot = -1;
    for (int k = 0; k < K; k++) count += b->fin_ok[k];
    if (!(count < K || score > b->worst)) return;
    if (count < K) {
        for (int k = 0; k < K && slot < 0; k++)
            if (!b->fin_ok[k]) slot = k;
        b->worst = score < b->worst ? score : b->worst;
    } else {
        for (int k = 0; k < K; k++)
            if (slot < 0 || b->fin_score[k] < b->fin_score[slot] ||
                (b->fin_score[k] == b->fin_score[slot] && b->fin_order[k] < b->fin_order[slot]))
                slot = k;
    }
    int32_t *dst = b->fin + (size_t)slot * L;
    memcpy(dst, seq, (size_t)n * sizeof(int32_t));
    if (with_eos) dst[n] = eos;
    b->fin_len[slot] = n + with_eos;
    b->fin_score[slot] = (float)score;
    b->fin_ok[slot] = 1;
    b->fin_order[slot] = b->nadd++;
    if (count == K) {
        b->worst = INFINITY;
        for (int k = 0; k < K; k++) b->worst = b->fin_score[k] < b->worst ? b->fin_score[k] : b->worst;
    }
}

/* transformers 4.15 (BeamSearchScorer.process): eos among the best K
 * candidates becomes a hypothesis of the tokens before it, scored by the
 * whole length, prompt included. */
static void legacy_finished(gen_t *g, beam_img_t *b, int cur) {
    const gen_cfg_t *c = &g->c;
    int K = c->beams, V = g->V, L = c->max_length;
    for (int j = 0; j < K; j++) {
        const cand_t *cj = &g->cand[j];
        if (cj->idx % V != c->eos) continue;
        legacy_add(b, K, L, b->run + (size_t)(cj->idx / V) * L, cur, 1, c->eos,
                   (double)cj->v / pow(cur, c->length_penalty));
    }
}

/* transformers 4.15 (is_done, finalize): done when K hypotheses exist and
 * the best candidate score over the current length cannot beat the worst
 * (or at once with early stopping); at max_length the running beams join
 * the hypotheses. */
static void legacy_done(gen_t *g, beam_img_t *b, int cur, float best) {
    const gen_cfg_t *c = &g->c;
    int K = c->beams, L = c->max_length, count = 0;
    for (int k = 0; k < K; k++) count += b->fin_ok[k];
    if (count >= K && (c->early_stopping == GEN_EARLY_TRUE ||
                       b->worst >= (double)best / pow(cur, c->length_penalty))) {
        b->done = 1;
        return;
    }
    if (cur + 1 < L) return;
    for (int k = 0; k < K; k++)
        legacy_add(b, K, L, b->run + (size_t)k * L, L, 0, c->eos,
                   (double)b->run_score[k] / pow(L, c->length_penalty));
    b->done = 1;
}

/* One image's step: its K rows of logits -> new running beams (src rows
 * relative to the image, tokens), finished hypotheses, done flag. */
static void beam_step(gen_t *g, beam_img_t *b, const float *logits, int cur, int plen,
                      int32_t *src, int32_t *tok) {
    const gen_cfg_t *c = &g->c;
    int K = c->beams, V = g->V, L = c->max_length, nc = 0;
    cand_t *cand = g->cand;
    for (int k = 0; k < K; k++) { /* accumulated scores, top 2K over K x V */
        float *lp = g->lp + (size_t)k * V;
        memcpy(lp, logits + (size_t)k * V, (size_t)V * sizeof(float));
        log_softmax(lp, V);
        process(g, lp, b->run + (size_t)k * L, cur);
        for (int v = 0; v < V; v++) topk_push(cand, &nc, 2 * K, lp[v] + b->run_score[k], k * V + v);
    }
    int all_hit = cur + 1 >= L && !c->legacy;
    if (c->legacy) legacy_finished(g, b, cur);
    else hf_finished(g, b, cur, plen, all_hit);
    /* running beams: the best K candidates not ending in eos (all end at
     * max_length, then order is kept and the image is done anyway) */
    int nr = 0;
    for (int pass = 0; pass < 2 && nr < K; pass++)
        for (int j = 0; j < 2 * K && nr < K; j++) {
            int hit = all_hit || cand[j].idx % V == c->eos;
            if (hit != pass) continue;
            src[nr] = cand[j].idx / V;
            tok[nr] = cand[j].idx % V;
            g->cand[2 * K + nr] = (cand_t){hit ? cand[j].v + NEG_BIG : cand[j].v, 0};
            nr++;
        }
    int32_t *seqs = g->tmp;
    for (int k = 0; k < K; k++) {
        memcpy(seqs + (size_t)k * L, b->run + (size_t)src[k] * L, (size_t)cur * sizeof(int32_t));
        seqs[(size_t)k * L + cur] = tok[k];
        b->run_score[k] = g->cand[2 * K + k].v;
    }
    memcpy(b->run, seqs, (size_t)K * L * sizeof(int32_t));
    if (c->legacy) legacy_done(g, b, cur, cand[0].v);
    else hf_done(g, b, cur, plen, all_hit);
}

static void run_beam(gen_t *g, int n, const int32_t *prompt, int plen, gen_out_t *out) {
    int K = g->c.beams, V = g->V, L = g->c.max_length, slots = n;
    for (int i = 0; i < n; i++) {
        beam_img_t *b = &g->img[i];
        for (int k = 0; k < K; k++) {
            memcpy(b->run + (size_t)k * L, prompt, (size_t)plen * sizeof(int32_t));
            b->run_score[k] = k ? NEG_BIG : 0.0f;
            b->fin_ok[k] = 0;
            b->fin_len[k] = plen;
            b->fin_score[k] = NEG_BIG;
            memcpy(b->fin + (size_t)k * L, prompt, (size_t)plen * sizeof(int32_t));
        }
        b->done = 0;
        b->nadd = 0;
        b->worst = 1e9;
    }
    if (plen >= L) slots = 0;
    else step_prompt(g, n, K, prompt, plen);
    for (int cur = plen; slots; cur++) {
        for (int j = 0; j < slots; j++) {
            int i = g->live[j];
            beam_step(g, &g->img[i], g->logits + (size_t)j * K * V, cur, plen, g->src + (size_t)j * K,
                      g->ids + (size_t)j * K);
            g->finished[i] = g->img[i].done;
        }
        slots = drop_finished(g, slots, K, g->src);
        if (!slots) break;
        for (int r = 0; r < slots * K; r++) g->src[r] += r / K * K; /* slot-relative -> row */
        blip_kv_reorder(g->kv, g->src);
        blip_kv_step(g->kv, g->ids, 1, g->logits);
    }
    for (int i = 0; i < n; i++) {
        beam_img_t *b = &g->img[i];
        int best = 0; /* slot 0 (sorted) for HF 5; 4.15 takes the last of the best */
        for (int k = 1; g->c.legacy && k < K; k++)
            if (b->fin_ok[k] && (b->fin_score[k] > b->fin_score[best] ||
                                 (b->fin_score[k] == b->fin_score[best] && b->fin_order[k] > b->fin_order[best])))
                best = k;
        set_out(&out[i], b->fin + (size_t)best * L, b->fin_len[best], b->fin_score[best]);
    }
}

void gen_run(gen_t *g, const float *pixels, int n, const int32_t *prompt, int plen, uint64_t first_image,
             gen_out_t *out) {
    if (n < 1 || n > g->max_images) die("generate: %d images, at most %d per batch", n, g->max_images);
    if (plen < 1 || plen > g->c.max_length) die("generate: prompt of %d tokens, max_length %d", plen, g->c.max_length);
    g->fed0 = blip_kv_fed(g->kv);
    blip_encode_image(g->m, pixels, n);
    if (g->c.beams == 1) run_greedy(g, n, prompt, plen, first_image, out);
    else run_beam(g, n, prompt, plen, out);
}

long gen_fed(const gen_t *g) { return blip_kv_fed(g->kv) - g->fed0; }
