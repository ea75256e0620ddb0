/* rouge.c - ROUGE-L as pycocoevalcap's rouge.py: words from str.split(" "),
 * the longest common subsequence with each reference, the best precision and
 * the best recall taken separately, F with beta = 1.2 (the corpus score is
 * their numpy mean, metrics.c). */
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

void rouge_score(const score_item_t *items, size_t n, double *score) {
    const double beta2 = 1.2 * 1.2; /* Python's 1.2**2 is the same double */
    wordtab_t *wt = wordtab_new();
    uint32_t *cw = NULL, *rw = NULL;
    size_t ccap = 0, rcap = 0, rowcap = 0, *row = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t nc = split_space(wt, items[i].cand, &cw, &ccap);
        double pmax = 0, rmax = 0;
        for (size_t r = 0; r < items[i].nrefs; r++) {
            size_t nr = split_space(wt, items[i].refs[r], &rw, &rcap);
            if (nc + 1 > rowcap) row = xrealloc(row, (rowcap = 2 * (nc + 1)) * sizeof *row);
            double l = (double)lcs(rw, nr, cw, nc, row);
            double p = l / (double)nc, q = l / (double)nr;
            if (p > pmax) pmax = p;
            if (q > rmax) rmax = q;
        }
        score[i] = pmax != 0 && rmax != 0 ? ((1 + beta2) * pmax * rmax) / (rmax + beta2 * pmax) : 0.0;
    }
    free(cw);
    free(rw);
    free(row);
    wordtab_free(wt);
}
