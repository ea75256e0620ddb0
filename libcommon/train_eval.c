/* train_eval.c - validation captions and scores during training. */
#include "train_eval.h"

#include <string.h>

#include "caption.h"
#include "err.h"
#include "jsonio.h"
#include "loader.h"
#include "generate.h"
#include "shard.h"

struct val_set {
    val_opts_t o;
    shard_set_t *shards;
    size_t n;
    int64_t *ids;        /* [n] image ids in shard order */
    char ***refs;        /* [n][nrefs[i]] reference captions */
    size_t *nrefs;
};

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

static void write_results(const char *path, const int64_t *ids, char *const *caps, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:s}", "image_id", (json_int_t)ids[i], "caption", caps[i]));
    json_write_atomic(path, arr);
    json_decref(arr);
}

/* Image positions of global batch k of B: [k*B, min((k+1)*B, n)). */
static size_t batch_len(size_t n, size_t B, size_t k) { return n - k * B < B ? n - k * B : B; }

typedef DA(char) text_buf_t;

/* Captions of this rank's batches, each with its terminating NUL, in order. */
static void caption_share(val_set_t *vs, blip_model_t *m, const tokenizer_t *tok, int B, int rank, int world,
                          text_buf_t *share) {
    const val_opts_t *o = &vs->o;
    loader_cfg_t lc = {.image_size = o->image_size, .batch_size = B, .threads = o->threads,
                       .prefetch = 2, .train = 0, .rank = rank, .world = world};
    loader_t *l = loader_new(vs->shards, &lc);
    gen_cfg_t gc;
    gen_cfg_blip(&gc, &m->cfg);
    gc.beams = o->num_beams, gc.max_length = o->max_length, gc.min_length = o->min_length;
    char err[256];
    if (gen_cfg_check(&gc, &m->cfg, err, sizeof err) != 0) die("validation: %s", err);
    gen_t *g = gen_new(m, &gc, B);
    tok_ids_t prompt = {0};
    caption_prompt_ids(tok, &prompt);
    gen_out_t *out = xcalloc((size_t)B, sizeof *out);
    loader_start(l, 0, 0);
    const batch_t *b;
    while ((b = loader_next(l))) {
        size_t first = (b->step * (uint64_t)world + (uint64_t)rank) * (size_t)B;
        for (int i = 0; i < b->B; i++)
            if (first + (size_t)i >= vs->n || b->image_ids[i] != vs->ids[first + (size_t)i])
                die("validation: image order differs between reads of the shards");
        gen_run(g, b->pixels, b->B, prompt.v, (int)prompt.n, first, out);
        for (int i = 0; i < b->B; i++) {
            char *c = caption_from_ids(tok, out[i].ids, (size_t)out[i].n);
            size_t len = strlen(c) + 1;
            da_reserve(share, share->n + len);
            memcpy(share->v + share->n, c, len);
            share->n += len;
            free(c);
        }
        gen_out_free(out, b->B);
    }
    free(out);
    free(prompt.v);
    gen_free(g);
    loader_free(l);
}

void val_run(val_set_t *vs, blip_model_t *m, const tokenizer_t *tok, comm_t *comm,
             const char *results_path, scores_t *scores) {
    int B = vs->o.batch_size < m->max_B ? vs->o.batch_size : m->max_B;
    int rank = comm_rank(comm), W = comm_world(comm);
    int training = m->training;
    m->training = 0;
    text_buf_t share = {0};
    caption_share(vs, m, tok, B, rank, W, &share);
    m->training = training;
    size_t total;
    char *all = comm_allgather(comm, share.v, share.n, &total);
    free(share.v);
    memset(scores, 0, sizeof *scores);
    if (rank == 0) {
        /* rank r's captions: those of the batches k = r, r + W, ... in order */
        char **caps = xcalloc(vs->n, sizeof *caps);
        size_t nb = (vs->n + (size_t)B - 1) / (size_t)B, off = 0;
        for (int r = 0; r < W; r++)
            for (size_t k = (size_t)r; k < nb; k += (size_t)W)
                for (size_t i = 0; i < batch_len(vs->n, (size_t)B, k); i++) {
                    if (off >= total) die("validation: %zu bytes of captions gathered, too few", total);
                    caps[k * (size_t)B + i] = all + off;
                    off += strlen(all + off) + 1;
                }
        write_results(results_path, vs->ids, caps, vs->n);
        score_captions(vs->ids, (const char *const *)caps, (const char *const *const *)vs->refs, vs->nrefs,
                       vs->n, METRIC_ALL, scores, NULL, NULL);
        free(caps);
    }
    free(all);
}
