/* bleu.c - BLEU-1..4 as pycocoevalcap's bleu_scorer.py ("closest" effective
 * reference length, ties to the shorter; 1e-15 and 1e-9 guards; per-image
 * and corpus scores with its operation order). */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "metrics_internal.h"

static const double TINY = 1e-15, SMALL = 1e-9;

/* bleu_scorer's score from clipped matches, guesses and lengths. */
static void bleu_from_counts(const long long correct[4], const long long guess[4], long long testlen,
                             long long reflen, double out[4]) {
    double b = 1.0;
    for (int k = 0; k < 4; k++) {
        b *= ((double)correct[k] + TINY) / ((double)guess[k] + SMALL);
        out[k] = pow(b, 1.0 / (k + 1));
    }
    double ratio = ((double)testlen + TINY) / ((double)reflen + SMALL);
    if (ratio < 1)
        for (int k = 0; k < 4; k++) out[k] *= exp(1 - 1 / ratio);
}

void bleu_corpus(const bleu_totals_t *t, double out[4]) {
    bleu_from_counts(t->correct, t->guess, t->testlen, t->reflen, out);
}

void bleu_score(const corpus_t *c, double (*per_image)[4], bleu_totals_t *totals) {
    uint32_t *maxc = xcalloc(c->nngrams ? c->nngrams : 1, sizeof *maxc);
    uint32_t *stamp = xcalloc(c->nngrams ? c->nngrams : 1, sizeof *stamp);
    bleu_totals_t *t = totals;
    for (size_t i = 0; i < c->n; i++) {
        const sent_t *h = &c->cand[i];
        long long testlen = h->nwords, reflen = -1, correct[4] = {0}, guess[4];
        for (size_t r = 0; r < c->items[i].nrefs; r++) {
            const sent_t *s = &c->refs[i][r];
            long long l = s->nwords, d = llabs(l - testlen), best = llabs(reflen - testlen);
            if (reflen < 0 || d < best || (d == best && l < reflen)) reflen = l;
            for (uint32_t j = 0; j < s->off[NGRAM_MAX]; j++) {
                uint32_t id = s->g[j].id;
                if (stamp[id] != i + 1) stamp[id] = (uint32_t)i + 1, maxc[id] = 0;
                if (s->g[j].count > maxc[id]) maxc[id] = s->g[j].count;
            }
        }
        for (int k = 0; k < 4; k++) {
            guess[k] = testlen - k > 0 ? testlen - k : 0;
            for (uint32_t j = h->off[k]; j < h->off[k + 1]; j++) {
                uint32_t id = h->g[j].id, m = stamp[id] == i + 1 ? maxc[id] : 0;
                correct[k] += h->g[j].count < m ? h->g[j].count : m;
            }
            t->guess[k] += guess[k];
            t->correct[k] += correct[k];
        }
        t->testlen += testlen;
        t->reflen += reflen;
        if (per_image) bleu_from_counts(correct, guess, testlen, reflen, per_image[i]);
    }
    free(maxc);
    free(stamp);
}
