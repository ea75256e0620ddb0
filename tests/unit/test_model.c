/* test_model.c - the BLIP captioner against HuggingFace transformers
 * (fixtures from tests/ref/make_model_fixtures.py): logits, BLIP loss, every
 * parameter gradient, 10 AdamW steps, save/reload, sharded and fp16/bf16
 * checkpoints, loading errors, position-embedding resampling. */
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

#include "blip_config.h"
#include "err.h"
#include "fileio.h"
#include "jsonio.h"
#include "model.h"
#include "model_decode.h"
#include "ops.h"
#include "optim.h"
#include "posembed.h"
#include "safetensors.h"

#define FIX "tests/fixtures/model"

/* BLIP_TEST_VERBOSE=1 prints the measured errors. */
__attribute__((constructor)) static void set_verbosity(void) {
    const char *v = getenv("BLIP_TEST_VERBOSE");
    if (v && *v) verbosity = atoi(v);
}

typedef struct {
    blip_config_t cfg;
    st_set_t batch, exp;
    float *pixels;
    int32_t *ids, *mask, *labels;
    int B, T;
    char *dir;
} fixture_t;

static float *f32(st_set_t *s, const char *name, size_t *n) {
    st_tensor_t *t = st_find(s, name);
    if (!t) {
        printf("  fixture tensor %s missing\n", name);
        exit(1);
    }
    float *p = xmalloc(t->numel * sizeof *p);
    st_to_f32(t, p);
    if (n) *n = t->numel;
    return p;
}

static int32_t *i32(st_set_t *s, const char *name) {
    st_tensor_t *t = st_find(s, name);
    int32_t *p = xmalloc(t->numel * sizeof *p);
    st_to_i32(t, p);
    return p;
}

static void fixture_open(fixture_t *f, const char *name) {
    f->dir = xasprintf(FIX "/%s", name);
    char *p = xasprintf("%s/model/config.json", f->dir);
    blip_config_load(&f->cfg, p);
    free(p);
    p = xasprintf("%s/batch.safetensors", f->dir);
    st_open(&f->batch, p);
    free(p);
    p = xasprintf("%s/expected.safetensors", f->dir);
    st_open(&f->exp, p);
    free(p);
    f->pixels = f32(&f->batch, "pixels", NULL);
    f->ids = i32(&f->batch, "input_ids");
    f->mask = i32(&f->batch, "attention_mask");
    f->labels = i32(&f->batch, "labels");
    st_tensor_t *t = st_find(&f->batch, "input_ids");
    f->B = (int)t->shape[0];
    f->T = (int)t->shape[1];
}

static void fixture_close(fixture_t *f) {
    st_close(&f->batch);
    st_close(&f->exp);
    free(f->pixels);
    free(f->ids);
    free(f->mask);
    free(f->labels);
    free(f->dir);
}

static blip_batch_t fixture_batch(const fixture_t *f) {
    return (blip_batch_t){.pixels = f->pixels, .ids = f->ids, .mask = f->mask,
                          .labels = f->labels, .B = f->B, .T = f->T};
}

static blip_model_t *fixture_model(fixture_t *f, const char *weights) {
    blip_model_t *m = blip_model_new(&f->cfg, f->B, f->T, 1);
    char *p = weights ? xstrdup(weights) : xasprintf("%s/model", f->dir);
    blip_model_load(m, p);
    free(p);
    return m;
}

/* max |a - b| / max(max |b|, floor) */
static double rel_err_floor(const float *a, const float *b, size_t n, double floor) {
    double d = 0.0, mx = floor;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        mx = fmax(mx, fabs((double)b[i]));
    }
    return mx > 0 ? d / mx : d;
}

static double rel_err(const float *a, const float *b, size_t n) { return rel_err_floor(a, b, n, 0); }

static double logits_err(blip_model_t *m, fixture_t *f, const char *name) {
    size_t n;
    float *want = f32(&f->exp, name, &n);
    float *got = xmalloc(n * sizeof *got);
    blip_get_logits(m, got);
    double e = rel_err(got, want, n);
    free(want);
    free(got);
    return e;
}

