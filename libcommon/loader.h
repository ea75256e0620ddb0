/* loader.h - the data pipeline: shard records -> decoded, transformed,
 * normalized image batches (with framed captions for training), produced by
 * a background thread and a thread pool into a queue of prefetched batches.
 *
 * Training (cfg.train = 1): an epoch visits every (image, caption) pair once,
 * shuffled, as BLIP's coco_karpathy_train does; batches are drop_last. The
 * order depends only on (seed, epoch) and each sample's randomness only on
 * (seed, epoch, position in the epoch), so batches do not depend on the
 * thread count, rank r of W takes positions [r*B, (r+1)*B) of each global
 * batch of W*B (2 ranks x B see exactly the samples of 1 rank x 2B), and
 * resuming at (epoch, step) needs no saved random state.
 *
 * Evaluation (cfg.train = 0): every image once in shard order, BLIP's test
 * transform, the last batch may be short; ranks take interleaved batches. */
#ifndef BLIP_LOADER_H
#define BLIP_LOADER_H

#include <stdint.h>

#include "augment.h"
#include "caption.h"
#include "shard.h"

typedef struct {
    int image_size;          /* 384 for BLIP-base */
    int batch_size;          /* per rank */
    uint64_t seed;
    int threads;             /* decode/augment threads; 0 = one per core */
    int prefetch;            /* batches prepared ahead (>= 1) */
    int train;               /* 1: train transform and captions; 0: test transform */
    const train_aug_t *aug;  /* train transform settings; NULL: BLIP's (TRAIN_AUG_BLIP) */
    int rank, world;         /* data-parallel slice; 0 and 1 for one process */
    const tokenizer_t *tok;  /* frames captions when train */
} loader_cfg_t;

typedef struct {
    int B, size;
    float *pixels;           /* [B, 3, size, size], normalized */
    int64_t *image_ids;      /* [B] */
    caption_batch_t caps;    /* train: ids, mask, labels [B, T] */
    uint64_t epoch, step;
} batch_t;

typedef struct loader loader_t;

/* The shard set must stay open while the loader lives. Dies on bad config. */
loader_t *loader_new(shard_set_t *shards, const loader_cfg_t *cfg);
/* Training: (image, caption) pairs; evaluation: images. */
uint64_t loader_samples(const loader_t *l);
/* Batches this rank gets per epoch. */
uint64_t loader_steps_per_epoch(const loader_t *l);
/* Produce batches of `epoch` from batch `first_step` on (stops what ran). */
void loader_start(loader_t *l, uint64_t epoch, uint64_t first_step);
/* The next batch, or NULL at the end of the epoch. The batch stays valid
 * until the next call. An image that cannot be decoded dies naming it. */
const batch_t *loader_next(loader_t *l);
void loader_free(loader_t *l);

#endif
