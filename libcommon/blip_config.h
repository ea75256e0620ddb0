/* blip_config.h - the BLIP captioner's sizes and settings, read from (and
 * written as) a HuggingFace BlipConfig config.json.
 *
 * Fields absent from config.json take transformers' BlipTextConfig /
 * BlipVisionConfig defaults; the text decoder's cross-attention width is the
 * vision hidden size (as BlipConfig enforces). */
#ifndef BLIP_CONFIG_H
#define BLIP_CONFIG_H

typedef struct {
    /* vision_config */
    int image_size, patch_size;
    int v_hidden, v_inter, v_layers, v_heads;
    double v_eps, v_attn_dropout;
    /* text_config */
    int vocab, t_hidden, t_inter, t_layers, t_heads, max_pos;
    double t_eps, t_hidden_dropout, t_attn_dropout;
    int bos_id, sep_id, pad_id, eos_id;
} blip_config_t;

/* Read PATH (config.json); dies naming the file and field on bad values. */
void blip_config_load(blip_config_t *c, const char *path);
/* Write a config.json that BlipForConditionalGeneration.from_pretrained reads. */
void blip_config_save(const blip_config_t *c, const char *path);
/* BLIP-base captioner: ViT-B/16 at 384 px (eps 1e-12 text, 1e-5 vision as in
 * Salesforce/blip-image-captioning-base), BERT-base decoder, vocab 30524. */
void blip_config_base(blip_config_t *c);
/* Check sizes fit together; dies with `where` and the reason. */
void blip_config_check(const blip_config_t *c, const char *where);

/* Derived sizes. */
static inline int blip_grid(const blip_config_t *c) { return c->image_size / c->patch_size; }
static inline int blip_vision_tokens(const blip_config_t *c) {
    return blip_grid(c) * blip_grid(c) + 1;
}

#endif