static void check_forward(const char *name) {
    fixture_t f;
    fixture_open(&f, name);
    blip_model_t *m = fixture_model(&f, NULL);
    blip_batch_t b = fixture_batch(&f);
    float loss = blip_forward(m, &b);
    double e = logits_err(m, &f, "logits");
    CHECK_MSG(e < 1e-5, "%s: logits max rel err %.3g", name, e);
    float *want = f32(&f.exp, "loss", NULL);
    note(1, "%s: logits max rel err %.3g, loss %.8f vs %.8f", name, e, loss, want[0]);
    CHECK_MSG(fabs(loss - want[0]) < 1e-5 * fabs(want[0]), "%s: loss %.8f vs %.8f", name, loss,
              want[0]);
    free(want);
    blip_model_free(m);
    fixture_close(&f);
}

TEST(model_forward_odd) { check_forward("odd"); }
TEST(model_forward_wide) { check_forward("wide"); }

static void check_grads(const char *name) {
    fixture_t f;
    fixture_open(&f, name);
    blip_model_t *m = fixture_model(&f, NULL);
    blip_batch_t b = fixture_batch(&f);
    blip_zero_grad(m);
    blip_forward(m, &b);
    blip_backward(m);
    float *g = xmalloc(m->nfloats * sizeof *g);
    be_download(g, m->g, m->nfloats * sizeof *g);
    /* Attention key biases have an analytically zero gradient (softmax
     * ignores a per-row constant): both sides are rounding noise, so each
     * tensor's max is floored at 1e-5 of the largest gradient anywhere. */
    double gmax = 0.0;
    for (size_t i = 0; i < m->nparams; i++) {
        char *key = xasprintf("grad.%s", m->params[i].name);
        size_t n;
        float *want = f32(&f.exp, key, &n);
        for (size_t j = 0; j < n; j++) gmax = fmax(gmax, fabs(want[j]));
        free(want);
        free(key);
    }
    double worst = 0.0;
    const char *worst_name = "";
    for (size_t i = 0; i < m->nparams; i++) {
        const blip_param_t *p = &m->params[i];
        char *key = xasprintf("grad.%s", p->name);
        size_t n;
        float *want = f32(&f.exp, key, &n);
        CHECK_EQ_INT(n, p->n);
        double e = rel_err_floor(g + p->off, want, p->n, 1e-5 * gmax);
        CHECK_MSG(e < 1e-4, "%s: %s: gradient max rel err %.3g", name, p->name, e);
        if (e > worst) worst = e, worst_name = p->name;
        free(want);
        free(key);
    }
    note(1, "%s: worst gradient %s %.3g", name, worst_name, worst);
    free(g);
    blip_model_free(m);
    fixture_close(&f);
}

TEST(model_grads_odd) { check_grads("odd"); }
TEST(model_grads_wide) { check_grads("wide"); }

/* 10 AdamW steps (lr 1e-3, wd 0.05 on everything) like the fixture script. */
static void train10(blip_model_t *m, fixture_t *f, float *losses) {
    adamw_cfg_t oc;
    adamw_defaults(&oc);
    blip_batch_t b = fixture_batch(f);
    for (int step = 1; step <= 10; step++) {
        blip_zero_grad(m);
        losses[step - 1] = blip_forward(m, &b);
        blip_backward(m);
        blip_adamw_step(m, &oc, 1e-3f, step);
    }
}

