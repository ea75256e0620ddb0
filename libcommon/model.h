/* model.h - the BLIP image captioner (BlipForConditionalGeneration): ViT
 * image encoder + BERT decoder with cross-attention and a tied LM head,
 * forward and backward, over the backend ops of kernels/ops.h.
 *
 * All memory is allocated by blip_model_new(): parameters, gradients, AdamW
 * moments and activations for batches up to max_B captions of max_T tokens;
 * the step loop allocates nothing. Every buffer is backend (device) memory;
 * the model never dereferences it, so the same code runs on any backend.
 *
 * Parameters live in one flat buffer, one entry per HuggingFace tensor name
 * (blip_param_t), laid out so that a BERT layer's query/key/value weights are
 * adjacent (one [3D, D] matmul) and cross-attention key/value too ([2D, Cv]).
 * The LM head's decoder is the word embedding matrix (tied) with its own bias
 * text_decoder.cls.predictions.bias.
 *
 * Shapes: pixels [B, 3, S, S] (normalized floats), ids/mask/labels [B, T]
 * int32 (mask 1 = real token, labels -100 = ignored), logits [B, T, V],
 * image embeddings [B, 1 + (S/P)^2, Cv]. */
#ifndef BLIP_MODEL_H
#define BLIP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "blip_config.h"

/* What a parameter is, for weight-decay exemption. */
typedef enum { PK_WEIGHT, PK_BIAS, PK_NORM, PK_EMBED } blip_pkind_t;

typedef struct {
    char *name;       /* HuggingFace name, e.g. vision_model.post_layernorm.weight */
    int ndim;
    int64_t shape[4];
    size_t off, n;    /* element offset in the flat buffers, element count */
    blip_pkind_t kind;
} blip_param_t;

/* Offsets (in floats) of one ViT block's parameters. */
typedef struct {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} vit_layer_t;

/* Offsets of one BERT decoder layer's parameters (qkv = query|key|value,
 * ckv = cross key|value). */
typedef struct {
    size_t qkv_w, qkv_b, ao_w, ao_b, aln_w, aln_b;
    size_t cq_w, cq_b, ckv_w, ckv_b, co_w, co_b, cln_w, cln_b;
    size_t in_w, in_b, out_w, out_b, oln_w, oln_b;
} txt_layer_t;

typedef struct blip_acts blip_acts_t;

typedef struct {
    blip_config_t cfg;
    int max_B, max_T, training;
    /* parameter table and flat buffers (device) */
    blip_param_t *params;
    size_t nparams, nfloats;
    float *w, *g, *m, *v;          /* weights, gradients, AdamW moments (g/m/v: training) */
    /* parameter offsets */
    size_t v_cls, v_pos, v_patch_w, v_patch_b, v_post_w, v_post_b;
    vit_layer_t *vl;
    size_t t_wte, t_wpe, t_eln_w, t_eln_b;
    txt_layer_t *tl;
    size_t h_dense_w, h_dense_b, h_ln_w, h_ln_b, h_bias;
    /* activations and inputs (device) */
    blip_acts_t *a;
    float *dscalar;                /* one device float for reductions */
    /* current batch */
    int B, T, n_count;
    /* dropout: seed and a counter advanced by every training forward */
    uint64_t dropout_seed, dropout_step;
    float label_smoothing;         /* 0.1 as BLIP trains captions */
    float grad_scale;              /* backward: gradient of grad_scale x the mean loss (default 1;
                                      n_count gives the token sum, for data-parallel weighting) */
    /* backward calls grad_ready(grad_ready_ctx, off) each time g[off, nfloats)
     * has become final, off decreasing to 0 (the parameters are laid out so
     * that the pass finishes them from the end of the buffer to its start);
     * data-parallel training starts reducing those gradients (NULL: none) */
    void (*grad_ready)(void *ctx, size_t off);
    void *grad_ready_ctx;
    char *source_dir;              /* model directory loaded from, or NULL */
} blip_model_t;

/* A batch on the host. labels may be NULL (no loss); mask NULL = all ones. */
typedef struct {
    const float *pixels;
    const int32_t *ids, *mask, *labels;
    int B, T;
} blip_batch_t;

/* Allocate a model for batches up to max_B x max_T; training (1) also
 * allocates gradients, AdamW moments and per-layer activations for backward;
 * BLIP_TRAIN_NO_MOMENTS the same without the moments (m->m, m->v NULL: the
 * caller keeps its own, as ZeRO-1 keeps a shard). Weights start at zero:
 * load or initialize them. */
#define BLIP_TRAIN_NO_MOMENTS 2
blip_model_t *blip_model_new(const blip_config_t *cfg, int max_B, int max_T, int training);
void blip_model_free(blip_model_t *m);

/* Load BlipForConditionalGeneration weights from a model directory (or a
 * .safetensors file). fp32/fp16/bf16; unused tensors are noted (-v); a
 * missing or misshapen tensor dies naming it and both shapes. A position
 * embedding for another image size is resampled bicubically (class entry
 * kept), as BLIP does when fine-tuning at 384 px from 224 px. */
void blip_model_load(blip_model_t *m, const char *path);
/* Write DIR/config.json and DIR/model.safetensors (fp32, HF names; tied
 * decoder weights are not written, like save_pretrained), and copy vocab.txt
 * from the directory the weights were loaded from, when it has one. */
void blip_model_save(blip_model_t *m, const char *dir);
/* BLIP/BERT-style random init from a seed: weights and embeddings truncated
 * normal std 0.02 (cut at +-2 std), biases 0, LayerNorm 1/0. */
void blip_model_init(blip_model_t *m, uint64_t seed);
/* Parameter by HF name, or NULL. */
const blip_param_t *blip_param(const blip_model_t *m, const char *name);

/* Forward: upload the batch, run encoder and decoder, compute logits and,
 * with labels, BLIP's caption loss: logits[:, :-1] vs labels[:, 1:], label
 * smoothing m->label_smoothing, mean over counted tokens. Returns the loss
 * (NAN without labels). Dropout applies when m->training and the config's
 * dropout probabilities are non-zero. */
float blip_forward(blip_model_t *m, const blip_batch_t *b);
/* Backward of the last forward (which needs labels): ADDS this batch's
 * gradients to m->g (zero them with blip_zero_grad; accumulate several
 * batches by not zeroing). Overwrites the logits with their gradient. */
void blip_backward(blip_model_t *m);
void blip_zero_grad(blip_model_t *m);
/* Copy the last forward's logits [B, T, V] to host memory. */
void blip_get_logits(blip_model_t *m, float *host);

/* ---- inference pieces for generation ----------------------------------
 * blip_encode_image() runs the vision encoder on B images and keeps the
 * image embeddings [B, Tv, Cv] on the device (blip_image_embeds()); the
 * decoder then runs incrementally over a KV cache (model_decode.h). */
void blip_encode_image(blip_model_t *m, const float *pixels, int B);
const float *blip_image_embeds(const blip_model_t *m);

#endif
