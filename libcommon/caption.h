/* caption.h - BLIP's caption rules in one place, for training and generation
 * (salesforce/BLIP data/utils.py pre_caption, models/blip.py BLIP_Decoder).
 *
 *   training:   ids    = [DEC] tokens("a picture of " + pre_caption(c, 30)) [SEP]
 *               truncated to 40 tokens ([SEP] kept), padded with [PAD] to the
 *               longest row of the batch (padding='longest');
 *               mask   = 1 for tokens, 0 for padding;
 *               labels = ids, with -100 where ids == [PAD] and in the first
 *               4 positions (the prompt: [DEC] a picture of).
 *   generation: the decoder starts from [DEC] a picture of (no [SEP]); the
 *               caption is decode(ids, skip_special_tokens=True) without its
 *               first len("a picture of ") = 13 characters. */
#ifndef BLIP_CAPTION_H
#define BLIP_CAPTION_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define CAPTION_PROMPT "a picture of "
#define CAPTION_MAX_WORDS 30     /* pre_caption's max_words in caption training */
#define CAPTION_MAX_TOKENS 40    /* tokenizer(..., truncation=True, max_length=40) */
#define CAPTION_IGNORE (-100)    /* label of positions excluded from the loss */

/* pre_caption(text, max_words): lowercase (Python str.lower()); each of
 * . ! " ( ) * # : ; ~ becomes a space; runs of two or more whitespace
 * characters become one space; trailing newlines and surrounding spaces are
 * stripped; only the first max_words space-separated words are kept.
 * max_words >= 0. Returns a new string, its length in *out_len (it may
 * hold NUL bytes, as Python strings may) when out_len is not NULL. */
char *pre_caption(const char *text, size_t len, int max_words, size_t *out_len);

/* Number of leading positions excluded from the loss:
 * len(tokenizer(prompt).input_ids) - 1 = 4. */
int caption_prompt_length(const tokenizer_t *t);

/* Generation's starting ids, [DEC] a picture of, appended to out. */
void caption_prompt_ids(const tokenizer_t *t, tok_ids_t *out);

/* One training row, unpadded: [DEC] ... [SEP], at most CAPTION_MAX_TOKENS
 * ids, from a raw caption (pre_caption applied here). Appended to out. */
void caption_train_ids(const tokenizer_t *t, const char *caption, size_t len, tok_ids_t *out);

/* A training batch, each array [B, T] row-major, T = longest row. */
typedef struct {
    int B, T;
    int32_t *ids;
    int32_t *mask;
    int32_t *labels;
} caption_batch_t;

/* Frame B raw captions (NUL-terminated) into a new batch. */
void caption_batch(const tokenizer_t *t, const char *const *captions, int B, caption_batch_t *out);
void caption_batch_free(caption_batch_t *b);

/* The caption of generated ids (prompt included): decoded text minus its
 * first 13 characters. Returns a new string. */
char *caption_from_ids(const tokenizer_t *t, const int32_t *ids, size_t n);

#endif