static void check_adamw(const char *name) {
    fixture_t f;
    fixture_open(&f, name);
    blip_model_t *m = fixture_model(&f, NULL);
    float got[10];
    train10(m, &f, got);
    float *want = f32(&f.exp, "adamw_losses", NULL);
    double worst = 0.0;
    for (int i = 0; i < 10; i++) worst = fmax(worst, fabs(got[i] - want[i]) / fabs(want[i]));
    note(1, "%s: 10 AdamW losses max rel err %.3g", name, worst);
    for (int i = 0; i < 10; i++)
        CHECK_MSG(fabs(got[i] - want[i]) < 1e-5 * fabs(want[i]), "%s: step %d loss %.8f vs %.8f",
                  name, i + 1, got[i], want[i]);
    free(want);
    blip_batch_t b = fixture_batch(&f);
    blip_forward(m, &b);
    double e = logits_err(m, &f, "logits_after");
    CHECK_MSG(e < 1e-4, "%s: logits after 10 steps: max rel err %.3g", name, e);

    /* save, reload: the same logits; BLIP_SAVE_DIR keeps the directory for
     * make_model_fixtures.py --check-saved (from_pretrained parity) */
    const char *keep = getenv("BLIP_SAVE_DIR");
    char *dir = keep && *keep ? xasprintf("%s/%s", keep, name) : xasprintf("/tmp/blip-test-model-%d", getpid());
    blip_model_save(m, dir);
    blip_model_t *r = fixture_model(&f, dir);
    blip_forward(r, &b);
    size_t n = (size_t)f.B * f.T * f.cfg.vocab;
    float *l1 = xmalloc(n * sizeof *l1), *l2 = xmalloc(n * sizeof *l2);
    blip_get_logits(m, l1);
    blip_get_logits(r, l2);
    CHECK_MSG(memcmp(l1, l2, n * sizeof *l1) == 0, "%s: reloaded model gives other logits", name);
    char *vocab = path_join(dir, "vocab.txt");
    CHECK_MSG(access(vocab, R_OK) == 0, "%s: vocab.txt not copied", name);
    free(vocab);
    if (!(keep && *keep)) {
        char *p = path_join(dir, "model.safetensors");
        unlink(p);
        free(p);
        p = path_join(dir, "config.json");
        unlink(p);
        free(p);
        p = path_join(dir, "vocab.txt");
        unlink(p);
        free(p);
        rmdir(dir);
    }
    free(l1);
    free(l2);
    free(dir);
    blip_model_free(r);
    blip_model_free(m);
    fixture_close(&f);
}

TEST(model_adamw_odd) { check_adamw("odd"); }
TEST(model_adamw_wide) { check_adamw("wide"); }

/* The fixture weights split into two shards with an index, plus a tensor the
 * captioner does not use: same logits as the single file. */
TEST(model_sharded_checkpoint) {
    fixture_t f;
    fixture_open(&f, "odd");
    char *wpath = xasprintf("%s/model/model.safetensors", f.dir);
    st_set_t s;
    st_open(&s, wpath);
    float **bufs = xcalloc(s.n + 1, sizeof *bufs);
    st_out_t *out = xcalloc(s.n + 1, sizeof *out);
    for (size_t i = 0; i < s.n; i++) {
        bufs[i] = xmalloc(s.t[i].numel * sizeof(float));
        st_to_f32(&s.t[i], bufs[i]);
        out[i] = (st_out_t){.name = s.t[i].name, .data = bufs[i], .ndim = s.t[i].ndim};
        memcpy(out[i].shape, s.t[i].shape, sizeof out[i].shape);
    }
    float extra[2] = {1, 2};
    out[s.n] = (st_out_t){.name = "text_decoder.bert.pooler.dense.bias", .data = extra, .ndim = 1,
                          .shape = {2}};
    char *dir = xasprintf("/tmp/blip-test-shards-%d", getpid());
    mkdir_p(dir);
    size_t half = s.n / 2;
    char *p1 = path_join(dir, "model-00001-of-00002.safetensors");
    char *p2 = path_join(dir, "model-00002-of-00002.safetensors");
    char *pi = path_join(dir, "model.safetensors.index.json");
    st_write(p1, out, half);
    st_write(p2, out + half, s.n + 1 - half);
    json_t *wm = json_object();
    for (size_t i = 0; i <= s.n; i++)
        json_object_set_new(wm, out[i].name, json_string(i < half ? "model-00001-of-00002.safetensors"
                                                                  : "model-00002-of-00002.safetensors"));
    json_t *idx = json_pack("{s:{}, s:o}", "metadata", "weight_map", wm);
    json_write_atomic(pi, idx);
    json_decref(idx);

    blip_model_t *a = fixture_model(&f, NULL), *b = fixture_model(&f, dir);
    blip_batch_t bt = fixture_batch(&f);
    blip_forward(a, &bt);
    blip_forward(b, &bt);
    size_t n = (size_t)f.B * f.T * f.cfg.vocab;
    float *la = xmalloc(n * sizeof *la), *lb = xmalloc(n * sizeof *lb);
    blip_get_logits(a, la);
    blip_get_logits(b, lb);
    CHECK(memcmp(la, lb, n * sizeof *la) == 0);
    unlink(p1);
    unlink(p2);
    unlink(pi);
    rmdir(dir);
    for (size_t i = 0; i < s.n; i++) free(bufs[i]);
    free(bufs);
    free(out);
    free(la);
    free(lb);
    free(p1);
    free(p2);
    free(pi);
    free(dir);
    free(wpath);
    st_close(&s);
    blip_model_free(a);
    blip_model_free(b);
    fixture_close(&f);
}

