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
 * order (the insertion order of pycocoevalcap's precook dicts); and split
 * like str.split(" ") (ROUGE-L): its word ids, empty words included. */
typedef struct {
    uint32_t nwords;
    uint32_t off[NGRAM_MAX + 1]; /* order k+1 n-grams: g[off[k] .. off[k+1]) */
    ngc_t *g;
    size_t start;                /* g's offset in the corpus arena */
    uint32_t nspaced;            /* words split on ' ': spaced[0 .. nspaced) */
    const uint32_t *spaced;
    size_t spaced_start;         /* spaced's offset in the corpus's spaced words */
} sent_t;
typedef DA(ngc_t) ngcs_t;

/* Evaluated images (all, or a slice scored apart): candidate and
 * references, word ids (equal for equal strings) and n-gram ids < nngrams
 * from the corpus's own tables. */
typedef struct wordtab wordtab_t;
typedef struct grams grams_t;
typedef struct {
    size_t n;
    sent_t *cand;
    sent_t **refs;
    const score_item_t *items;
    uint32_t nngrams;
    ngcs_t arena;       /* every sentence's n-gram counts */
    DA(uint32_t) spaced; /* every sentence's words split on ' ' */
    wordtab_t *words;   /* the word and n-gram ids */
    grams_t *grams;
} corpus_t;

/* ngrams: 0 when only the words split on ' ' are wanted (ROUGE-L alone). */
void corpus_build(corpus_t *c, const score_item_t *items, size_t n, int ngrams);
/* Gives src's n-grams ids in dst's tables (adding those dst lacks; its
 * nngrams grows): map[id in src] = id in dst, src->nngrams entries. */
void corpus_map_ids(corpus_t *dst, const corpus_t *src, uint32_t *map);
void corpus_free(corpus_t *c);

/* Scoring of a slice of images; a corpus's images may be split into slices
 * scored apart and combined exactly (per-image scores are independent; the
 * corpus values come from integer sums and the per-image arrays). */

/* BLEU of c's images into per_image (NULL: not wanted); adds their counts
 * to *totals. bleu_corpus: corpus BLEU from the counts of all images. */
void bleu_score(const corpus_t *c, double (*per_image)[4], bleu_totals_t *totals);
void bleu_corpus(const bleu_totals_t *totals, double out[4]);

/* CIDEr-D in three steps: cider_df adds to df[id] (c->nngrams entries) the
 * number of c's images whose references have n-gram id; cider_idf turns
 * the document frequencies over all nimages images into log(max(1, df));
 * cider_score gives c's per-image scores from idf_log indexed by c's ids. */
void cider_df(const corpus_t *c, uint32_t *df);
void cider_idf(const uint32_t *df, size_t ngrams, size_t nimages, double *idf_log);
void cider_score(const corpus_t *c, const double *idf_log, size_t nimages, double *score);

/* ROUGE-L of c's images. */
void rouge_score(const corpus_t *c, double *score);

/* score_corpus with the images cut into `parts` slices scored in parallel;
 * the results do not depend on `parts`. */
void score_corpus_parts(const score_item_t *items, size_t n, unsigned metrics, scores_t *corpus,
                        scores_t *per_image, bleu_totals_t *totals, size_t parts);

#endif
