/* metrics.c - scores a corpus with BLEU, ROUGE-L and CIDEr-D (metrics.h), and
 * numpy's pairwise mean that pycocoevalcap's corpus averages go through. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics_internal.h"
#include "pool.h"
#include "progress.h"
#include "ptbtok.h"

/* numpy's pairwise_sum for doubles (unit stride). */
static double pairwise_sum(const double *a, size_t n) {
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

double np_mean(const double *v, size_t n) { return pairwise_sum(v, n) / (double)n; }

/* The work of score_corpus_parts: slice t is images [lo[t], lo[t + 1]). */
typedef struct {
    const score_item_t *items;
    unsigned metrics;
    size_t n, parts, *lo;
    corpus_t *c;            /* per slice */
    bleu_totals_t *btot;    /* per slice */
    uint32_t **df;          /* per slice: CIDEr document frequencies by its ids */
    double **idf;           /* per slice: CIDEr log(df) by its ids */
    double (*bleu)[4];      /* per image, NULL when not wanted */
    double *rouge, *cider;  /* per image */
} job_t;

/* Slice t: n-grams, BLEU, ROUGE-L and CIDEr's document frequencies. */
static void score_slice(void *ctx, size_t t, int worker) {
    job_t *j = ctx;
    size_t lo = j->lo[t], n = j->lo[t + 1] - lo;
    corpus_t *c = &j->c[t];
    corpus_build(c, j->items + lo, n, (j->metrics & (METRIC_BLEU | METRIC_CIDER)) != 0);
    if (j->metrics & METRIC_BLEU) bleu_score(c, j->bleu ? j->bleu + lo : NULL, &j->btot[t]);
    if (j->metrics & METRIC_CIDER) cider_df(c, j->df[t] = xcalloc(c->nngrams ? c->nngrams : 1, sizeof(uint32_t)));
    if (j->metrics & METRIC_ROUGE) rouge_score(c, j->rouge + lo);
}

static void cider_slice(void *ctx, size_t t, int worker) {
    job_t *j = ctx;
    cider_score(&j->c[t], j->idf[t], j->n, j->cider + j->lo[t]);
}

/* CIDEr's idf over all slices: slice 0's tables take every slice's n-grams,
 * document frequencies are summed by those ids, and each slice gets log(df)
 * by its own ids. */
static void cider_merge(job_t *j) {
    corpus_t *c0 = &j->c[0];
    uint32_t n0 = c0->nngrams, **map = xcalloc(j->parts, sizeof *map);
    for (size_t t = 1; t < j->parts; t++) {
        map[t] = xmalloc((j->c[t].nngrams ? j->c[t].nngrams : 1) * sizeof **map);
        corpus_map_ids(c0, &j->c[t], map[t]);
    }
    size_t ng = c0->nngrams ? c0->nngrams : 1;
    uint32_t *df = xcalloc(ng, sizeof *df);
    memcpy(df, j->df[0], n0 * sizeof *df);
    for (size_t t = 1; t < j->parts; t++)
        for (uint32_t g = 0; g < j->c[t].nngrams; g++) df[map[t][g]] += j->df[t][g];
    double *idf = j->idf[0] = xmalloc(ng * sizeof *idf);
    cider_idf(df, c0->nngrams, j->n, idf);
    for (size_t t = 1; t < j->parts; t++) {
        j->idf[t] = xmalloc((j->c[t].nngrams ? j->c[t].nngrams : 1) * sizeof *idf);
        for (uint32_t g = 0; g < j->c[t].nngrams; g++) j->idf[t][g] = idf[map[t][g]];
        free(map[t]);
    }
    free(map);
    free(df);
}

/* fn over every slice, on the pool's threads or (no pool) on this one. */
static void for_slices(pool_t *pool, size_t parts, pool_fn fn, job_t *j) {
    if (pool) {
        pool_for(pool, parts, fn, j);
        return;
    }
    for (size_t t = 0; t < parts; t++) fn(j, t, 0);
}

void score_corpus_parts(const score_item_t *items, size_t n, unsigned metrics, scores_t *corpus,
                        scores_t *per_image, bleu_totals_t *totals, size_t parts) {
    memset(corpus, 0, sizeof *corpus);
    if (per_image) memset(per_image, 0, n * sizeof *per_image);
    if (totals) memset(totals, 0, sizeof *totals);
    if (parts > n) parts = n ? n : 1;
    size_t m = n ? n : 1;
    job_t j = {.items = items, .metrics = metrics, .n = n, .parts = parts};
    j.lo = xmalloc((parts + 1) * sizeof *j.lo);
    for (size_t t = 0; t <= parts; t++) j.lo[t] = n * t / parts;
    j.c = xcalloc(parts, sizeof *j.c);
    j.btot = xcalloc(parts, sizeof *j.btot);
    j.df = xcalloc(parts, sizeof *j.df);
    j.idf = xcalloc(parts, sizeof *j.idf);
    j.bleu = per_image ? xmalloc(m * sizeof *j.bleu) : NULL;
    j.rouge = xmalloc(m * sizeof *j.rouge);
    j.cider = xmalloc(m * sizeof *j.cider);
    int threads = cpu_count() < (int)parts ? cpu_count() : (int)parts;
    pool_t *pool = threads > 1 ? pool_new(threads) : NULL;
    for_slices(pool, parts, score_slice, &j);
    if (metrics & METRIC_BLEU) {
        bleu_totals_t t = {0};
        for (size_t p = 0; p < parts; p++) {
            t.reflen += j.btot[p].reflen;
            t.testlen += j.btot[p].testlen;
            for (int k = 0; k < 4; k++) t.guess[k] += j.btot[p].guess[k], t.correct[k] += j.btot[p].correct[k];
        }
        bleu_corpus(&t, corpus->bleu);
        if (totals) *totals = t;
        for (size_t i = 0; per_image && i < n; i++) memcpy(per_image[i].bleu, j.bleu[i], sizeof j.bleu[i]);
    }
    if (metrics & METRIC_CIDER) {
        cider_merge(&j);
        for_slices(pool, parts, cider_slice, &j);
        corpus->cider = np_mean(j.cider, n);
        for (size_t i = 0; per_image && i < n; i++) per_image[i].cider = j.cider[i];
    }
    if (metrics & METRIC_ROUGE) {
        corpus->rouge_l = np_mean(j.rouge, n);
        for (size_t i = 0; per_image && i < n; i++) per_image[i].rouge_l = j.rouge[i];
    }
    pool_free(pool);
    for (size_t t = 0; t < parts; t++) {
        corpus_free(&j.c[t]);
        free(j.df[t]);
        free(j.idf[t]);
    }
    free(j.lo);
    free(j.c);
    free(j.btot);
    free(j.df);
    free(j.idf);
    free(j.bleu);
    free(j.rouge);
    free(j.cider);
}

/* Slices of at least this many images are worth a thread. */
enum { SLICE_MIN = 256 };

void score_corpus(const score_item_t *items, size_t n, unsigned metrics, scores_t *corpus,
                  scores_t *per_image, bleu_totals_t *totals) {
    size_t parts = (size_t)cpu_count();
    if (parts > n / SLICE_MIN) parts = n / SLICE_MIN ? n / SLICE_MIN : 1;
    score_corpus_parts(items, n, metrics, corpus, per_image, totals, parts);
}

/* score_captions with the references of all images in one array: image i's
 * nrefs[i] follow image i - 1's (nall in all). */
static void score_flat(const int64_t *ids, const char *const *cands, const char *const *flat,
                       const size_t *nrefs, size_t n, size_t nall, unsigned metrics, scores_t *corpus,
                       scores_t *per_image, bleu_totals_t *totals) {
    double t0 = now_seconds();
    char **tref = ptb_tokenize_captions(flat, nall);
    char **tcand = ptb_tokenize_captions(cands, n);
    double t1 = now_seconds();
    score_item_t *items = xmalloc((n ? n : 1) * sizeof *items);
    for (size_t i = 0, k = 0; i < n; i++, k += nrefs[i - 1]) {
        if (!nrefs[i]) die("image %lld: no reference captions", (long long)ids[i]);
        if (!tcand[i] || !tref[k + nrefs[i] - 1])
            die("image %lld: a line break in an earlier caption left this one without tokenizer output "
                "(pycocoevalcap fails here too)", (long long)ids[i]);
        items[i] = (score_item_t){tcand[i], (const char *const *)tref + k, nrefs[i]};
    }
    score_corpus(items, n, metrics, corpus, per_image, totals);
    note(2, "tokenized %zu references and %zu candidates in %.3f s, scored in %.3f s", nall, n, t1 - t0,
         now_seconds() - t1);
    free(items);
    ptb_free_captions(tref, nall);
    ptb_free_captions(tcand, n);
}

void score_captions(const int64_t *ids, const char *const *cands, const char *const *const *refs,
                    const size_t *nrefs, size_t n, unsigned metrics, scores_t *corpus,
                    scores_t *per_image, bleu_totals_t *totals) {
    size_t nall = 0;
    for (size_t i = 0; i < n; i++) nall += nrefs[i];
    const char **flat = xmalloc((nall ? nall : 1) * sizeof *flat);
    for (size_t i = 0, k = 0; i < n; i++)
        for (size_t r = 0; r < nrefs[i]; r++) flat[k++] = refs[i][r];
    score_flat(ids, cands, flat, nrefs, n, nall, metrics, corpus, per_image, totals);
    free(flat);
}

size_t score_coco(const coco_set_t *set, const char *const *cands, unsigned metrics, scores_t *corpus,
                  int64_t **ids_out, scores_t **per_image, bleu_totals_t *totals) {
    size_t nimg = set->images.n, n = 0, m = nimg ? nimg : 1;
    int64_t *ids = xmalloc(m * sizeof *ids);
    const char **cand = xmalloc(m * sizeof *cand);
    size_t *nrefs = xmalloc(m * sizeof *nrefs);
    DA(const char *) flat = {0};
    for (size_t k = 0; k < nimg; k++) {
        if (!cands[k]) continue;
        const coco_image_t *im = &set->images.v[k];
        for (size_t j = 0; j < im->caps.n; j++) da_push(&flat, im->caps.v[j].text);
        ids[n] = im->id;
        cand[n] = cands[k];
        nrefs[n++] = im->caps.n;
    }
    scores_t *per = per_image ? xmalloc((n ? n : 1) * sizeof *per) : NULL;
    score_flat(ids, cand, flat.v, nrefs, n, flat.n, metrics, corpus, per, totals);
    free(flat.v);
    free(cand);
    free(nrefs);
    if (per_image) *per_image = per;
    if (ids_out) *ids_out = ids;
    else free(ids);
    return n;
}