/* posembed_resize against torch.nn.functional.interpolate(bicubic). */
TEST(posembed_bicubic) {
    st_set_t s;
    st_open(&s, FIX "/interp.safetensors");
    int cases = 0;
    for (int i = 0;; i++) {
        char in_name[16], out_name[16];
        snprintf(in_name, sizeof in_name, "in.%d", i);
        snprintf(out_name, sizeof out_name, "out.%d", i);
        st_tensor_t *ti = st_find(&s, in_name), *to = st_find(&s, out_name);
        if (!ti || !to) break;
        int C = (int)ti->shape[2];
        int g_old = (int)lround(sqrt((double)(ti->shape[1] - 1)));
        int g_new = (int)lround(sqrt((double)(to->shape[1] - 1)));
        float *in = xmalloc(ti->numel * sizeof *in), *want = xmalloc(to->numel * sizeof *want);
        float *got = xmalloc(to->numel * sizeof *got);
        st_to_f32(ti, in);
        st_to_f32(to, want);
        posembed_resize(got, in, g_old, g_new, C);
        double e = rel_err(got, want, to->numel);
        CHECK_MSG(e < 1e-6, "case %d (%d -> %d): max rel err %.3g", i, g_old, g_new, e);
        free(in);
        free(want);
        free(got);
        cases++;
    }
    CHECK_EQ_INT(cases, 4);
    st_close(&s);
}

/* Loading the 48 px fixture into an 80 px model resamples the 3x3 grid of
 * position embeddings to 5x5 and keeps every other tensor. */
TEST(model_load_other_image_size) {
    fixture_t f;
    fixture_open(&f, "odd");
    blip_config_t big = f.cfg;
    big.image_size = 80;
    blip_model_t *m = blip_model_new(&big, 1, 4, 0);
    char *p = xasprintf("%s/model", f.dir);
    blip_model_load(m, p);
    free(p);
    const blip_param_t *pe = blip_param(m, "vision_model.embeddings.position_embedding");
    CHECK_EQ_INT(pe->shape[1], 26);
    int C = f.cfg.v_hidden;
    st_set_t s;
    p = xasprintf("%s/model/model.safetensors", f.dir);
    st_open(&s, p);
    free(p);
    float *src = xmalloc(10 * C * sizeof *src), *want = xmalloc(26 * C * sizeof *want);
    float *got = xmalloc(26 * C * sizeof *got);
    st_to_f32(st_find(&s, pe->name), src);
    posembed_resize(want, src, 3, 5, C);
    be_download(got, m->w + pe->off, 26 * C * sizeof *got);
    CHECK(memcmp(got, want, 26 * C * sizeof *got) == 0);
    CHECK(memcmp(got, src, C * sizeof *got) == 0); /* class entry kept */
    free(src);
    free(want);
    free(got);
    st_close(&s);
    blip_model_free(m);
    fixture_close(&f);
}

