/* blip_config.c - BlipConfig config.json reading, writing and checking. */
#include "blip_config.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonio.h"

static double opt_real(json_t *o, const char *key, double dflt, const char *where) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return dflt;
    if (!json_is_number(v)) die("%s: field \"%s\" is not a number", where, key);
    return json_number_value(v);
}

static int opt_int(json_t *o, const char *key, int dflt, const char *where) {
    int64_t v = json_opt_int(o, key, dflt, where);
    if (v < -1000000000 || v > 1000000000) die("%s: field \"%s\" out of range", where, key);
    return (int)v;
}

static void need_gelu(json_t *o, const char *where) {
    const char *act = json_opt_str(o, "hidden_act", where);
    if (act && strcmp(act, "gelu") != 0)
        die("%s: hidden_act \"%s\" is not supported (only \"gelu\")", where, act);
}

void blip_config_load(blip_config_t *c, const char *path) {
    json_t *root = json_load_path(path);
    if (!json_is_object(root)) die("%s: not a JSON object", path);
    char *vw = xasprintf("%s: vision_config", path), *tw = xasprintf("%s: text_config", path);
    json_t *empty = json_object();
    json_t *v = json_object_get(root, "vision_config"), *t = json_object_get(root, "text_config");
    if (v && !json_is_object(v)) die("%s: not an object", vw);
    if (t && !json_is_object(t)) die("%s: not an object", tw);
    if (!v) v = empty;
    if (!t) t = empty;

    c->image_size = opt_int(v, "image_size", 384, vw);
    c->patch_size = opt_int(v, "patch_size", 16, vw);
    c->v_hidden = opt_int(v, "hidden_size", 768, vw);
    c->v_inter = opt_int(v, "intermediate_size", 3072, vw);
    c->v_layers = opt_int(v, "num_hidden_layers", 12, vw);
    c->v_heads = opt_int(v, "num_attention_heads", 12, vw);
    c->v_eps = opt_real(v, "layer_norm_eps", 1e-5, vw);
    c->v_attn_dropout = opt_real(v, "attention_dropout", 0.0, vw);
    need_gelu(v, vw);

    c->vocab = opt_int(t, "vocab_size", 30524, tw);
    c->t_hidden = opt_int(t, "hidden_size", 768, tw);
    c->t_inter = opt_int(t, "intermediate_size", 3072, tw);
    c->t_layers = opt_int(t, "num_hidden_layers", 12, tw);
    c->t_heads = opt_int(t, "num_attention_heads", 8, tw);
    c->max_pos = opt_int(t, "max_position_embeddings", 512, tw);
    c->t_eps = opt_real(t, "layer_norm_eps", 1e-12, tw);
    c->t_hidden_dropout = opt_real(t, "hidden_dropout_prob", 0.0, tw);
    c->t_attn_dropout = opt_real(t, "attention_probs_dropout_prob", 0.0, tw);
    c->bos_id = opt_int(t, "bos_token_id", 30522, tw);
    c->sep_id = opt_int(t, "sep_token_id", 102, tw);
    c->pad_id = opt_int(t, "pad_token_id", 0, tw);
    c->eos_id = opt_int(t, "eos_token_id", 2, tw);
    need_gelu(t, tw);

    blip_config_check(c, path);
    json_decref(empty);
    json_decref(root);
    free(vw);
    free(tw);
}

void blip_config_check(const blip_config_t *c, const char *where) {
    struct { const char *name; int v; } pos[] = {
        {"image_size", c->image_size}, {"patch_size", c->patch_size},
        {"vision hidden_size", c->v_hidden}, {"vision intermediate_size", c->v_inter},
        {"vision num_hidden_layers", c->v_layers}, {"vision num_attention_heads", c->v_heads},
        {"vocab_size", c->vocab}, {"text hidden_size", c->t_hidden},
        {"text intermediate_size", c->t_inter}, {"text num_hidden_layers", c->t_layers},
        {"text num_attention_heads", c->t_heads}, {"max_position_embeddings", c->max_pos},
    };
    for (size_t i = 0; i < ARRAY_LEN(pos); i++)
        if (pos[i].v <= 0) die("%s: %s must be positive (got %d)", where, pos[i].name, pos[i].v);
    if (c->image_size % c->patch_size)
        die("%s: image_size %d is not a multiple of patch_size %d", where, c->image_size,
            c->patch_size);
    if (c->v_hidden % c->v_heads)
        die("%s: vision hidden_size %d is not a multiple of num_attention_heads %d", where,
            c->v_hidden, c->v_heads);
    if (c->t_hidden % c->t_heads)
        die("%s: text hidden_size %d is not a multiple of num_attention_heads %d", where,
            c->t_hidden, c->t_heads);
    int ids[] = {c->bos_id, c->sep_id, c->pad_id};
    for (size_t i = 0; i < ARRAY_LEN(ids); i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            die("%s: special token id %d outside vocab_size %d", where, ids[i], c->vocab);
    if (c->v_eps <= 0 || c->t_eps <= 0) die("%s: layer_norm_eps must be positive", where);
}

void blip_config_base(blip_config_t *c) {
    *c = (blip_config_t){
        .image_size = 384, .patch_size = 16, .v_hidden = 768, .v_inter = 3072, .v_layers = 12,
        .v_heads = 12, .v_eps = 1e-5, .vocab = 30524, .t_hidden = 768, .t_inter = 3072,
        .t_layers = 12, .t_heads = 12, .max_pos = 512, .t_eps = 1e-12,
        .bos_id = 30522, .sep_id = 102, .pad_id = 0, .eos_id = 2,
    };
}

void blip_config_save(const blip_config_t *c, const char *path) {
    json_t *v = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:s}",
                          "model_type", "blip_vision_model", "image_size", c->image_size,
                          "patch_size", c->patch_size, "hidden_size", c->v_hidden,
                          "intermediate_size", c->v_inter, "num_hidden_layers", c->v_layers,
                          "num_attention_heads", c->v_heads, "layer_norm_eps", c->v_eps,
                          "attention_dropout", c->v_attn_dropout, "hidden_act", "gelu");
    json_t *t = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:i, s:i, s:i, s:i, s:s, "
        "s:b, s:b}",
        "model_type", "blip_text_model", "vocab_size", c->vocab, "hidden_size", c->t_hidden,
        "encoder_hidden_size", c->v_hidden, "intermediate_size", c->t_inter,
        "num_hidden_layers", c->t_layers, "num_attention_heads", c->t_heads,
        "max_position_embeddings", c->max_pos, "layer_norm_eps", c->t_eps,
        "hidden_dropout_prob", c->t_hidden_dropout, "attention_probs_dropout_prob",
        c->t_attn_dropout, "bos_token_id", c->bos_id, "sep_token_id", c->sep_id,
        "pad_token_id", c->pad_id, "eos_token_id", c->eos_id, "hidden_act", "gelu",
        "is_decoder", 1, "tie_word_embeddings", 1);
    json_t *root = json_pack("{s:[s], s:s, s:b, s:o, s:o}", "architectures",
                             "BlipForConditionalGeneration", "model_type", "blip",
                             "tie_word_embeddings", 1, "text_config", t, "vision_config", v);
    if (!v || !t || !root) die("%s: cannot build config JSON", path);
    json_write_atomic(path, root);
    json_decref(root);
}
