/* train_eval.h - blip-train's epoch-end validation: caption every image of
 * the validation shards with the model being trained (BLIP's test
 * transform), write the captions in COCO results format
 * ([{"image_id": ..., "caption": ...}, ...]) and score them against the
 * shards' reference captions with the pycocoevalcap-identical metrics.
 *
 * Decoding is generate.h's (HuggingFace generate() as BLIP calls it: beam
 * search with num_beams, lengths counting the 4 prompt tokens, [SEP] blocked
 * before min_length), from [DEC] a picture of. */
#ifndef BLIP_TRAIN_EVAL_H
#define BLIP_TRAIN_EVAL_H

#include "comm.h"
#include "metrics.h"
#include "model.h"
#include "tokenizer.h"

typedef struct {
    int num_beams, max_length, min_length;
    int batch_size, image_size, threads;
} val_opts_t;

typedef struct val_set val_set_t;

/* Open validation shards (any shard_open() path) and read their references. */
val_set_t *val_open(const char *path, const val_opts_t *o);
size_t val_images(const val_set_t *vs);
void val_free(val_set_t *vs);
/* Caption every image with m (its training flag is restored afterwards),
 * write results_path and fill *scores (all metrics). Collective over comm:
 * rank r of W captions the batches r, r + W, ... (the batches of one rank
 * with the same batch size), the captions are gathered, and rank 0 writes
 * and scores them (the other ranks get zero scores). */
void val_run(val_set_t *vs, blip_model_t *m, const tokenizer_t *tok, comm_t *comm,
             const char *results_path, scores_t *scores);

#endif
