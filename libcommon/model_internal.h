/* model_internal.h - what model.c, model_params.c and model_decode.c share
 * beyond model.h. */
#ifndef BLIP_MODEL_INTERNAL_H
#define BLIP_MODEL_INTERNAL_H

#include "model.h"
#include "ops.h"

/* The next n floats of an arena being laid out: their offset; *cur moves
 * past them, rounded up to 16 floats (64-byte aligned slices). */
static inline size_t arena_take(size_t *cur, size_t n) {
    size_t off = *cur;
    *cur += (n + 15) / 16 * 16;
    return off;
}

/* Fill m->params and the parameter offsets from m->cfg. */
void blip_params_build(blip_model_t *m);

/* Device buffers of one decoder-layer pass over N query rows. */
typedef struct {
    float *att, *probs, *s1, *h1, *m1, *r1, *cq, *cprobs, *catt, *s2, *h2, *m2, *r2;
    float *fi, *gi, *s3, *m3, *r3;
} dec_bufs_t;

/* Buffers of the LM head over N rows: dense, GELU, LayerNorm (+ stats). */
typedef struct {
    float *hd, *hg, *hl, *m, *r;
} head_bufs_t;

/* Decoder layer l over N = self->B * self->Tq rows x -> y: self-attention of
 * the given q, k, v (projected by the caller), output dense + residual +
 * LayerNorm, cross-attention of its query projection against ckv (key|value
 * rows of 2*hidden, laid out as cross describes), FFN. p: hidden dropout. */
void blip_decoder_layer(blip_model_t *m, int l, const float *x, float *y, const dec_bufs_t *t,
                        const float *q, const float *k, const float *v, const attn_shape_t *self,
                        const float *ckv, const attn_shape_t *cross, float p);
/* LM head: logits [N, V] = tied decoder(LayerNorm(GELU(dense(x)))) + bias. */
void blip_lm_head(blip_model_t *m, int N, const float *x, const head_bufs_t *h, float *logits);

#endif
