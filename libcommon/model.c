/* model.c - the BLIP captioner's forward and backward passes: activation
 * layout, ViT encoder, BERT decoder with cross-attention, LM head and BLIP's
 * label-smoothed caption loss. Only backend ops touch the buffers. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "model_internal.h"
#include "ops.h"
#include "rng.h"

/* Offsets (floats) into the activation arena. */
typedef struct {
    size_t ln1, ln1_m, ln1_r, qkv, probs, att, x2, ln2, ln2_m, ln2_r, f1, g1;
} vit_act_t;

typedef struct {
    size_t qkv, probs, att, s1, h1, m1, r1;
    size_t cq, ckv, cprobs, catt, s2, h2, m2, r2;
    size_t fi, gi, s3, m3, r3;
} txt_act_t;

struct blip_acts {
    float *f;                  /* the arena (device) */
    int32_t *ids, *mask, *targets;
    int32_t *h_targets;        /* host staging for targets and the all-ones mask */
    int32_t *h_ones;
    size_t pixels, patches, patch_out, *vx, post, post_m, post_r;
    vit_act_t *vl;
    size_t temb, temb_m, temb_r, *tx;
    txt_act_t *tl;
    size_t hd, hg, hl, hl_m, hl_r, logits, losses;
    /* gradient scratch (training) */
    size_t gR, gS, gA, gQ, gQKV, gI1, gI2, gKV, gIMG, gP;
};

#define A(off) (m->a->f + (off))
#define W(off) (m->w + (off))
#define G(off) (m->g + (off))

/* Floats of the backend's attention state for B x H heads of size hd,
 * Tq queries over Tk keys (op_attention). */
static size_t attn_state(size_t B, size_t H, size_t Tq, size_t Tk, size_t hd) {
    attn_shape_t s = {.B = (int)B, .H = (int)H, .Tq = (int)Tq, .Tk = (int)Tk, .hd = (int)hd};
    return be_attn_state_floats(&s);
}

/* Lay out the arena. Without training, every layer shares one set of
 * activations and the residual stream alternates between two buffers. */
