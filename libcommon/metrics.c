/* metrics.c - scores a corpus with BLEU, ROUGE-L and CIDEr-D (metrics.h), and
 * numpy's pairwise mean that pycocoevalcap's corpus averages go through. */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics_internal.h"
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

void score_corpus(const score_item_t *items, size_t n, unsigned metrics, scores_t *corpus,
                  scores_t *per_image, bleu_totals_t *totals) {
    memset(corpus, 0, sizeof *corpus);
    if (per_image) memset(per_image, 0, n * sizeof *per_image);
    if (totals) memset(totals, 0, sizeof *totals);
    double *tmp = xmalloc((n ? n : 1) * 4 * sizeof *tmp);
    if (metrics & (METRIC_BLEU | METRIC_CIDER)) {
        corpus_t c;
        corpus_build(&c, items, n);
        if (metrics & METRIC_BLEU) {
            double (*b)[4] = (double (*)[4])tmp;
            bleu_score(&c, corpus->bleu, per_image ? b : NULL, totals);
            for (size_t i = 0; per_image && i < n; i++) memcpy(per_image[i].bleu, b[i], sizeof b[i]);
        }
        if (metrics & METRIC_CIDER) {
            cider_score(&c, &corpus->cider, tmp);
            for (size_t i = 0; per_image && i < n; i++) per_image[i].cider = tmp[i];
        }
        corpus_free(&c);
    }
    if (metrics & METRIC_ROUGE) {
        corpus_t c = {.n = n, .items = items};
        rouge_score(&c, &corpus->rouge_l, tmp);
        for (size_t i = 0; per_image && i < n; i++) per_image[i].rouge_l = tmp[i];
    }
    free(tmp);
}

void score_captions(const int64_t *ids, const char *const *cands, const char *const *const *refs,
                    const size_t *nrefs, size_t n, unsigned metrics, scores_t *corpus,
                    scores_t *per_image, bleu_totals_t *totals) {
    size_t nall = 0;
    for (size_t i = 0; i < n; i++) nall += nrefs[i];
    const char **flat = xmalloc((nall ? nall : 1) * sizeof *flat);
    for (size_t i = 0, k = 0; i < n; i++)
        for (size_t r = 0; r < nrefs[i]; r++) flat[k++] = refs[i][r];
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
    free(flat);
    ptb_free_captions(tref, nall);
    ptb_free_captions(tcand, n);
}

size_t score_coco(const coco_set_t *set, const char *const *cands, unsigned metrics, scores_t *corpus,
                  int64_t **ids_out, scores_t **per_image, bleu_totals_t *totals) {
    size_t nimg = set->images.n, n = 0, m = nimg ? nimg : 1;
    int64_t *ids = xmalloc(m * sizeof *ids);
    const char **cand = xmalloc(m * sizeof *cand);
    const char *const **refv = xmalloc(m * sizeof *refv);
    size_t *nrefs = xmalloc(m * sizeof *nrefs);
    for (size_t k = 0; k < nimg; k++) {
        if (!cands[k]) continue;
        const coco_image_t *im = &set->images.v[k];
        const char **rv = xmalloc((im->caps.n ? im->caps.n : 1) * sizeof *rv);
        for (size_t j = 0; j < im->caps.n; j++) rv[j] = im->caps.v[j].text;
        ids[n] = im->id;
        cand[n] = cands[k];
        refv[n] = rv;
        nrefs[n++] = im->caps.n;
    }
    scores_t *per = per_image ? xmalloc((n ? n : 1) * sizeof *per) : NULL;
    score_captions(ids, cand, refv, nrefs, n, metrics, corpus, per, totals);
    for (size_t i = 0; i < n; i++) free((void *)refv[i]);
    free(cand);
    free(refv);
    free(nrefs);
    if (per_image) *per_image = per;
    if (ids_out) *ids_out = ids;
    else free(ids);
    return n;
}
