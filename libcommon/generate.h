/* generate.h - caption generation with HuggingFace generate() semantics
 * (transformers 5.x, as BlipForConditionalGeneration.generate calls it):
 * greedy search, beam search and nucleus sampling over the incremental
 * decoder of model_decode.h.
 *
 *   gen_t *g = gen_new(model, &cfg, max_images);
 *   gen_run(g, pixels, n, prompt, 4, out);   pixels [n, 3, S, S] normalized
 *
 * Lengths count the prompt: max_length 20 with a 4-token prompt allows 16
 * new tokens; [SEP] (eos) is blocked while the sequence is shorter than
 * min_length. Logits are processed as HF does: beam search applies the
 * repetition penalty and the min-length rule to log-softmax scores; greedy
 * and sampling apply them to the logits, then sampling keeps the top_k
 * tokens, then the smallest set whose probability exceeds top_p.
 *
 * Beam search keeps 2 * beams candidates per step; candidates ending in eos
 * among the best `beams` become finished hypotheses scored
 * sum_logprobs / new_tokens^length_penalty (prompt excluded). An image is
 * done when early_stopping is GEN_EARLY_TRUE and `beams` hypotheses are
 * finished, or when all are finished and the best running score divided by
 * (tokens generated so far)^length_penalty (GEN_EARLY_NEVER with a positive
 * length_penalty: by (max_length - prompt)^length_penalty) cannot beat the
 * worst of them, or at max_length.
 *
 * legacy = 1 scores beams as transformers 4.15 (salesforce/BLIP's results):
 * a hypothesis is the tokens before eos scored by sum_logprobs /
 * (its length, prompt included)^length_penalty; an image is done when K
 * exist and the best of all 2K candidates over the current length cannot
 * beat the worst; at max_length the running beams become hypotheses too.
 *
 * Sampling draws from the Philox stream
 * (seed, image index + first_image) so captions do not depend on batching;
 * they follow HF's rules but not torch's random numbers. */
#ifndef BLIP_GENERATE_H
#define BLIP_GENERATE_H

#include <stdint.h>

#include "model.h"

enum { GEN_EARLY_FALSE = 0, GEN_EARLY_TRUE = 1, GEN_EARLY_NEVER = 2 };
#define GEN_MAX_BEAMS 16

typedef struct {
    int beams;                  /* 1: greedy (or sampling) */
    int max_length, min_length; /* prompt included */
    int sample;                 /* nucleus sampling (beams must be 1) */
    float top_p;
    int top_k;                  /* 0: no top-k */
    float repetition_penalty, length_penalty;
    int early_stopping;         /* GEN_EARLY_* */
    int legacy;                 /* beam scoring of transformers 4.15, the
                                   version salesforce/BLIP pins (below) */
    int32_t eos, pad;
    uint64_t seed;
} gen_cfg_t;

/* One caption: prompt and generated ids, ending with eos unless max_length
 * was reached; score = beam search's sequences_score (0 for greedy and
 * sampling). */
typedef struct {
    int32_t *ids;
    int n;
    float score;
} gen_out_t;

typedef struct gen gen_t;

/* BLIP's caption evaluation: 3 beams, max_length 20, min_length 5, penalties
 * 1.0, early_stopping false, eos = [SEP] and pad of the model config. */
void gen_cfg_blip(gen_cfg_t *c, const blip_config_t *mc);
/* BLIP's sampling settings on top of c: sample, top_p 0.9, top_k 50,
 * repetition_penalty 1.1, one beam. */
void gen_cfg_blip_sample(gen_cfg_t *c);
/* Check c against the model (lengths fit max_position_embeddings, ids in the
 * vocabulary, sampling with one beam); returns 0 or -1 with err. */
int gen_cfg_check(const gen_cfg_t *c, const blip_config_t *mc, char *err, size_t errlen);

/* A generator for batches of up to max_images images on model m (made with
 * max_B >= max_images). c must pass gen_cfg_check. */
gen_t *gen_new(blip_model_t *m, const gen_cfg_t *c, int max_images);
void gen_free(gen_t *g);
/* Caption n images; out[i].ids is allocated (free with gen_out_free).
 * first_image numbers the images for sampling streams. */
void gen_run(gen_t *g, const float *pixels, int n, const int32_t *prompt, int plen,
             uint64_t first_image, gen_out_t *out);
void gen_out_free(gen_out_t *o, int n);
/* Decoder work of the last gen_run: token positions fed to the text decoder
 * (rows x tokens over all steps). A sequence that ended (greedy, sampling)
 * or an image whose beam search is done leaves the batch and adds none. */
long gen_fed(const gen_t *g);

#endif