static size_t layout(blip_model_t *m) {
    struct blip_acts *a = m->a;
    const blip_config_t *c = &m->cfg;
    size_t B = (size_t)m->max_B, T = (size_t)m->max_T, Tv = (size_t)blip_vision_tokens(c);
    size_t NP = Tv - 1, Nv = B * Tv, N = B * T, C = (size_t)c->v_hidden, D = (size_t)c->t_hidden;
    size_t Iv = (size_t)c->v_inter, It = (size_t)c->t_inter, P = (size_t)c->patch_size;
    size_t Hv = (size_t)c->v_heads, Ht = (size_t)c->t_heads, S = (size_t)c->image_size;
    int keep = m->training;
    size_t cur = 0;
    a->pixels = arena_take(&cur, B * 3 * S * S);
    a->patches = arena_take(&cur, B * NP * 3 * P * P);
    a->patch_out = arena_take(&cur, B * NP * C);
    a->vx = xcalloc((size_t)c->v_layers + 1, sizeof *a->vx);
    a->vl = xcalloc((size_t)c->v_layers, sizeof *a->vl);
    for (int l = 0; l <= c->v_layers; l++)
        a->vx[l] = keep || l < 2 ? arena_take(&cur, Nv * C) : a->vx[l % 2];
    for (int l = 0; l < c->v_layers; l++) {
        vit_act_t *v = &a->vl[l];
        if (!keep && l > 0) { *v = a->vl[0]; continue; }
        v->ln1 = arena_take(&cur, Nv * C);
        v->ln1_m = arena_take(&cur, Nv);
        v->ln1_r = arena_take(&cur, Nv);
        v->qkv = arena_take(&cur, Nv * 3 * C);
        v->probs = arena_take(&cur, attn_state(B, Hv, Tv, Tv, C / Hv));
        v->att = arena_take(&cur, Nv * C);
        v->x2 = arena_take(&cur, Nv * C);
        v->ln2 = arena_take(&cur, Nv * C);
        v->ln2_m = arena_take(&cur, Nv);
        v->ln2_r = arena_take(&cur, Nv);
        v->f1 = arena_take(&cur, Nv * Iv);
        v->g1 = arena_take(&cur, Nv * Iv);
    }
    a->post = arena_take(&cur, Nv * C);
    a->post_m = arena_take(&cur, Nv);
    a->post_r = arena_take(&cur, Nv);

    a->temb = arena_take(&cur, N * D);
    a->temb_m = arena_take(&cur, N);
    a->temb_r = arena_take(&cur, N);
    a->tx = xcalloc((size_t)c->t_layers + 1, sizeof *a->tx);
    a->tl = xcalloc((size_t)c->t_layers, sizeof *a->tl);
    for (int l = 0; l <= c->t_layers; l++)
        a->tx[l] = keep || l < 2 ? arena_take(&cur, N * D) : a->tx[l % 2];
    for (int l = 0; l < c->t_layers; l++) {
        txt_act_t *t = &a->tl[l];
        if (!keep && l > 0) { *t = a->tl[0]; continue; }
        t->qkv = arena_take(&cur, N * 3 * D);
        t->probs = arena_take(&cur, attn_state(B, Ht, T, T, D / Ht));
        t->att = arena_take(&cur, N * D);
        t->s1 = arena_take(&cur, N * D);
        t->h1 = arena_take(&cur, N * D);
        t->m1 = arena_take(&cur, N);
        t->r1 = arena_take(&cur, N);
        t->cq = arena_take(&cur, N * D);
        t->ckv = arena_take(&cur, Nv * 2 * D);
        t->cprobs = arena_take(&cur, attn_state(B, Ht, T, Tv, D / Ht));
        t->catt = arena_take(&cur, N * D);
        t->s2 = arena_take(&cur, N * D);
        t->h2 = arena_take(&cur, N * D);
        t->m2 = arena_take(&cur, N);
        t->r2 = arena_take(&cur, N);
        t->fi = arena_take(&cur, N * It);
        t->gi = arena_take(&cur, N * It);
        t->s3 = arena_take(&cur, N * D);
        t->m3 = arena_take(&cur, N);
        t->r3 = arena_take(&cur, N);
    }
    a->hd = arena_take(&cur, N * D);
    a->hg = arena_take(&cur, N * D);
    a->hl = arena_take(&cur, N * D);
    a->hl_m = arena_take(&cur, N);
    a->hl_r = arena_take(&cur, N);
    a->logits = arena_take(&cur, N * (size_t)c->vocab);
    a->losses = arena_take(&cur, N);
    if (m->training) {
        size_t W = C > D ? C : D, I = Iv > It ? Iv : It, NN = Nv > N ? Nv : N;
        a->gR = arena_take(&cur, NN * W);
        a->gS = arena_take(&cur, NN * W);
        a->gA = arena_take(&cur, NN * W);
        a->gQ = arena_take(&cur, N * D);
        a->gQKV = arena_take(&cur, NN * 3 * W);
        a->gI1 = arena_take(&cur, NN * I);
        a->gI2 = arena_take(&cur, NN * I);
        a->gKV = arena_take(&cur, Nv * 2 * D);
        a->gIMG = arena_take(&cur, Nv * C);
        a->gP = arena_take(&cur, B * NP * C);
    }
    return cur;
}

blip_model_t *blip_model_new(const blip_config_t *cfg, int max_B, int max_T, int training) {
    blip_config_check(cfg, "model config");
    if (max_T > cfg->max_pos)
        die("model: %d tokens exceed max_position_embeddings %d", max_T, cfg->max_pos);
    blip_model_t *m = xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->max_B = max_B;
    m->max_T = max_T;
    m->training = training;
    m->label_smoothing = 0.1f;
    m->grad_scale = 1.0f;
    blip_params_build(m);
    size_t pbytes = m->nfloats * sizeof(float);
    m->w = be_alloc(pbytes);
    if (training) {
        m->g = be_alloc(pbytes);
        if (training != BLIP_TRAIN_NO_MOMENTS) {
            m->m = be_alloc(pbytes);
            m->v = be_alloc(pbytes);
        }
    }
    m->a = xcalloc(1, sizeof *m->a);
    size_t n = layout(m);
    m->a->f = be_alloc(n * sizeof(float));
    size_t bt = (size_t)max_B * max_T;
    m->a->ids = be_alloc(bt * sizeof(int32_t));
    m->a->mask = be_alloc(bt * sizeof(int32_t));
    m->a->targets = be_alloc(bt * sizeof(int32_t));
    m->dscalar = be_alloc(sizeof(float));
    m->a->h_targets = xmalloc(bt * sizeof(int32_t));
    m->a->h_ones = xmalloc(bt * sizeof(int32_t));
    for (size_t i = 0; i < bt; i++) m->a->h_ones[i] = 1;
    size_t nparam = 0;
    for (size_t i = 0; i < m->nparams; i++) nparam += m->params[i].n;
    note(1, "model: %zu parameters, %.1f MiB activations (%s)", nparam, n * 4.0 / (1 << 20),
         be_name());
    return m;
}

