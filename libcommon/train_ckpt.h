/* train_ckpt.h - blip-train's run-directory checkpoints, each a HuggingFace
 * model directory plus what an exact resume needs:
 *
 *   RUN/checkpoint-STEP/config.json, model.safetensors, vocab.txt   (blip_model_save)
 *                       optimizer.bin        AdamW moments m and v, fp32
 *                       trainer_state.json   step, epoch, data position,
 *                                            dropout counter, best score,
 *                                            global batch
 *
 * optimizer.bin: 8 bytes "BLIPADAM", uint64 n (little-endian), then n floats
 * of m and n floats of v in the model's flat parameter order.
 *
 * A checkpoint is written into RUN/.tmp-NAME (every file fsynced), then
 * renamed into place and the run directory fsynced, so a directory named
 * checkpoint-STEP is always complete. */
#ifndef BLIP_TRAIN_CKPT_H
#define BLIP_TRAIN_CKPT_H

#include <stdint.h>

#include "model.h"

typedef struct {
    int64_t step;          /* optimizer steps taken */
    int64_t epoch;         /* epoch of the next batch */
    int64_t epoch_step;    /* next batch within that epoch */
    uint64_t dropout_step; /* the model's dropout counter */
    double best_score;     /* best CIDEr + Bleu_4 so far (-1: none) */
    int64_t best_epoch;    /* its epoch (-1: none) */
    int64_t global_batch;  /* samples per step: batch_size x ranks x accum_steps (0: not
                              recorded, a checkpoint from before data parallelism) */
} train_state_t;

/* Write RUN/checkpoint-STEP (replacing one of the same step) with the model,
 * the AdamW moments and st; vocab.txt is copied from vocab_path when the
 * model directory has none. */
void ckpt_save(const char *run, blip_model_t *m, const train_state_t *st, const char *vocab_path);
/* Replace RUN/NAME atomically with the model's weights only. */
void ckpt_save_model(const char *run, const char *name, blip_model_t *m, const char *vocab_path);
/* Path of the newest complete checkpoint in RUN (new string), or NULL. */
char *ckpt_latest(const char *run);
/* Remove all but the newest keep checkpoints. */
void ckpt_prune(const char *run, int keep);
/* Restore weights, moments and state from a checkpoint directory written by
 * ckpt_save for a model of the same shape; dies naming the file otherwise. */
void ckpt_load(const char *dir, blip_model_t *m, train_state_t *st);
/* Only the training state of a checkpoint directory. */
void ckpt_load_state(const char *dir, train_state_t *st);

/* rm -r PATH (nothing when it does not exist); dies naming what failed. */
void remove_tree(const char *path);

#endif