/* With dropout on, the same step replays the same masks, and central
 * differences of the loss agree with backward (so the backward pass applies
 * the masks the forward drew). */
TEST(model_dropout_gradcheck) {
    fixture_t f;
    fixture_open(&f, "odd");
    f.cfg.t_hidden_dropout = 0.1;
    f.cfg.t_attn_dropout = 0.1;
    f.cfg.v_attn_dropout = 0.1;
    blip_model_t *m = fixture_model(&f, NULL);
    m->dropout_seed = 1234;
    blip_batch_t b = fixture_batch(&f);
    blip_zero_grad(m);
    float l0 = blip_forward(m, &b);
    uint64_t step = m->dropout_step;
    blip_backward(m);
    m->dropout_step = step - 1;
    float l1 = blip_forward(m, &b);
    CHECK_MSG(l0 == l1, "replayed step: loss %.9g vs %.9g", l0, l1);
    float l2 = blip_forward(m, &b);
    CHECK_MSG(l2 != l1, "next step draws other masks");
    float *g = xmalloc(m->nfloats * sizeof *g), *w = xmalloc(m->nfloats * sizeof *w);
    be_download(g, m->g, m->nfloats * sizeof *g);
    be_download(w, m->w, m->nfloats * sizeof *w);
    const char *names[] = {"text_decoder.bert.encoder.layer.1.attention.output.dense.weight",
                           "text_decoder.bert.encoder.layer.0.crossattention.self.value.weight",
                           "vision_model.encoder.layers.1.mlp.fc1.weight",
                           "text_decoder.bert.embeddings.LayerNorm.weight",
                           "text_decoder.bert.encoder.layer.1.attention.self.query.weight",
                           "text_decoder.bert.encoder.layer.2.crossattention.self.query.weight"};
    for (size_t k = 0; k < ARRAY_LEN(names); k++) {
        const blip_param_t *p = blip_param(m, names[k]);
        size_t best = p->off;
        for (size_t j = p->off; j < p->off + p->n; j++)
            if (fabsf(g[j]) > fabsf(g[best])) best = j;
        const float h = 1e-2f;
        float lp, lm, orig = w[best];
        w[best] = orig + h;
        be_upload(m->w + best, w + best, sizeof(float));
        m->dropout_step = step - 1;
        lp = blip_forward(m, &b);
        w[best] = orig - h;
        be_upload(m->w + best, w + best, sizeof(float));
        m->dropout_step = step - 1;
        lm = blip_forward(m, &b);
        w[best] = orig;
        be_upload(m->w + best, w + best, sizeof(float));
        double fd = (lp - lm) / (2.0 * h);
        CHECK_MSG(fabs(fd - g[best]) < 2e-2 * fabs(g[best]) + 1e-6, "%s: backward %.6g vs %.6g",
                  names[k], g[best], fd);
    }
    free(g);
    free(w);
    blip_model_free(m);
    fixture_close(&f);
}

/* Incremental decoding reproduces HF's full-forward logits: each image twice
 * (2 beams), the 4 prompt tokens in one step, then one token per step up to
 * each caption's length (padding is never fed). */