void blip_model_free(blip_model_t *m) {
    if (!m) return;
    struct blip_acts *a = m->a;
    be_free(a->f);
    be_free(a->ids);
    be_free(a->mask);
    be_free(a->targets);
    be_free(m->dscalar);
    free(a->h_targets);
    free(a->h_ones);
    free(a->vx);
    free(a->vl);
    free(a->tx);
    free(a->tl);
    free(a);
    be_free(m->w);
    be_free(m->g);
    be_free(m->m);
    be_free(m->v);
    for (size_t i = 0; i < m->nparams; i++) free(m->params[i].name);
    free(m->params);
    free(m->source_dir);
    free(m->vl);
    free(m->tl);
    free(m);
}

/* ---- dropout sites ------------------------------------------------------ */

/* Stream of dropout site `site` in the current step (0 when not training). */
static uint64_t drop_stream(const blip_model_t *m, int layer, int site) {
    return rng_mix(m->dropout_step, (uint64_t)layer * 16 + (uint64_t)site);
}

enum { SITE_EMB, SITE_SELF_OUT, SITE_CROSS_OUT, SITE_FFN_OUT, SITE_SELF_ATT, SITE_CROSS_ATT,
       SITE_VIT_ATT };

static float p_hidden(const blip_model_t *m) { return m->training ? (float)m->cfg.t_hidden_dropout : 0.0f; }
static float p_attn(const blip_model_t *m) { return m->training ? (float)m->cfg.t_attn_dropout : 0.0f; }

/* ---- vision encoder ------------------------------------------------------ */

static attn_shape_t vit_attn(const blip_model_t *m, int B, int l) {
    const blip_config_t *c = &m->cfg;
    int T = blip_vision_tokens(c);
    return (attn_shape_t){
        .B = B, .H = c->v_heads, .Tq = T, .Tk = T, .hd = c->v_hidden / c->v_heads,
        .q_stride = 3 * c->v_hidden, .kv_stride = 3 * c->v_hidden,
        .p_drop = m->training ? (float)c->v_attn_dropout : 0.0f,
        .seed = m->dropout_seed, .stream = drop_stream(m, l, SITE_VIT_ATT),
    };
}

