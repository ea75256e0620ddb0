/* cider.c - CIDEr-D as pycocoevalcap's cider_scorer.py: document frequency of
 * each n-gram over the evaluated images' references, idf against
 * log(number of images), tf-idf vectors per order n = 1..4, clipped cosine
 * similarity with a Gaussian length penalty (sigma 6, lengths counted in
 * bigrams), mean over orders and references, times 10; numpy mean over
 * images. Sums run in pycocoevalcap's order; x**2 and e**x go through libm's
 * pow() as Python and numpy do, so every image's score is bit-identical. */
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

void cider_score(const corpus_t *c, double *corpus, double *per_image) {
    size_t ng = c->nngrams ? c->nngrams : 1;
    uint32_t *df = xcalloc(ng, sizeof *df), *stamp = xcalloc(ng, sizeof *stamp);
    size_t maxg = 1;
    for (size_t i = 0; i < c->n; i++) {
        if (c->cand[i].off[NGRAM_MAX] > maxg) maxg = c->cand[i].off[NGRAM_MAX];
        for (size_t r = 0; r < c->items[i].nrefs; r++) {
            const sent_t *s = &c->refs[i][r];
            if (s->off[NGRAM_MAX] > maxg) maxg = s->off[NGRAM_MAX];
            for (uint32_t j = 0; j < s->off[NGRAM_MAX]; j++)
                if (stamp[s->g[j].id] != i + 1) stamp[s->g[j].id] = (uint32_t)i + 1, df[s->g[j].id]++;
        }
    }
    /* log(max(1, df)) per n-gram: df counts images, so tabulate log(0..n). */
    double *logn = xmalloc((c->n + 1) * sizeof *logn);
    for (size_t k = 0; k <= c->n; k++) logn[k] = k <= 1 ? 0.0 : log((double)k);
    double *idf_log = xmalloc(ng * sizeof *idf_log), *sq1 = xmalloc(ng * sizeof *sq1);
    for (size_t g = 0; g < ng; g++) idf_log[g] = logn[df[g]], sq1[g] = -1.0;
    double ref_len = log((double)c->n);

    double *rvec = xcalloc(ng, sizeof *rvec), *score = xmalloc((c->n ? c->n : 1) * sizeof *score);
    tfidf_t h = {.vec = xmalloc(maxg * sizeof(double))}, r = {.vec = xmalloc(maxg * sizeof(double))};
    for (size_t g = 0; g < ng; g++) stamp[g] = 0;
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
        if (per_image) per_image[i] = avg;
    }
    *corpus = np_mean(score, c->n);
    free(df);
    free(stamp);
    free(logn);
    free(idf_log);
    free(sq1);
    free(rvec);
    free(score);
    free(h.vec);
    free(r.vec);
}
