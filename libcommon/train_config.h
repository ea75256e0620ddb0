/* train_config.h - blip-train's recipe: a flat JSON object under BLIP's own
 * key names (salesforce/BLIP configs/caption_coco.yaml) plus the run and
 * model-shape keys, with KEY=VALUE overrides. configs/caption_coco.json and
 * configs/demo.json are complete examples; every key must be present, and
 * an unknown key is an error (a typo never silently falls back). */
#ifndef BLIP_TRAIN_CONFIG_H
#define BLIP_TRAIN_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "blip_config.h"

typedef struct {
    /* BLIP's caption_coco.yaml */
    int image_size, batch_size, max_epoch; /* batch_size: per rank (per GPU), as in BLIP */
    double init_lr, min_lr, weight_decay;
    const char *prompt;
    int num_beams, max_length, min_length;
    /* caption framing and loss */
    double label_smoothing;
    int max_words, max_tokens;
    /* the run */
    int64_t seed, save_every, max_steps, keep_last, log_every, threads;
    int hflip; /* 1: BLIP's random horizontal flip; 0: none (captions that say left/right) */
    double min_scale;         /* RandomResizedCrop scale (min_scale, 1); BLIP 0.5 */
    int randaug_n, randaug_m; /* RandomAugment(N, M); BLIP 2, 5; N = 0: none */
    int accum_steps; /* batches per rank per optimizer step: global batch = batch_size x ranks x this */
    const char *vocab;     /* vocab.txt for a model without one ("" = none) */
    /* model shape for random initialisation (--init brings its own) */
    int patch_size, vision_width, vision_depth, vision_heads, vision_mlp;
    int text_width, text_depth, text_heads, text_mlp;
} train_cfg_t;

/* Load a config file. A relative "vocab" path is made relative to the
 * file's directory. Dies naming the file on a parse error. */
json_t *train_cfg_load(const char *path);
/* Apply one KEY=VALUE: VALUE is read as JSON when it parses (1e-4, 3,
 * "text"), else as a string; the key must exist and the type must fit.
 * Usage error (exit 2) otherwise. */
void train_cfg_set(json_t *cfg, const char *kv);
/* Check and extract every field; `where` names the config in errors. The
 * strings point into cfg. */
void train_cfg_parse(train_cfg_t *c, json_t *cfg, const char *where);
/* The model shape of a randomly initialised model for a vocabulary of
 * n_vocab tokens with the given [DEC], [SEP] and [PAD] ids. */
void train_cfg_model(const train_cfg_t *c, int n_vocab, int bos, int sep, int pad,
                     blip_config_t *out);

#endif