static void vit_forward(blip_model_t *m, int B) {
    const blip_config_t *c = &m->cfg;
    struct blip_acts *a = m->a;
    int C = c->v_hidden, I = c->v_inter, P = c->patch_size, T = blip_vision_tokens(c);
    int NP = T - 1, N = B * T;
    float eps = (float)c->v_eps;
    op_patchify(A(a->patches), A(a->pixels), B, c->image_size, c->image_size, P);
    op_matmul(A(a->patch_out), A(a->patches), W(m->v_patch_w), W(m->v_patch_b), B * NP,
              3 * P * P, C);
    op_vit_embed(A(a->vx[0]), A(a->patch_out), W(m->v_cls), W(m->v_pos), B, NP, C);
    for (int l = 0; l < c->v_layers; l++) {
        const vit_layer_t *L = &m->vl[l];
        const vit_act_t *v = &a->vl[l];
        float *x = A(a->vx[l]), *y = A(a->vx[l + 1]);
        op_layernorm(A(v->ln1), A(v->ln1_m), A(v->ln1_r), x, W(L->ln1_w), W(L->ln1_b), N, C, eps);
        op_matmul(A(v->qkv), A(v->ln1), W(L->qkv_w), W(L->qkv_b), N, C, 3 * C);
        attn_shape_t s = vit_attn(m, B, l);
        op_attention(A(v->att), A(v->probs), A(v->qkv), A(v->qkv) + C, A(v->qkv) + 2 * C, &s);
        op_matmul(A(v->x2), A(v->att), W(L->proj_w), W(L->proj_b), N, C, C);
        op_add_inplace(A(v->x2), x, (size_t)N * C);
        op_layernorm(A(v->ln2), A(v->ln2_m), A(v->ln2_r), A(v->x2), W(L->ln2_w), W(L->ln2_b), N,
                     C, eps);
        op_matmul(A(v->f1), A(v->ln2), W(L->fc1_w), W(L->fc1_b), N, C, I);
        op_gelu(A(v->g1), A(v->f1), (size_t)N * I);
        op_matmul(y, A(v->g1), W(L->fc2_w), W(L->fc2_b), N, I, C);
        op_add_inplace(y, A(v->x2), (size_t)N * C);
    }
    op_layernorm(A(a->post), A(a->post_m), A(a->post_r), A(a->vx[c->v_layers]), W(m->v_post_w),
                 W(m->v_post_b), N, C, eps);
}

/* The gradients from offset `off` to the end of the buffer are final. */
static void ready(blip_model_t *m, size_t off) {
    if (m->grad_ready) m->grad_ready(m->grad_ready_ctx, off);
}

/* dIMG (gradient of the image embeddings) -> vision parameter gradients. */
static void vit_backward(blip_model_t *m) {
    const blip_config_t *c = &m->cfg;
    struct blip_acts *a = m->a;
    int B = m->B, C = c->v_hidden, I = c->v_inter, P = c->patch_size, T = blip_vision_tokens(c);
    int NP = T - 1, N = B * T;
    size_t NC = (size_t)N * C, NI = (size_t)N * I;
    float *R = A(a->gR), *S = A(a->gS), *At = A(a->gA), *QKV = A(a->gQKV);
    float *G1 = A(a->gI1), *F1 = A(a->gI2);
    op_zero(R, NC);
    op_layernorm_backward(R, G(m->v_post_w), G(m->v_post_b), A(a->gIMG), A(a->vx[c->v_layers]),
                          W(m->v_post_w), A(a->post_m), A(a->post_r), N, C);
    ready(m, m->v_post_w);
    for (int l = c->v_layers - 1; l >= 0; l--) {
        const vit_layer_t *L = &m->vl[l];
        const vit_act_t *v = &a->vl[l];
        /* R = dy = gradient of x2 through the residual */
        op_zero(G1, NI);
        op_matmul_backward(G1, G(L->fc2_w), G(L->fc2_b), R, A(v->g1), W(L->fc2_w), N, I, C);
        op_zero(F1, NI);
        op_gelu_backward(F1, A(v->f1), G1, NI);
        op_zero(S, NC);
        op_matmul_backward(S, G(L->fc1_w), G(L->fc1_b), F1, A(v->ln2), W(L->fc1_w), N, C, I);
        op_layernorm_backward(R, G(L->ln2_w), G(L->ln2_b), S, A(v->x2), W(L->ln2_w), A(v->ln2_m),
                              A(v->ln2_r), N, C);
        /* R = d x2 = gradient of x through the residual */
        op_zero(At, NC);
        op_matmul_backward(At, G(L->proj_w), G(L->proj_b), R, A(v->att), W(L->proj_w), N, C, C);
        op_zero(QKV, 3 * NC);
        attn_shape_t s = vit_attn(m, B, l);
        op_attention_backward(QKV, QKV + C, QKV + 2 * C, At, A(v->att), A(v->probs),
                              A(v->qkv), A(v->qkv) + C, A(v->qkv) + 2 * C, &s);
        op_zero(S, NC);
        op_matmul_backward(S, G(L->qkv_w), G(L->qkv_b), QKV, A(v->ln1), W(L->qkv_w), N, C, 3 * C);
        op_layernorm_backward(R, G(L->ln1_w), G(L->ln1_b), S, A(a->vx[l]), W(L->ln1_w),
                              A(v->ln1_m), A(v->ln1_r), N, C);
        ready(m, L->ln1_w);
    }
    float *dP = A(a->gP);
    op_zero(dP, (size_t)B * NP * C);
    op_vit_embed_backward(dP, G(m->v_cls), G(m->v_pos), R, B, NP, C);
    op_matmul_backward(NULL, G(m->v_patch_w), G(m->v_patch_b), dP, A(a->patches),
                       W(m->v_patch_w), B * NP, 3 * P * P, C);
    ready(m, 0);
}

