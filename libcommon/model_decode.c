/* model_decode.c - the text decoder one step at a time over a KV cache:
 * self-attention keys/values appended per step, cross-attention keys/values
 * per image, LM head on the new tokens only. */
#include "model_decode.h"

#include <stdlib.h>

#include "err.h"
#include "model_internal.h"
#include "ops.h"

struct blip_kv {
    blip_model_t *m;
    int max_rows, max_len, rows, beams, len;
    long fed;                       /* token positions fed since blip_kv_new */
    size_t layer_self, layer_cross; /* floats per layer in self / cross */
    float *self, *spare;            /* [L, max_rows, max_len, 2D] key|value */
    float *cross;                   /* [L, max_rows (images), Tv, 2D] */
    float *arena;                   /* step activations */
    float *temb, *emb_m, *emb_r, *x[2], *q, *newkv, *logits;
    dec_bufs_t d;
    head_bufs_t h;
    int32_t *ids;
};

static float *carve(float *base, size_t *cur, size_t n) {
    size_t off = arena_take(cur, n);
    return base ? base + off : NULL;
}

/* Lay out (or, with base NULL, measure) the step arena for N rows. */
static size_t layout(blip_kv_t *kv, float *base) {
    const blip_config_t *c = &kv->m->cfg;
    size_t N = (size_t)kv->max_rows * kv->max_len, D = (size_t)c->t_hidden, I = (size_t)c->t_inter;
    size_t H = (size_t)c->t_heads, Tv = (size_t)blip_vision_tokens(c), L = (size_t)kv->max_len;
    size_t R = (size_t)kv->max_rows;
    size_t cur = 0;
    kv->temb = carve(base, &cur, N * D);
    kv->emb_m = carve(base, &cur, N);
    kv->emb_r = carve(base, &cur, N);
    kv->x[0] = carve(base, &cur, N * D);
    kv->x[1] = carve(base, &cur, N * D);
    kv->q = carve(base, &cur, N * D);
    kv->newkv = carve(base, &cur, N * 2 * D);
    dec_bufs_t *d = &kv->d;
    d->att = carve(base, &cur, N * D);
    d->probs = carve(base, &cur, R * H * L * L);
    d->s1 = carve(base, &cur, N * D);
    d->h1 = carve(base, &cur, N * D);
    d->m1 = carve(base, &cur, N);
    d->r1 = carve(base, &cur, N);
    d->cq = carve(base, &cur, N * D);
    d->cprobs = carve(base, &cur, N * H * Tv);
    d->catt = carve(base, &cur, N * D);
    d->s2 = carve(base, &cur, N * D);
    d->h2 = carve(base, &cur, N * D);
    d->m2 = carve(base, &cur, N);
    d->r2 = carve(base, &cur, N);
    d->fi = carve(base, &cur, N * I);
    d->gi = carve(base, &cur, N * I);
    d->s3 = carve(base, &cur, N * D);
    d->m3 = carve(base, &cur, N);
    d->r3 = carve(base, &cur, N);
    kv->h = (head_bufs_t){carve(base, &cur, N * D), carve(base, &cur, N * D), carve(base, &cur, N * D),
                          carve(base, &cur, N), carve(base, &cur, N)};
    kv->logits = carve(base, &cur, N * (size_t)c->vocab);
    return cur;
}

blip_kv_t *blip_kv_new(blip_model_t *m, int max_rows, int max_len) {
    const blip_config_t *c = &m->cfg;
    if (max_len > c->max_pos)
        die("decode: %d tokens exceed max_position_embeddings %d", max_len, c->max_pos);
    blip_kv_t *kv = xcalloc(1, sizeof *kv);
    kv->m = m;
    kv->max_rows = max_rows;
    kv->max_len = max_len;
    size_t D2 = 2 * (size_t)c->t_hidden, Ly = (size_t)c->t_layers;
    kv->layer_self = (size_t)max_rows * max_len * D2;
    kv->layer_cross = (size_t)max_rows * blip_vision_tokens(c) * D2;
    kv->self = be_alloc(Ly * kv->layer_self * sizeof(float));
    kv->spare = be_alloc(Ly * kv->layer_self * sizeof(float));
    kv->cross = be_alloc(Ly * kv->layer_cross * sizeof(float));
    size_t n = layout(kv, NULL);
    kv->arena = be_alloc(n * sizeof(float));
    layout(kv, kv->arena);
    kv->ids = be_alloc((size_t)max_rows * max_len * sizeof(int32_t));
    return kv;
}

void blip_kv_free(blip_kv_t *kv) {
    if (!kv) return;
    be_free(kv->self);
    be_free(kv->spare);
    be_free(kv->cross);
    be_free(kv->arena);
    be_free(kv->ids);
    free(kv);
}

void blip_kv_start(blip_kv_t *kv, int n_images, int beams) {
    blip_model_t *m = kv->m;
    const blip_config_t *c = &m->cfg;
    if (n_images < 1 || beams < 1 || n_images * beams > kv->max_rows || n_images > m->B)
        die("decode: %d images x %d beams do not fit the cache (%d rows) or the %d encoded images",
            n_images, beams, kv->max_rows, m->B);
    kv->rows = n_images * beams;
    kv->beams = beams;
    kv->len = 0;
    int D = c->t_hidden, Tv = blip_vision_tokens(c);
    for (int l = 0; l < c->t_layers; l++)
        op_matmul(kv->cross + l * kv->layer_cross, blip_image_embeds(m), m->w + m->tl[l].ckv_w,
                  m->w + m->tl[l].ckv_b, n_images * Tv, c->v_hidden, 2 * D);
}

