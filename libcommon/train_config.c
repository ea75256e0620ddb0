/* train_config.c - blip-train's recipe: load, override, check, extract. */
#include "train_config.h"

#include <libgen.h>
#include <stddef.h>
#include <string.h>

#include "caption.h"
#include "err.h"
#include "fileio.h"
#include "jsonio.h"

typedef enum { K_INT, K_I64, K_REAL, K_STR } kind_t;

typedef struct {
    const char *key;
    kind_t kind;
    size_t off;
    double lo, hi; /* numeric range */
} key_t_;

#define F(k, t, lo, hi) {#k, t, offsetof(train_cfg_t, k), lo, hi}
static const key_t_ KEYS[] = {
    F(image_size, K_INT, 16, 4096),     F(batch_size, K_INT, 1, 65536),
    F(max_epoch, K_INT, 1, 100000),     F(init_lr, K_REAL, 0, 1e30),
    F(min_lr, K_REAL, 0, 1e30),         F(weight_decay, K_REAL, 0, 10),
    F(prompt, K_STR, 0, 0),             F(num_beams, K_INT, 1, 64),
    F(max_length, K_INT, 5, 512),       F(min_length, K_INT, 0, 512),
    F(label_smoothing, K_REAL, 0, 1),   F(max_words, K_INT, 1, 512),
    F(max_tokens, K_INT, 5, 512),       F(seed, K_I64, 0, 9007199254740991.0),
    F(save_every, K_I64, 0, 1e15),      F(max_steps, K_I64, 0, 1e15),
    F(keep_last, K_I64, 1, 1000),       F(log_every, K_I64, 1, 1e9),
    F(threads, K_I64, 0, 1024),         F(vocab, K_STR, 0, 0),
    F(patch_size, K_INT, 1, 1024),      F(vision_width, K_INT, 1, 65536),
    F(vision_depth, K_INT, 1, 1024),    F(vision_heads, K_INT, 1, 1024),
    F(vision_mlp, K_INT, 1, 1 << 20),   F(text_width, K_INT, 1, 65536),
    F(text_depth, K_INT, 1, 1024),      F(text_heads, K_INT, 1, 1024),
    F(text_mlp, K_INT, 1, 1 << 20),     F(hflip, K_INT, 0, 1),
    F(min_scale, K_REAL, 0.01, 1),      F(randaug_n, K_INT, 0, 16),
    F(randaug_m, K_INT, 0, 10),
    F(accum_steps, K_INT, 1, 65536),
};
#undef F

static const key_t_ *find_key(const char *k) {
    for (size_t i = 0; i < ARRAY_LEN(KEYS); i++)
        if (strcmp(KEYS[i].key, k) == 0) return &KEYS[i];
    return NULL;
}

json_t *train_cfg_load(const char *path) {
    json_t *j = json_load_path(path);
    if (!json_is_object(j)) die("%s: expected a JSON object", path);
    json_t *v = json_object_get(j, "vocab");
    if (json_is_string(v) && json_string_length(v) > 0 && json_string_value(v)[0] != '/') {
        char *copy = xstrdup(path), *p = path_join(dirname(copy), json_string_value(v));
        json_object_set_new(j, "vocab", json_string(p));
        free(p);
        free(copy);
    }
    return j;
}

void train_cfg_set(json_t *cfg, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) usage_die("--set: expected KEY=VALUE, got '%s'", kv);
    char *key = xasprintf("%.*s", (int)(eq - kv), kv);
    const key_t_ *k = find_key(key);
    if (!k) usage_die("--set: unknown key '%s'", key);
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    if (k->kind == K_STR && !json_is_string(v)) {
        json_decref(v);
        v = json_string(eq + 1);
    }
    int fits = k->kind == K_STR ? json_is_string(v)
             : k->kind == K_REAL ? json_is_number(v) : json_is_integer(v);
    if (!fits) usage_die("--set %s: expected %s, got '%s'", key,
                         k->kind == K_REAL ? "a number" : "an integer", eq + 1);
    json_object_set_new(cfg, key, v);
    free(key);
}

void train_cfg_parse(train_cfg_t *c, json_t *cfg, const char *where) {
    memset(c, 0, sizeof *c);
    const char *name;
    json_t *v;
    json_object_foreach(cfg, name, v)
        if (!find_key(name)) die("%s: unknown key '%s'", where, name);
    for (size_t i = 0; i < ARRAY_LEN(KEYS); i++) {
        const key_t_ *k = &KEYS[i];
        char *p = (char *)c + k->off;
        v = json_object_get(cfg, k->key);
        if (!v) die("%s: missing key '%s'", where, k->key);
        if (k->kind == K_STR) {
            if (!json_is_string(v)) die("%s: '%s' must be a string", where, k->key);
            *(const char **)p = json_string_value(v);
            continue;
        }
        if (k->kind == K_REAL ? !json_is_number(v) : !json_is_integer(v))
            die("%s: '%s' must be %s", where, k->key, k->kind == K_REAL ? "a number" : "an integer");
        double x = json_number_value(v);
        if (x < k->lo || x > k->hi) die("%s: '%s' = %g outside [%g, %g]", where, k->key, x, k->lo, k->hi);
        if (k->kind == K_INT) *(int *)p = (int)json_integer_value(v);
        else if (k->kind == K_I64) *(int64_t *)p = (int64_t)json_integer_value(v);
        else *(double *)p = x;
    }
    /* The caption rules are fixed in caption.h, as BLIP fixes them. */
    if (strcmp(c->prompt, CAPTION_PROMPT) != 0)
        die("%s: prompt must be \"%s\" (caption.h)", where, CAPTION_PROMPT);
    if (c->max_words != CAPTION_MAX_WORDS || c->max_tokens != CAPTION_MAX_TOKENS)
        die("%s: max_words and max_tokens must be %d and %d (caption.h)", where,
            CAPTION_MAX_WORDS, CAPTION_MAX_TOKENS);
    if (c->min_lr > c->init_lr) die("%s: min_lr above init_lr", where);
    if (c->min_length > c->max_length) die("%s: min_length above max_length", where);
}

void train_cfg_model(const train_cfg_t *c, int n_vocab, int bos, int sep, int pad,
                     blip_config_t *out) {
    blip_config_base(out);
    out->image_size = c->image_size;
    out->patch_size = c->patch_size;
    out->v_hidden = c->vision_width;
    out->v_layers = c->vision_depth;
    out->v_heads = c->vision_heads;
    out->v_inter = c->vision_mlp;
    out->t_hidden = c->text_width;
    out->t_layers = c->text_depth;
    out->t_heads = c->text_heads;
    out->t_inter = c->text_mlp;
    out->vocab = n_vocab;
    out->bos_id = bos;
    out->sep_id = sep;
    out->pad_id = pad;
    out->eos_id = sep;
    blip_config_check(out, "model shape");
}