/* ---- text decoder -------------------------------------------------------- */

static attn_shape_t self_attn(const blip_model_t *m, int l) {
    const blip_config_t *c = &m->cfg;
    return (attn_shape_t){
        .B = m->B, .H = c->t_heads, .Tq = m->T, .Tk = m->T, .hd = c->t_hidden / c->t_heads,
        .q_stride = 3 * c->t_hidden, .kv_stride = 3 * c->t_hidden, .causal = 1,
        .key_mask = m->a->mask, .p_drop = p_attn(m), .seed = m->dropout_seed,
        .stream = drop_stream(m, l, SITE_SELF_ATT),
    };
}

static attn_shape_t cross_attn(const blip_model_t *m, int l) {
    const blip_config_t *c = &m->cfg;
    return (attn_shape_t){
        .B = m->B, .H = c->t_heads, .Tq = m->T, .Tk = blip_vision_tokens(c),
        .hd = c->t_hidden / c->t_heads, .q_stride = c->t_hidden, .kv_stride = 2 * c->t_hidden,
        .p_drop = p_attn(m), .seed = m->dropout_seed, .stream = drop_stream(m, l, SITE_CROSS_ATT),
    };
}

/* out = LayerNorm(dropout(inp @ w^T + b) + res) on N rows; sum keeps the
 * pre-norm sum. */
static void dense_res_norm(blip_model_t *m, int N, float p, float *sum, float *out, float *mean,
                           float *rstd, const float *inp, size_t w, size_t b, const float *res,
                           size_t ln_w, size_t ln_b, int K, uint64_t stream) {
    int D = m->cfg.t_hidden;
    op_matmul(sum, inp, W(w), W(b), N, K, D);
    op_dropout(sum, (size_t)N * D, p, m->dropout_seed, stream);
    op_add_inplace(sum, res, (size_t)N * D);
    op_layernorm(out, mean, rstd, sum, W(ln_w), W(ln_b), N, D, (float)m->cfg.t_eps);
}

void blip_decoder_layer(blip_model_t *m, int l, const float *x, float *y, const dec_bufs_t *t,
                        const float *q, const float *k, const float *v, const attn_shape_t *self,
                        const float *ckv, const attn_shape_t *cross, float p) {
    const blip_config_t *c = &m->cfg;
    const txt_layer_t *L = &m->tl[l];
    int N = self->B * self->Tq, D = c->t_hidden, I = c->t_inter;
    op_attention(t->att, t->probs, q, k, v, self);
    dense_res_norm(m, N, p, t->s1, t->h1, t->m1, t->r1, t->att, L->ao_w, L->ao_b, x, L->aln_w,
                   L->aln_b, D, drop_stream(m, l, SITE_SELF_OUT));
    op_matmul(t->cq, t->h1, W(L->cq_w), W(L->cq_b), N, D, D);
    op_attention(t->catt, t->cprobs, t->cq, ckv, ckv + D, cross);
    dense_res_norm(m, N, p, t->s2, t->h2, t->m2, t->r2, t->catt, L->co_w, L->co_b, t->h1,
                   L->cln_w, L->cln_b, D, drop_stream(m, l, SITE_CROSS_OUT));
    op_matmul(t->fi, t->h2, W(L->in_w), W(L->in_b), N, D, I);
    op_gelu(t->gi, t->fi, (size_t)N * I);
    dense_res_norm(m, N, p, t->s3, y, t->m3, t->r3, t->gi, L->out_w, L->out_b, t->h2, L->oln_w,
                   L->oln_b, I, drop_stream(m, l, SITE_FFN_OUT));
}