TEST(model_decode_matches_forward) {
    fixture_t f;
    fixture_open(&f, "odd");
    blip_model_t *m = blip_model_new(&f.cfg, f.B, f.T, 0);
    char *p = xasprintf("%s/model", f.dir);
    blip_model_load(m, p);
    free(p);
    size_t n;
    float *want = f32(&f.exp, "logits", &n);
    int V = f.cfg.vocab, beams = 2, R = f.B * beams;
    blip_encode_image(m, f.pixels, f.B);
    blip_kv_t *kv = blip_kv_new(m, R, f.T);
    blip_kv_start(kv, f.B, beams);
    float *logits = xmalloc((size_t)R * V * sizeof *logits);
    int32_t *ids = xmalloc((size_t)R * 4 * sizeof *ids);
    double worst = 0.0;
    for (int t = 0, n_new = 4; t < f.T; t += n_new, n_new = 1) {
        for (int r = 0; r < R; r++)
            for (int k = 0; k < n_new; k++) ids[r * n_new + k] = f.ids[(r / beams) * f.T + t + k];
        blip_kv_step(kv, ids, n_new, logits);
        int pos = t + n_new - 1;
        for (int r = 0; r < R; r++) {
            int b = r / beams;
            if (!f.mask[b * f.T + pos]) continue;
            double e = rel_err(logits + (size_t)r * V, want + ((size_t)b * f.T + pos) * V, (size_t)V);
            worst = fmax(worst, e);
        }
    }
    CHECK_EQ_INT(blip_kv_len(kv), f.T);
    CHECK_MSG(worst < 1e-5, "incremental logits max rel err %.3g", worst);
    note(1, "decode: incremental logits max rel err %.3g", worst);
    free(ids);
    free(logits);
    free(want);
    blip_kv_free(kv);
    blip_model_free(m);
    fixture_close(&f);
}

/* After blip_kv_reorder, rows continue the histories they were given: a
 * cache fed (A, B) then swapped equals one fed (B, A) from the start. */
TEST(model_decode_reorder) {
    fixture_t f;
    fixture_open(&f, "wide");
    blip_model_t *m = blip_model_new(&f.cfg, 1, f.T, 0);
    char *p = xasprintf("%s/model", f.dir);
    blip_model_load(m, p);
    free(p);
    int V = f.cfg.vocab;
    blip_encode_image(m, f.pixels, 1);
    blip_kv_t *x = blip_kv_new(m, 2, 8), *y = blip_kv_new(m, 2, 8);
    blip_kv_start(x, 1, 2);
    blip_kv_start(y, 1, 2);
    int32_t a[3] = {f.cfg.bos_id, 7, 9}, b[3] = {f.cfg.bos_id, 11, 5};
    float *lx = xmalloc(2 * (size_t)V * sizeof *lx), *ly = xmalloc(2 * (size_t)V * sizeof *ly);
    for (int t = 0; t < 3; t++) {
        int32_t ab[2] = {a[t], b[t]}, ba[2] = {b[t], a[t]};
        blip_kv_step(x, ab, 1, lx);
        blip_kv_step(y, ba, 1, ly);
    }
    CHECK(memcmp(lx, ly + V, (size_t)V * sizeof *lx) == 0); /* rows differ before the swap */
    blip_kv_reorder(x, (const int32_t[]){1, 0});
    int32_t next[2] = {13, 17};
    blip_kv_step(x, next, 1, lx);
    blip_kv_step(y, next, 1, ly);
    CHECK(memcmp(lx, ly, 2 * (size_t)V * sizeof *lx) == 0);
    free(lx);
    free(ly);
    blip_kv_free(x);
    blip_kv_free(y);
    blip_model_free(m);
    fixture_close(&f);
}

static float *download_weights(blip_model_t *m) {
    float *w = xmalloc(m->nfloats * sizeof *w);
    be_download(w, m->w, m->nfloats * sizeof *w);
    return w;
}

