/* model_params.c - the BLIP captioner's parameter table (HuggingFace names,
 * shapes, offsets in the flat buffer), random initialization, and loading
 * and saving HuggingFace model directories. */
#include "model.h"
#include "model_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "ops.h"
#include "posembed.h"
#include "rng.h"
#include "safetensors.h"

/* Append a parameter; returns its offset. Offsets are rounded to 16 floats
 * (64 bytes) except for the adjacent q/k/v and cross k/v runs (contig). */
static size_t add_param(blip_model_t *m, size_t *cap, int contig, blip_pkind_t kind, int ndim,
                        const int64_t *shape, const char *fmt, ...) {
    if (m->nparams == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        m->params = xrealloc(m->params, *cap * sizeof *m->params);
    }
    blip_param_t *p = &m->params[m->nparams++];
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&p->name, fmt, ap) < 0) die("out of memory");
    va_end(ap);
    p->ndim = ndim;
    p->n = 1;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i], p->n *= (size_t)shape[i];
    p->kind = kind;
    p->off = contig ? m->nfloats : (m->nfloats + 15) / 16 * 16;
    m->nfloats = p->off + p->n;
    return p->off;
}

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define P1(kind, a, ...) add_param(m, &cap, 0, kind, 1, SHAPE(a), __VA_ARGS__)
#define P2(kind, a, b, ...) add_param(m, &cap, 0, kind, 2, SHAPE(a, b), __VA_ARGS__)
#define P2C(kind, a, b, ...) add_param(m, &cap, 1, kind, 2, SHAPE(a, b), __VA_ARGS__)
#define P1C(kind, a, ...) add_param(m, &cap, 1, kind, 1, SHAPE(a), __VA_ARGS__)

static void vision_params(blip_model_t *m, size_t *capp) {
    size_t cap = *capp;
    const blip_config_t *c = &m->cfg;
    int C = c->v_hidden, I = c->v_inter, P = c->patch_size, T = blip_vision_tokens(c);
    const char *e = "vision_model.embeddings";
    m->v_cls = add_param(m, &cap, 0, PK_EMBED, 3, SHAPE(1, 1, C), "%s.class_embedding", e);
    m->v_patch_w = add_param(m, &cap, 0, PK_WEIGHT, 4, SHAPE(C, 3, P, P),
                             "%s.patch_embedding.weight", e);
    m->v_patch_b = P1(PK_BIAS, C, "%s.patch_embedding.bias", e);
    m->v_pos = add_param(m, &cap, 0, PK_EMBED, 3, SHAPE(1, T, C), "%s.position_embedding", e);
    m->vl = xcalloc((size_t)c->v_layers, sizeof *m->vl);
    for (int l = 0; l < c->v_layers; l++) {
        vit_layer_t *L = &m->vl[l];
        const char *f = "vision_model.encoder.layers";
        L->ln1_w = P1(PK_NORM, C, "%s.%d.layer_norm1.weight", f, l);
        L->ln1_b = P1(PK_NORM, C, "%s.%d.layer_norm1.bias", f, l);
        L->qkv_w = P2(PK_WEIGHT, 3 * C, C, "%s.%d.self_attn.qkv.weight", f, l);
        L->qkv_b = P1(PK_BIAS, 3 * C, "%s.%d.self_attn.qkv.bias", f, l);
        L->proj_w = P2(PK_WEIGHT, C, C, "%s.%d.self_attn.projection.weight", f, l);
        L->proj_b = P1(PK_BIAS, C, "%s.%d.self_attn.projection.bias", f, l);
        L->ln2_w = P1(PK_NORM, C, "%s.%d.layer_norm2.weight", f, l);
        L->ln2_b = P1(PK_NORM, C, "%s.%d.layer_norm2.bias", f, l);
        L->fc1_w = P2(PK_WEIGHT, I, C, "%s.%d.mlp.fc1.weight", f, l);
        L->fc1_b = P1(PK_BIAS, I, "%s.%d.mlp.fc1.bias", f, l);
        L->fc2_w = P2(PK_WEIGHT, C, I, "%s.%d.mlp.fc2.weight", f, l);
        L->fc2_b = P1(PK_BIAS, C, "%s.%d.mlp.fc2.bias", f, l);
    }
    m->v_post_w = P1(PK_NORM, C, "vision_model.post_layernorm.weight");
    m->v_post_b = P1(PK_NORM, C, "vision_model.post_layernorm.bias");
    *capp = cap;
}

/* One BERT attention block (self or cross): query|key|value weights adjacent,
 * then their biases adjacent, then the output dense and LayerNorm. */