void blip_lm_head(blip_model_t *m, int N, const float *x, const head_bufs_t *h, float *logits) {
    const blip_config_t *c = &m->cfg;
    int D = c->t_hidden;
    op_matmul(h->hd, x, W(m->h_dense_w), W(m->h_dense_b), N, D, D);
    op_gelu(h->hg, h->hd, (size_t)N * D);
    op_layernorm(h->hl, h->m, h->r, h->hg, W(m->h_ln_w), W(m->h_ln_b), N, D, (float)c->t_eps);
    op_matmul(logits, h->hl, W(m->t_wte), W(m->h_bias), N, D, c->vocab);
}

static dec_bufs_t dec_bufs(blip_model_t *m, const txt_act_t *t) {
    return (dec_bufs_t){A(t->att), A(t->probs), A(t->s1), A(t->h1), A(t->m1), A(t->r1),
                        A(t->cq), A(t->cprobs), A(t->catt), A(t->s2), A(t->h2), A(t->m2),
                        A(t->r2), A(t->fi), A(t->gi), A(t->s3), A(t->m3), A(t->r3)};
}

static void text_forward(blip_model_t *m) {
    const blip_config_t *c = &m->cfg;
    struct blip_acts *a = m->a;
    int B = m->B, T = m->T, N = B * T, D = c->t_hidden, Cv = c->v_hidden;
    int Nv = B * blip_vision_tokens(c);
    op_text_embed(A(a->temb), a->ids, W(m->t_wte), W(m->t_wpe), B, T, D, 0);
    op_layernorm(A(a->tx[0]), A(a->temb_m), A(a->temb_r), A(a->temb), W(m->t_eln_w),
                 W(m->t_eln_b), N, D, (float)c->t_eps);
    op_dropout(A(a->tx[0]), (size_t)N * D, p_hidden(m), m->dropout_seed,
               drop_stream(m, 0, SITE_EMB));
    for (int l = 0; l < c->t_layers; l++) {
        const txt_layer_t *L = &m->tl[l];
        const txt_act_t *t = &a->tl[l];
        float *x = A(a->tx[l]);
        op_matmul(A(t->qkv), x, W(L->qkv_w), W(L->qkv_b), N, D, 3 * D);
        op_matmul(A(t->ckv), A(a->post), W(L->ckv_w), W(L->ckv_b), Nv, Cv, 2 * D);
        attn_shape_t s = self_attn(m, l), cs = cross_attn(m, l);
        dec_bufs_t bufs = dec_bufs(m, t);
        blip_decoder_layer(m, l, x, A(a->tx[l + 1]), &bufs, A(t->qkv), A(t->qkv) + D,
                           A(t->qkv) + 2 * D, &s, A(t->ckv), &cs, p_hidden(m));
    }
    head_bufs_t h = {A(a->hd), A(a->hg), A(a->hl), A(a->hl_m), A(a->hl_r)};
    blip_lm_head(m, N, A(a->tx[c->t_layers]), &h, A(a->logits));
}

/* Backward through out = LayerNorm(dropout(inp @ w^T + b) + res) given
 * R = d out: leaves d res in R and adds d inp to dinp. */
static void dense_res_norm_backward(blip_model_t *m, float *R, float *dinp, const float *sum,
                                    const float *mean, const float *rstd, const float *inp,
                                    size_t w, size_t b, size_t ln_w, size_t ln_b, int K,
                                    uint64_t stream) {
    int N = m->B * m->T, D = m->cfg.t_hidden;
    size_t ND = (size_t)N * D;
    float *S = A(m->a->gS);
    op_zero(S, ND);
    op_layernorm_backward(S, G(ln_w), G(ln_b), R, sum, W(ln_w), mean, rstd, N, D);
    be_copy(R, S, ND * sizeof(float));
    op_dropout_backward(S, ND, p_hidden(m), m->dropout_seed, stream);
    op_matmul_backward(dinp, G(w), G(b), S, inp, W(w), N, K, D);
}

