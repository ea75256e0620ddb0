/* cider.c - CIDEr-D as pycocoevalcap's cider_scorer.py: document frequency of
 * each n-gram over the evaluated images' references, idf against
 * log(number of images), tf-idf vectors per order n = 1..4, clipped cosine
 * similarity with a Gaussian length penalty (sigma 6, lengths counted in
 * bigrams), mean over orders and references, times 10 (the corpus score
 * is the numpy mean over images, metrics.c). Sums run in pycocoevalcap's
 * order; x**2 and e**x go through libm's pow() as Python and numpy do, so
 * every image's score is bit-identical. */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "metrics_internal.h"

/* Through a volatile so the compiler keeps pow(v, 2) (numpy calls pow, which
 * is not always v * v to the last bit). */
static volatile double two = 2.0;

typedef struct {
    double norm[NGRAM_MAX];
    double *vec; /* per n-gram of the sentence, in its order */
    long length; /* number of bigrams */
} tfidf_t;

/* sq1[id]: pow(x, 2) of the n-gram's value at count 1, computed on first use
 * (negative until then); most n-grams occur once in a caption. */
static void counts2vec(const sent_t *s, const double *idf_log, double ref_len, double *sq1, tfidf_t *v) {
    v->length = 0;
    for (int k = 0; k < NGRAM_MAX; k++) {
        double norm = 0.0;
        for (uint32_t j = s->off[k]; j < s->off[k + 1]; j++) {
            uint32_t id = s->g[j].id;
            double x = (double)s->g[j].count * (ref_len - idf_log[id]);
            v->vec[j] = x;
            if (s->g[j].count != 1) {
                norm += pow(x, two);
            } else {
                if (sq1[id] < 0) sq1[id] = pow(x, two);
                norm += sq1[id];
            }
            if (k == 1) v->length += s->g[j].count;
        }
        v->norm[k] = sqrt(norm);
    }
}

void cider_df(const corpus_t *c, uint32_t *df) {
    uint32_t *stamp = xcalloc(c->nngrams ? c->nngrams : 1, sizeof *stamp);
    for (size_t i = 0; i < c->n; i++)
        for (size_t r = 0; r < c->items[i].nrefs; r++) {
            const sent_t *s = &c->refs[i][r];
            for (uint32_t j = 0; j < s->off[NGRAM_MAX]; j++)
                if (stamp[s->g[j].id] != i + 1) stamp[s->g[j].id] = (uint32_t)i + 1, df[s->g[j].id]++;
        }
    free(stamp);
}

void cider_idf(const uint32_t *df, size_t ngrams, size_t nimages, double *idf_log) {
    /* df counts images: tabulate log(0..nimages) */
    double *logn = xmalloc((nimages + 1) * sizeof *logn);
    for (size_t k = 0; k <= nimages; k++) logn[k] = k <= 1 ? 0.0 : log((double)k);
    for (size_t g = 0; g < ngrams; g++) idf_log[g] = logn[df[g]];
    free(logn);
}

void cider_score(const corpus_t *c, const double *idf_log, size_t nimages, double *score) {
    size_t ng = c->nngrams ? c->nngrams : 1, maxg = 1;
    for (size_t i = 0; i < c->n; i++) {
        if (c->cand[i].off[NGRAM_MAX] > maxg) maxg = c->cand[i].off[NGRAM_MAX];
        for (size_t r = 0; r < c->items[i].nrefs; r++)
            if (c->refs[i][r].off[NGRAM_MAX] > maxg) maxg = c->refs[i][r].off[NGRAM_MAX];
    }
    double ref_len = log((double)nimages), *sq1 = xmalloc(ng * sizeof *sq1);
    for (size_t g = 0; g < ng; g++) sq1[g] = -1.0;
    uint32_t *stamp = xcalloc(ng, sizeof *stamp);
    double *rvec = xcalloc(ng, sizeof *rvec);
    tfidf_t h = {.vec = xmalloc(maxg * sizeof(double))}, r = {.vec = xmalloc(maxg * sizeof(double))};
    uint32_t serial = 0;
    for (size_t i = 0; i < c->n; i++) {
        const sent_t *hs = &c->cand[i];
        counts2vec(hs, idf_log, ref_len, sq1, &h);
        double sum[NGRAM_MAX] = {0.0};
        for (size_t q = 0; q < c->items[i].nrefs; q++) {
            const sent_t *rs = &c->refs[i][q];
            counts2vec(rs, idf_log, ref_len, sq1, &r);
            serial++;
            for (uint32_t j = 0; j < rs->off[NGRAM_MAX]; j++) stamp[rs->g[j].id] = serial, rvec[rs->g[j].id] = r.vec[j];
            double delta = (double)(h.length - r.length);
            double penalty = pow(M_E, -(delta * delta) / (2 * 6.0 * 6.0));
            for (int k = 0; k < NGRAM_MAX; k++) {
                double val = 0.0;
                for (uint32_t j = hs->off[k]; j < hs->off[k + 1]; j++) {
                    uint32_t id = hs->g[j].id;
                    if (stamp[id] != serial) continue; /* adds min(v, 0) * 0 = 0 */
                    double vr = rvec[id], vh = h.vec[j];
                    val += (vr < vh ? vr : vh) * vr;
                }
                if (h.norm[k] != 0 && r.norm[k] != 0) val /= h.norm[k] * r.norm[k];
                val *= penalty;
                sum[k] += val;
            }
        }
        double avg = np_mean(sum, NGRAM_MAX);
        avg /= (double)c->items[i].nrefs;
        avg *= 10.0;
        score[i] = avg;
    }
    free(sq1);
    free(stamp);
    free(rvec);
    free(h.vec);
    free(r.vec);
}