/* BLIP's schedules; accumulation averages; clipping scales; decay exemption. */
TEST(optim_schedule_accum_clip_decay) {
    const double cosine[5] = {1e-5, 9.045e-6, 6.545e-6, 3.455e-6, 9.55e-7};
    for (int e = 0; e < 5; e++) CHECK_NEAR(lr_cosine(1e-5, 0, e, 5), cosine[e], 1e-9);
    CHECK_NEAR(lr_warmup(1e-6, 1e-5, 0, 10), 1e-6, 1e-15);
    CHECK_NEAR(lr_warmup(1e-6, 1e-5, 5, 10), 5.5e-6, 1e-15);
    CHECK_NEAR(lr_warmup(1e-6, 1e-5, 20, 10), 1e-5, 1e-15);

    fixture_t f;
    fixture_open(&f, "wide");
    blip_batch_t b = fixture_batch(&f);
    adamw_cfg_t oc;
    adamw_defaults(&oc);
    /* the same batch accumulated twice with accum 2 == once with accum 1 (up
     * to the rounding of adding into the first batch's gradients) */
    blip_model_t *one = fixture_model(&f, NULL), *two = fixture_model(&f, NULL);
    blip_zero_grad(one);
    blip_forward(one, &b);
    blip_backward(one);
    float n1 = blip_adamw_step(one, &oc, 1e-3f, 1);
    blip_zero_grad(two);
    for (int i = 0; i < 2; i++) {
        blip_forward(two, &b);
        blip_backward(two);
    }
    oc.accum = 2;
    float n2 = blip_adamw_step(two, &oc, 1e-3f, 1);
    float *w1 = download_weights(one), *w2 = download_weights(two);
    double e = rel_err(w2, w1, one->nfloats);
    CHECK_MSG(e < 1e-6, "accumulated step: weights max rel err %.3g", e);
    CHECK_MSG(fabs(n1 - n2) < 1e-6 * n1, "norms %.9g vs %.9g", n1, n2);
    free(w2);

    /* clipping to half the norm == an unclipped step on halved gradients */
    blip_model_t *clip = fixture_model(&f, NULL), *half = fixture_model(&f, NULL);
    adamw_defaults(&oc);
    blip_zero_grad(clip);
    blip_forward(clip, &b);
    blip_backward(clip);
    float norm = blip_grad_norm(clip);
    CHECK_NEAR(norm, n1, 1e-6 * n1);
    oc.clip = norm / 2;
    blip_adamw_step(clip, &oc, 1e-3f, 1);
    blip_zero_grad(half);
    blip_forward(half, &b);
    blip_backward(half);
    op_scale(half->g, oc.clip / (norm + 1e-6f), half->nfloats);
    oc.clip = 0;
    blip_adamw_step(half, &oc, 1e-3f, 1);
    float *wc = download_weights(clip), *wh = download_weights(half);
    CHECK(memcmp(wc, wh, clip->nfloats * sizeof *wc) == 0);
    CHECK(memcmp(wc, w1, clip->nfloats * sizeof *wc) != 0);

    /* zero gradients, decay only on weights: biases/norms/embeddings stay */
    blip_model_t *d = fixture_model(&f, NULL);
    float *before = download_weights(d);
    blip_zero_grad(d);
    oc.decay_all = 0;
    oc.weight_decay = 0.5f;
    blip_adamw_step(d, &oc, 0.1f, 1);
    float *after = download_weights(d);
    for (size_t i = 0; i < d->nparams; i++) {
        const blip_param_t *p = &d->params[i];
        float want = p->kind == PK_WEIGHT ? before[p->off] * (1.0f - 0.1f * 0.5f) : before[p->off];
        CHECK_MSG(after[p->off] == want, "%s: %.9g, expected %.9g", p->name, after[p->off], want);
    }
    free(before);
    free(after);
    free(w1);
    free(wc);
    free(wh);
    blip_model_free(one);
    blip_model_free(two);
    blip_model_free(clip);
    blip_model_free(half);
    blip_model_free(d);
    fixture_close(&f);
}

/* A bf16 checkpoint made for 32 px images loaded into a 48 px model gives
 * HF's logits with interpolate_pos_encoding=True (bicubic resampling of the
 * position embedding, bf16 weights widened exactly). */
TEST(model_bf16_checkpoint_at_larger_size) {
    fixture_t f;
    fixture_open(&f, "resample");
    CHECK_EQ_INT(f.cfg.image_size, 32);
    f.cfg.image_size = 48;
    blip_model_t *m = fixture_model(&f, NULL);
    blip_batch_t b = fixture_batch(&f);
    b.labels = NULL;
    blip_forward(m, &b);
    double e = logits_err(m, &f, "logits");
    CHECK_MSG(e < 1e-5, "logits max rel err %.3g", e);
    note(1, "resample: bf16 32 px -> 48 px logits max rel err %.3g", e);
    blip_model_free(m);
    fixture_close(&f);
}