static void text_backward(blip_model_t *m) {
    const blip_config_t *c = &m->cfg;
    struct blip_acts *a = m->a;
    int B = m->B, T = m->T, N = B * T, D = c->t_hidden, I = c->t_inter, V = c->vocab;
    int Cv = c->v_hidden, Nv = B * blip_vision_tokens(c);
    size_t ND = (size_t)N * D, NI = (size_t)N * I;
    float *R = A(a->gR), *S = A(a->gS), *At = A(a->gA), *Q = A(a->gQ), *QKV = A(a->gQKV);
    float *GI = A(a->gI1), *FI = A(a->gI2), *KV = A(a->gKV);
    /* loss -> logits gradient (in place) -> LM head */
    op_crossentropy(A(a->losses), A(a->logits), A(a->logits), a->targets, N, V,
                    m->label_smoothing, m->n_count, m->grad_scale);
    op_zero(At, ND);
    op_matmul_backward(At, G(m->t_wte), G(m->h_bias), A(a->logits), A(a->hl), W(m->t_wte), N, D, V);
    op_zero(S, ND);
    op_layernorm_backward(S, G(m->h_ln_w), G(m->h_ln_b), At, A(a->hg), W(m->h_ln_w), A(a->hl_m),
                          A(a->hl_r), N, D);
    op_zero(Q, ND);
    op_gelu_backward(Q, A(a->hd), S, ND);
    op_zero(R, ND);
    op_matmul_backward(R, G(m->h_dense_w), G(m->h_dense_b), Q, A(a->tx[c->t_layers]),
                       W(m->h_dense_w), N, D, D);
    ready(m, m->h_dense_w); /* not the word embeddings: the embedding pass adds to them */
    op_zero(A(a->gIMG), (size_t)Nv * Cv);
    for (int l = c->t_layers - 1; l >= 0; l--) {
        const txt_layer_t *L = &m->tl[l];
        const txt_act_t *t = &a->tl[l];
        /* FFN: R = d y -> d h2 */
        op_zero(GI, NI);
        dense_res_norm_backward(m, R, GI, A(t->s3), A(t->m3), A(t->r3), A(t->gi), L->out_w,
                                L->out_b, L->oln_w, L->oln_b, I, drop_stream(m, l, SITE_FFN_OUT));
        op_zero(FI, NI);
        op_gelu_backward(FI, A(t->fi), GI, NI);
        op_matmul_backward(R, G(L->in_w), G(L->in_b), FI, A(t->h2), W(L->in_w), N, D, I);
        /* cross-attention: R = d h2 -> d h1, image gradient into gIMG */
        op_zero(At, ND);
        dense_res_norm_backward(m, R, At, A(t->s2), A(t->m2), A(t->r2), A(t->catt), L->co_w,
                                L->co_b, L->cln_w, L->cln_b, D, drop_stream(m, l, SITE_CROSS_OUT));
        op_zero(Q, ND);
        op_zero(KV, (size_t)Nv * 2 * D);
        attn_shape_t cs = cross_attn(m, l);
        op_attention_backward(Q, KV, KV + D, At, A(t->catt), A(t->cprobs), A(t->cq),
                              A(t->ckv), A(t->ckv) + D, &cs);
        op_matmul_backward(R, G(L->cq_w), G(L->cq_b), Q, A(t->h1), W(L->cq_w), N, D, D);
        op_matmul_backward(A(a->gIMG), G(L->ckv_w), G(L->ckv_b), KV, A(a->post), W(L->ckv_w), Nv,
                           Cv, 2 * D);
        /* self-attention: R = d h1 -> d x */
        op_zero(At, ND);
        dense_res_norm_backward(m, R, At, A(t->s1), A(t->m1), A(t->r1), A(t->att), L->ao_w,
                                L->ao_b, L->aln_w, L->aln_b, D, drop_stream(m, l, SITE_SELF_OUT));
        op_zero(QKV, 3 * ND);
        attn_shape_t s = self_attn(m, l);
        op_attention_backward(QKV, QKV + D, QKV + 2 * D, At, A(t->att), A(t->probs),
                              A(t->qkv), A(t->qkv) + D, A(t->qkv) + 2 * D, &s);
        op_matmul_backward(R, G(L->qkv_w), G(L->qkv_b), QKV, A(a->tx[l]), W(L->qkv_w), N, D, 3 * D);
        ready(m, L->qkv_w);
    }
    /* embeddings: R = d (dropped LayerNorm output) */
    op_dropout_backward(R, ND, p_hidden(m), m->dropout_seed, drop_stream(m, 0, SITE_EMB));
    op_zero(S, ND);
    op_layernorm_backward(S, G(m->t_eln_w), G(m->t_eln_b), R, A(a->temb), W(m->t_eln_w),
                          A(a->temb_m), A(a->temb_r), N, D);
    op_text_embed_backward(G(m->t_wte), G(m->t_wpe), S, a->ids, B, T, D, 0, c->pad_id);
    ready(m, m->t_wte);
}