static void attention_params(blip_model_t *m, size_t *capp, const char *pre, int D, int Ckv,
                             size_t *q_w, size_t *q_b, size_t *o_w, size_t *o_b, size_t *ln_w,
                             size_t *ln_b) {
    size_t cap = *capp;
    *q_w = P2(PK_WEIGHT, D, D, "%s.self.query.weight", pre);
    P2C(PK_WEIGHT, D, Ckv, "%s.self.key.weight", pre);
    P2C(PK_WEIGHT, D, Ckv, "%s.self.value.weight", pre);
    *q_b = P1(PK_BIAS, D, "%s.self.query.bias", pre);
    P1C(PK_BIAS, D, "%s.self.key.bias", pre);
    P1C(PK_BIAS, D, "%s.self.value.bias", pre);
    *o_w = P2(PK_WEIGHT, D, D, "%s.output.dense.weight", pre);
    *o_b = P1(PK_BIAS, D, "%s.output.dense.bias", pre);
    *ln_w = P1(PK_NORM, D, "%s.output.LayerNorm.weight", pre);
    *ln_b = P1(PK_NORM, D, "%s.output.LayerNorm.bias", pre);
    *capp = cap;
}

static void text_params(blip_model_t *m, size_t *capp) {
    size_t cap = *capp;
    const blip_config_t *c = &m->cfg;
    int D = c->t_hidden, I = c->t_inter, Cv = c->v_hidden;
    const char *e = "text_decoder.bert.embeddings";
    m->t_wte = P2(PK_EMBED, c->vocab, D, "%s.word_embeddings.weight", e);
    m->t_wpe = P2(PK_EMBED, c->max_pos, D, "%s.position_embeddings.weight", e);
    m->t_eln_w = P1(PK_NORM, D, "%s.LayerNorm.weight", e);
    m->t_eln_b = P1(PK_NORM, D, "%s.LayerNorm.bias", e);
    m->tl = xcalloc((size_t)c->t_layers, sizeof *m->tl);
    for (int l = 0; l < c->t_layers; l++) {
        txt_layer_t *L = &m->tl[l];
        char pre[96];
        snprintf(pre, sizeof pre, "text_decoder.bert.encoder.layer.%d.attention", l);
        attention_params(m, &cap, pre, D, D, &L->qkv_w, &L->qkv_b, &L->ao_w, &L->ao_b,
                         &L->aln_w, &L->aln_b);
        snprintf(pre, sizeof pre, "text_decoder.bert.encoder.layer.%d.crossattention", l);
        attention_params(m, &cap, pre, D, Cv, &L->cq_w, &L->cq_b, &L->co_w, &L->co_b,
                         &L->cln_w, &L->cln_b);
        /* cross key|value follow the query: their run starts after it */
        L->ckv_w = L->cq_w + (size_t)D * D;
        L->ckv_b = L->cq_b + (size_t)D;
        const char *f = "text_decoder.bert.encoder.layer";
        L->in_w = P2(PK_WEIGHT, I, D, "%s.%d.intermediate.dense.weight", f, l);
        L->in_b = P1(PK_BIAS, I, "%s.%d.intermediate.dense.bias", f, l);
        L->out_w = P2(PK_WEIGHT, D, I, "%s.%d.output.dense.weight", f, l);
        L->out_b = P1(PK_BIAS, D, "%s.%d.output.dense.bias", f, l);
        L->oln_w = P1(PK_NORM, D, "%s.%d.output.LayerNorm.weight", f, l);
        L->oln_b = P1(PK_NORM, D, "%s.%d.output.LayerNorm.bias", f, l);
    }
    const char *h = "text_decoder.cls.predictions";
    m->h_dense_w = P2(PK_WEIGHT, D, D, "%s.transform.dense.weight", h);
    m->h_dense_b = P1(PK_BIAS, D, "%s.transform.dense.bias", h);
    m->h_ln_w = P1(PK_NORM, D, "%s.transform.LayerNorm.weight", h);
    m->h_ln_b = P1(PK_NORM, D, "%s.transform.LayerNorm.bias", h);
    m->h_bias = P1(PK_BIAS, c->vocab, "%s.bias", h);
    *capp = cap;
}

void blip_params_build(blip_model_t *m) {
    size_t cap = 0;
    vision_params(m, &cap);
    text_params(m, &cap);
    m->nfloats = (m->nfloats + 15) / 16 * 16;
}

const blip_param_t *blip_param(const blip_model_t *m, const char *name) {
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
    return NULL;
}

/* HF names of the tied LM-head decoder; checkpoints may carry copies. */
static int is_tied_copy(const char *name) {
    return strcmp(name, "text_decoder.cls.predictions.decoder.weight") == 0 ||
           strcmp(name, "text_decoder.cls.predictions.decoder.bias") == 0;
}