void blip_kv_step(blip_kv_t *kv, const int32_t *ids, int n, float *logits) {
    blip_model_t *m = kv->m;
    const blip_config_t *c = &m->cfg;
    int R = kv->rows, N = R * n, D = c->t_hidden, L0 = kv->len;
    if (n < 1 || L0 + n > kv->max_len)
        die("decode: %d more tokens overflow the cache of %d", n, kv->max_len);
    for (int i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab) die("decode: token id %d outside vocab_size %d", ids[i], c->vocab);
    be_upload(kv->ids, ids, (size_t)N * sizeof(int32_t));
    const float *w = m->w;
    op_text_embed(kv->temb, kv->ids, w + m->t_wte, w + m->t_wpe, R, n, D, L0);
    op_layernorm(kv->x[0], kv->emb_m, kv->emb_r, kv->temb, w + m->t_eln_w, w + m->t_eln_b, N, D,
                 (float)c->t_eps);
    int hd = D / c->t_heads;
    for (int l = 0; l < c->t_layers; l++) {
        const txt_layer_t *L = &m->tl[l];
        float *x = kv->x[l % 2], *y = kv->x[(l + 1) % 2], *self = kv->self + l * kv->layer_self;
        op_matmul(kv->q, x, w + L->qkv_w, w + L->qkv_b, N, D, D);
        /* new keys|values [N, 2D] in one product, then into each row's cache
         * at positions L0.. */
        op_matmul(kv->newkv, x, w + L->qkv_w + (size_t)D * D, w + L->qkv_b + D, N, D, 2 * D);
        for (int r = 0; r < R; r++)
            be_copy(self + ((size_t)r * kv->max_len + L0) * 2 * D, kv->newkv + (size_t)r * n * 2 * D,
                    (size_t)n * 2 * D * sizeof(float));
        attn_shape_t ss = {.B = R, .H = c->t_heads, .Tq = n, .Tk = L0 + n, .hd = hd,
                           .q_stride = D, .kv_stride = 2 * D,
                           .kv_bstride = (size_t)kv->max_len * 2 * D, .causal = 1};
        attn_shape_t cs = {.B = R, .H = c->t_heads, .Tq = n, .Tk = blip_vision_tokens(c),
                           .hd = hd, .q_stride = D, .kv_stride = 2 * D, .kv_group = kv->beams};
        blip_decoder_layer(m, l, x, y, &kv->d, kv->q, self, self + D, &ss,
                           kv->cross + l * kv->layer_cross, &cs, 0.0f);
    }
    blip_lm_head(m, N, kv->x[c->t_layers % 2], &kv->h, kv->logits);
    for (int r = 0; r < R; r++)
        be_download(logits + (size_t)r * c->vocab, kv->logits + ((size_t)r * n + n - 1) * c->vocab,
                    (size_t)c->vocab * sizeof(float));
    kv->len += n;
    kv->fed += (long)N;
}

void blip_kv_reorder(blip_kv_t *kv, const int32_t *src) {
    const blip_config_t *c = &kv->m->cfg;
    size_t row = (size_t)kv->max_len * 2 * c->t_hidden, used = (size_t)kv->len * 2 * c->t_hidden;
    for (int r = 0; r < kv->rows; r++)
        if (src[r] < 0 || src[r] >= kv->rows || src[r] / kv->beams != r / kv->beams)
            die("decode: reorder source %d for row %d is not a row of the same image", src[r], r);
    for (int l = 0; l < c->t_layers; l++)
        for (int r = 0; r < kv->rows; r++)
            be_copy(kv->spare + l * kv->layer_self + r * row,
                    kv->self + l * kv->layer_self + (size_t)src[r] * row, used * sizeof(float));
    float *t = kv->self;
    kv->self = kv->spare;
    kv->spare = t;
}

/* Image j moves to image slot `to` (to <= j); rows of later images never
 * overlap earlier slots, so compaction works in place. */
static void move_image(blip_kv_t *kv, int j, int to) {
    const blip_config_t *c = &kv->m->cfg;
    size_t D2 = 2 * (size_t)c->t_hidden, row = (size_t)kv->max_len * D2, used = (size_t)kv->len * D2;
    size_t img_cross = (size_t)blip_vision_tokens(c) * D2;
    for (int l = 0; l < c->t_layers; l++) {
        float *self = kv->self + l * kv->layer_self, *cross = kv->cross + l * kv->layer_cross;
        for (int k = 0; k < kv->beams; k++)
            be_copy(self + ((size_t)to * kv->beams + k) * row, self + ((size_t)j * kv->beams + k) * row,
                    used * sizeof(float));
        be_copy(cross + to * img_cross, cross + j * img_cross, img_cross * sizeof(float));
    }
}

void blip_kv_keep(blip_kv_t *kv, const int32_t *images, int n) {
    int have = kv->rows / kv->beams;
    if (n < 1) die("decode: keep at least one image");
    for (int j = 0; j < n; j++)
        if (images[j] < 0 || images[j] >= have || (j && images[j] <= images[j - 1]))
            die("decode: keep list entry %d (image %d) is not an increasing image of %d", j, images[j], have);
    for (int j = 0; j < n; j++)
        if (images[j] != j) move_image(kv, images[j], j);
    kv->rows = n * kv->beams;
}

int blip_kv_len(const blip_kv_t *kv) { return kv->len; }

long blip_kv_fed(const blip_kv_t *kv) { return kv->fed; }