/* ---- public entry points ------------------------------------------------- */

static void check_batch(const blip_model_t *m, int B, int T) {
    if (B < 1 || B > m->max_B || T < 1 || T > m->max_T)
        die("model: batch %dx%d outside the allocated %dx%d", B, T, m->max_B, m->max_T);
}

void blip_encode_image(blip_model_t *m, const float *pixels, int B) {
    check_batch(m, B, 1);
    size_t S = (size_t)m->cfg.image_size;
    be_upload(A(m->a->pixels), pixels, (size_t)B * 3 * S * S * sizeof(float));
    m->B = B;
    vit_forward(m, B);
}

const float *blip_image_embeds(const blip_model_t *m) { return m->a->f + m->a->post; }

/* targets[b, t] = labels[b, t + 1] (the last position predicts nothing). */
static int set_targets(blip_model_t *m, const blip_batch_t *b) {
    int n = 0;
    int32_t *tg = m->a->h_targets;
    for (int i = 0; i < b->B; i++)
        for (int t = 0; t < b->T; t++) {
            int32_t y = t + 1 < b->T ? b->labels[(size_t)i * b->T + t + 1] : -100;
            if (y >= m->cfg.vocab || (y < 0 && y != -100))
                die("model: label %d at [%d, %d] outside vocab_size %d", y, i, t + 1, m->cfg.vocab);
            tg[(size_t)i * b->T + t] = y;
            n += y >= 0;
        }
    be_upload(m->a->targets, tg, (size_t)b->B * b->T * sizeof(int32_t));
    return n;
}

float blip_forward(blip_model_t *m, const blip_batch_t *b) {
    check_batch(m, b->B, b->T);
    struct blip_acts *a = m->a;
    size_t bt = (size_t)b->B * b->T;
    for (size_t i = 0; i < bt; i++)
        if (b->ids[i] < 0 || b->ids[i] >= m->cfg.vocab)
            die("model: token id %d at %zu outside vocab_size %d", b->ids[i], i, m->cfg.vocab);
    if (m->training) m->dropout_step++;
    blip_encode_image(m, b->pixels, b->B);
    m->T = b->T;
    be_upload(a->ids, b->ids, bt * sizeof(int32_t));
    be_upload(a->mask, b->mask ? b->mask : a->h_ones, bt * sizeof(int32_t));
    text_forward(m);
    if (!b->labels) {
        m->n_count = -1;
        return NAN;
    }
    m->n_count = set_targets(m, b);
    int N = b->B * b->T;
    op_crossentropy(A(a->losses), NULL, A(a->logits), a->targets, N, m->cfg.vocab,
                    m->label_smoothing, m->n_count, 1.0f);
    op_sum(m->dscalar, A(a->losses), (size_t)N);
    float loss;
    be_download(&loss, m->dscalar, sizeof loss);
    return loss;
}

void blip_backward(blip_model_t *m) {
    if (!m->training) die("model: backward needs a model made for training");
    if (m->n_count < 0) die("model: backward needs a forward with labels");
    text_backward(m);
    vit_backward(m);
    m->n_count = -1; /* the logits now hold their gradient */
}

void blip_zero_grad(blip_model_t *m) { op_zero(m->g, m->nfloats); }

void blip_get_logits(blip_model_t *m, float *host) {
    be_download(host, A(m->a->logits), (size_t)m->B * m->T * m->cfg.vocab * sizeof(float));
}