/* Grid side of a checkpoint's position embedding [1, 1 + g*g, C] made for
 * another image size, or 0 when T is not of that form. */
static int other_grid(const blip_model_t *m, const blip_param_t *p, const st_tensor_t *t) {
    if (p->off != m->v_pos || t->ndim != 3 || t->shape[0] != 1 || t->shape[2] != p->shape[2] ||
        t->shape[1] == p->shape[1] || t->shape[1] < 2)
        return 0;
    long n = (long)t->shape[1] - 1, g = lround(sqrt((double)n));
    return g * g == n ? (int)g : 0;
}

void blip_model_load(blip_model_t *m, const char *path) {
    free(m->source_dir);
    m->source_dir = is_dir(path) ? xstrdup(path) : NULL;
    st_set_t s;
    st_open(&s, path);
    size_t maxn = 0;
    for (size_t i = 0; i < m->nparams; i++) maxn = m->params[i].n > maxn ? m->params[i].n : maxn;
    float *host = xmalloc(maxn * sizeof *host);
    for (size_t i = 0; i < m->nparams; i++) {
        const blip_param_t *p = &m->params[i];
        st_tensor_t *t = st_find(&s, p->name);
        int g_old = t ? other_grid(m, p, t) : 0;
        if (g_old) {
            float *src = xmalloc(t->numel * sizeof *src);
            st_to_f32(t, src);
            note(1, "%s: %s: resampling the %dx%d grid to %dx%d", t->file, p->name, g_old,
                 g_old, blip_grid(&m->cfg), blip_grid(&m->cfg));
            posembed_resize(host, src, g_old, blip_grid(&m->cfg), (int)p->shape[2]);
            free(src);
            t->used = 1;
        } else {
            st_to_f32(st_need(&s, p->name, p->ndim, p->shape), host);
        }
        be_upload(m->w + p->off, host, p->n * sizeof *host);
    }
    for (size_t i = 0; i < s.n; i++)
        if (!s.t[i].used && !is_tied_copy(s.t[i].name))
            note(1, "%s: tensor %s not used by the captioner", s.t[i].file, s.t[i].name);
    free(host);
    st_close(&s);
}

/* The tokenizer's vocab.txt travels with the weights. */
static void copy_vocab(const blip_model_t *m, const char *dir) {
    if (!m->source_dir) return;
    char *src = path_join(m->source_dir, "vocab.txt"), *dst = path_join(dir, "vocab.txt");
    size_t len;
    char *text = strcmp(src, dst) != 0 ? try_read_file(src, &len) : NULL;
    if (text) write_file_atomic(dst, text, len);
    free(text);
    free(src);
    free(dst);
}

void blip_model_save(blip_model_t *m, const char *dir) {
    mkdir_p(dir);
    float *host = xmalloc(m->nfloats * sizeof *host);
    be_download(host, m->w, m->nfloats * sizeof *host);
    st_out_t *out = xcalloc(m->nparams, sizeof *out);
    for (size_t i = 0; i < m->nparams; i++) {
        const blip_param_t *p = &m->params[i];
        out[i].name = p->name;
        out[i].data = host + p->off;
        out[i].ndim = p->ndim;
        memcpy(out[i].shape, p->shape, sizeof p->shape);
    }
    char *st = path_join(dir, "model.safetensors"), *cj = path_join(dir, "config.json");
    st_write(st, out, m->nparams);
    blip_config_save(&m->cfg, cj);
    copy_vocab(m, dir);
    free(st);
    free(cj);
    free(out);
    free(host);
}

/* Truncated normal N(0, std^2) cut at +-2 std (timm / BERT style). */
static float trunc_normal(rng_t *r, float std) {
    for (;;) {
        double x = rng_normal(r);
        if (fabs(x) <= 2.0) return (float)(x * std);
    }
}

void blip_model_init(blip_model_t *m, uint64_t seed) {
    /* one Philox stream per parameter: the same weights on any thread count */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < m->nparams; i++) {
        const blip_param_t *p = &m->params[i];
        float *host = xmalloc(p->n * sizeof *host);
        rng_t r;
        rng_init(&r, seed, i);
        int is_norm_w = p->kind == PK_NORM && strstr(p->name, ".weight");
        for (size_t j = 0; j < p->n; j++)
            host[j] = p->kind == PK_BIAS || (p->kind == PK_NORM && !is_norm_w) ? 0.0f
                      : is_norm_w                                             ? 1.0f
                                                                              : trunc_normal(&r, 0.02f);
        be_upload(m->w + p->off, host, p->n * sizeof *host);
        free(host);
    }
}
