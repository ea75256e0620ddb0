/* metrics.h - COCO caption metrics exactly as pycocoevalcap computes them:
 * BLEU-1..4 (bleu_scorer.py, "closest" reference length), ROUGE-L (rouge.py,
 * beta 1.2) and CIDEr-D (cider_scorer.py, n = 4, sigma = 6), with the same
 * floating-point operations in the same order, so the numbers agree to the
 * last bit (numpy's pairwise-summed means included).
 *
 * Input is already tokenized text (ptbtok.h: ptb_tokenize_captions); images
 * are scored in the order given, which is pycocoevalcap's iteration order
 * (the reference file's image order) and matters for the corpus means. */
#ifndef BLIP_METRICS_H
#define BLIP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "coco.h"

enum { METRIC_BLEU = 1, METRIC_ROUGE = 2, METRIC_CIDER = 4, METRIC_ALL = 7 };

typedef struct {
    const char *cand;          /* tokenized candidate caption */
    const char *const *refs;   /* tokenized reference captions */
    size_t nrefs;              /* >= 1 */
} score_item_t;

typedef struct {
    double bleu[4];            /* Bleu_1 .. Bleu_4 */
    double rouge_l;            /* ROUGE_L */
    double cider;              /* CIDEr */
} scores_t;

/* The corpus BLEU statistics pycocoevalcap prints. */
typedef struct {
    long long reflen, testlen, guess[4], correct[4];
} bleu_totals_t;

/* Scores the metrics in `metrics` (METRIC_* flags) over n images; the others
 * are left 0. per_image (n entries) and totals may be NULL. */
void score_corpus(const score_item_t *items, size_t n, unsigned metrics, scores_t *corpus,
                  scores_t *per_image, bleu_totals_t *totals);

/* pycocoevalcap's COCOEvalCap.evaluate() for these metrics: n images in
 * evaluation order, each with one raw candidate and nrefs[i] raw references.
 * Tokenizes like pycocoevalcap (ptb_tokenize_captions over all references in
 * one call and all candidates in another), then scores. A caption that the
 * tokenizer leaves without an output line (after a line-break character in
 * an earlier one) dies naming its image id. */
void score_captions(const int64_t *ids, const char *const *cands, const char *const *const *refs,
                    const size_t *nrefs, size_t n, unsigned metrics, scores_t *corpus,
                    scores_t *per_image, bleu_totals_t *totals);

/* COCOEvalCap over a caption set (coco.h): cands[k] is the raw result
 * caption of set->images.v[k], or NULL when that image has none. Scores the
 * images with a result, in the set's order, as score_captions does; returns how
 * many. *ids and *per_image (when not NULL) get that many entries, to free. */
size_t score_coco(const coco_set_t *set, const char *const *cands, unsigned metrics, scores_t *corpus,
                  int64_t **ids, scores_t **per_image, bleu_totals_t *totals);

/* numpy.mean of n doubles: pairwise summation (8 accumulators up to 128
 * elements, halves above), then one division. */
double np_mean(const double *v, size_t n);

#endif
