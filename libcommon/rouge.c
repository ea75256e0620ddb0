/* rouge.c - ROUGE-L as pycocoevalcap's rouge.py: words from str.split(" ")
 * (the corpus's spaced words), the longest common subsequence with each
 * reference, the best precision and the best recall taken separately, F with
 * beta = 1.2 (the corpus score is their numpy mean, metrics.c). */
#include <stdlib.h>

#include "err.h"
#include "metrics_internal.h"

static size_t lcs(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *row) {
    for (size_t j = 0; j <= nb; j++) row[j] = 0;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = 0;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            row[j] = a[i - 1] == b[j - 1] ? diag + 1 : (up > row[j - 1] ? up : row[j - 1]);
            diag = up;
        }
    }
    return row[nb];
}

void rouge_score(const corpus_t *c, double *score) {
    const double beta2 = 1.2 * 1.2; /* Python's 1.2**2 is the same double */
    size_t rowcap = 0, *row = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const sent_t *h = &c->cand[i];
        double pmax = 0, rmax = 0;
        if (h->nspaced + 1 > rowcap) row = xrealloc(row, (rowcap = 2 * (h->nspaced + 1)) * sizeof *row);
        for (size_t r = 0; r < c->items[i].nrefs; r++) {
            const sent_t *s = &c->refs[i][r];
            double l = (double)lcs(s->spaced, s->nspaced, h->spaced, h->nspaced, row);
            double p = l / (double)h->nspaced, q = l / (double)s->nspaced;
            if (p > pmax) pmax = p;
            if (q > rmax) rmax = q;
        }
        score[i] = pmax != 0 && rmax != 0 ? ((1 + beta2) * pmax * rmax) / (rmax + beta2 * pmax) : 0.0;
    }
    free(row);
}
