/* metrics_internal.h - what the metric files (bleu.c, rouge.c, cider.c) share:
 * captions as interned words and n-grams. Not for callers outside them. */
#ifndef BLIP_METRICS_INTERNAL_H
#define BLIP_METRICS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "metrics.h"

#define NGRAM_MAX 4

/* One n-gram of a sentence and how often it occurs there. */
typedef struct {
    uint32_t id, count;
} ngc_t;

/* A caption split like Python's str.split(): its length in words and its
 * 1..4-grams with counts, grouped by order, each group in first-occurrence
 * order (the insertion order of pycocoevalcap's precook dicts). */
typedef struct {
    uint32_t nwords;
    uint32_t off[NGRAM_MAX + 1]; /* order k+1 n-grams: g[off[k] .. off[k+1]) */
    ngc_t *g;
    size_t start;                /* g's offset in the corpus arena */
} sent_t;
typedef DA(ngc_t) ngcs_t;

/* The evaluated images: candidate and references, n-gram ids < nngrams. */
typedef struct {
    size_t n;
    sent_t *cand;
    sent_t **refs;
    const score_item_t *items;
    uint32_t nngrams;
    ngcs_t arena;    /* every sentence's n-gram counts */
} corpus_t;

void corpus_build(corpus_t *c, const score_item_t *items, size_t n);
void corpus_free(corpus_t *c);

/* Words of a caption split on ' ' only (Python's str.split(" "), empty words
 * kept), as ids equal for equal strings; returns the count. */
typedef struct wordtab wordtab_t;
wordtab_t *wordtab_new(void);
void wordtab_free(wordtab_t *t);
size_t split_space(wordtab_t *t, const char *s, uint32_t **ids, size_t *cap);

void bleu_score(const corpus_t *c, double corpus[4], double (*per_image)[4], bleu_totals_t *totals);
void rouge_score(const corpus_t *c, double *corpus, double *per_image);
void cider_score(const corpus_t *c, double *corpus, double *per_image);

#endif
