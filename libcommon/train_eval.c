/* train_eval.c - validation captions and scores during training. */
#include "train_eval.h"

#include <string.h>

#include "caption.h"
#include "err.h"
#include "jsonio.h"
#include "loader.h"
#include "model_decode.h"
#include "shard.h"

struct val_set {
    val_opts_t o;
    shard_set_t *shards;
    size_t n;
    int64_t *ids;        /* [n] image ids in shard order */
    char ***refs;        /* [n][nrefs[i]] reference captions */
    size_t *nrefs;
};

void val_check(const val_opts_t *o) {
    if (o->num_beams != 1)
        usage_die("num_beams %d: this build captions validation images greedily; "
                  "use --set num_beams=1", o->num_beams);
}

val_set_t *val_open(const char *path, const val_opts_t *o) {
    val_set_t *vs = xcalloc(1, sizeof *vs);
    vs->o = *o;
    shard_set_t *s = shard_open(path);
    if (shard_is_stream(s)) die("%s: validation needs shard files, not a stream", path);
    shard_record_t rec = {0};
    DA(int64_t) ids = {0};
    DA(char **) refs = {0};
    DA(size_t) nrefs = {0};
    while (shard_next(s, &rec)) {
        if (rec.ncaps == 0) die("%s: image %lld has no reference captions", path, (long long)rec.image_id);
        char **r = xmalloc(rec.ncaps * sizeof *r);
        for (uint32_t k = 0; k < rec.ncaps; k++) r[k] = xstrdup(rec.caps[k].text);
        da_push(&ids, rec.image_id);
        da_push(&refs, r);
        da_push(&nrefs, (size_t)rec.ncaps);
    }
    shard_record_free(&rec);
    shard_close(s);
    if (!ids.n) die("%s: no validation images", path);
    vs->n = ids.n, vs->ids = ids.v, vs->refs = refs.v, vs->nrefs = nrefs.v;
    vs->shards = shard_open(path);
    return vs;
}

size_t val_images(const val_set_t *vs) { return vs->n; }

void val_free(val_set_t *vs) {
    if (!vs) return;
    for (size_t i = 0; i < vs->n; i++) {
        for (size_t k = 0; k < vs->nrefs[i]; k++) free(vs->refs[i][k]);
        free(vs->refs[i]);
    }
    free(vs->refs);
    free(vs->nrefs);
    free(vs->ids);
    shard_close(vs->shards);
    free(vs);
}

/* Greedy decoding of the B images just encoded: caps[b] gets new strings.
 * logits [B, V] and ids [B, max_length] are host scratch. */
static void greedy(blip_kv_t *kv, const blip_model_t *m, const tokenizer_t *tok, const val_opts_t *o,
                   int B, float *logits, int32_t *ids, char **caps) {
    tok_ids_t prompt = {0};
    caption_prompt_ids(tok, &prompt);
    int P = (int)prompt.n, L = o->max_length, V = m->cfg.vocab, sep = tok->id.sep;
    int32_t *step_ids = xmalloc((size_t)B * P * sizeof *step_ids);
    int *len = xmalloc((size_t)B * sizeof *len);
    for (int b = 0; b < B; b++) {
        memcpy(step_ids + (size_t)b * P, prompt.v, (size_t)P * sizeof *step_ids);
        memcpy(ids + (size_t)b * L, prompt.v, (size_t)P * sizeof *ids);
        len[b] = -1; /* running */
    }
    blip_kv_start(kv, B, 1);
    blip_kv_step(kv, step_ids, P, logits);
    int running = B;
    for (int cur = P; cur < L && running > 0; cur++) {
        for (int b = 0; b < B; b++) {
            const float *lg = logits + (size_t)b * V;
            int best = -1;
            for (int v = 0; v < V; v++)
                if ((v != sep || cur >= o->min_length) && (best < 0 || lg[v] > lg[best])) best = v;
            /* finished rows keep feeding [PAD], as generate() pads them */
            int32_t t = len[b] >= 0 ? tok->id.pad : best;
            ids[(size_t)b * L + cur] = step_ids[b] = t;
            if (len[b] < 0 && (t == sep || cur + 1 == L)) len[b] = cur + 1, running--;
        }
        if (running > 0) blip_kv_step(kv, step_ids, 1, logits);
    }
    for (int b = 0; b < B; b++)
        caps[b] = caption_from_ids(tok, ids + (size_t)b * L, (size_t)(len[b] < 0 ? L : len[b]));
    free(len);
    free(step_ids);
    free(prompt.v);
}

static void write_results(const char *path, const int64_t *ids, char *const *caps, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s}", "image_id", (json_int_t)ids[i], "caption", caps[i]));
    json_write_atomic(path, arr);
    json_decref(arr);
}

void val_run(val_set_t *vs, blip_model_t *m, const tokenizer_t *tok, const char *results_path,
             scores_t *scores) {
    const val_opts_t *o = &vs->o;
    int B = o->batch_size < m->max_B ? o->batch_size : m->max_B;
    loader_cfg_t lc = {.image_size = o->image_size, .batch_size = B, .threads = o->threads,
                       .prefetch = 2, .train = 0, .world = 1};
    loader_t *l = loader_new(vs->shards, &lc);
    blip_kv_t *kv = blip_kv_new(m, B, o->max_length);
    float *logits = xmalloc((size_t)B * m->cfg.vocab * sizeof *logits);
    int32_t *ids = xmalloc((size_t)B * o->max_length * sizeof *ids);
    char **caps = xcalloc(vs->n, sizeof *caps);
    int training = m->training;
    m->training = 0;
    loader_start(l, 0, 0);
    size_t done = 0;
    const batch_t *b;
    while ((b = loader_next(l))) {
        for (int i = 0; i < b->B; i++)
            if (done + (size_t)i >= vs->n || b->image_ids[i] != vs->ids[done + (size_t)i])
                die("validation: image order differs between reads of the shards");
        blip_encode_image(m, b->pixels, b->B);
        greedy(kv, m, tok, o, b->B, logits, ids, caps + done);
        done += (size_t)b->B;
    }
    m->training = training;
    if (done != vs->n) die("validation: %zu of %zu images captioned", done, vs->n);
    write_results(results_path, vs->ids, caps, vs->n);
    score_captions(vs->ids, (const char *const *)caps, (const char *const *const *)vs->refs, vs->nrefs,
                   vs->n, METRIC_ALL, scores, NULL, NULL);
    for (size_t i = 0; i < vs->n; i++) free(caps[i]);
    free(caps);
    free(ids);
    free(logits);
    blip_kv_free(kv);
    loader_free(l);
}
