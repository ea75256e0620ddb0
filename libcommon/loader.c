/* loader.c - batches from shards: a producer thread fills a ring of batch
 * slots, spreading each batch's samples over a thread pool (see loader.h). */
#include "loader.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "err.h"
#include "image.h"
#include "pool.h"
#include "rng.h"

#define SHUFFLE_STREAM 0x53485546464C45ull /* "SHUFFLE" */

typedef struct {
    batch_t b;
    char **texts;  /* [B] captions of the batch (train) */
} slot_t;

struct loader {
    shard_set_t *shards;
    loader_cfg_t cfg;
    train_aug_t aug;     /* cfg.aug or BLIP's */
    uint64_t n;          /* pairs (train) or images (eval) */
    uint32_t *pair_rec;  /* [n] record of each training pair */
    uint16_t *pair_cap;  /* [n] caption index within the record */
    uint64_t *perm;      /* [n] this epoch's order (train) */
    pool_t *pool;
    shard_record_t *recs; /* one per pool worker */
    /* producer and queue */
    pthread_t thread;
    int running, stop;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    slot_t *slots;
    int nslots;
    uint64_t epoch, next_step, end_step; /* steps still to produce: [next_step, end_step) */
    uint64_t produced, consumed, expected; /* batches in this run */
    int holding;                          /* consumer holds the last slot it got */
};

static uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint64_t loader_samples(const loader_t *l) { return l->n; }

uint64_t loader_steps_per_epoch(const loader_t *l) {
    uint64_t B = (uint64_t)l->cfg.batch_size, W = (uint64_t)l->cfg.world, r = (uint64_t)l->cfg.rank;
    if (l->cfg.train) return l->n / (B * W); /* drop_last over the global batch */
    uint64_t global = div_up(l->n, B);       /* eval: rank r takes batches r, r+W, ... */
    return global > r ? div_up(global - r, W) : 0;
}

/* Sample positions of this rank's batch `step`: [first, first + count). */
static void batch_span(const loader_t *l, uint64_t step, uint64_t *first, int *count) {
    uint64_t B = (uint64_t)l->cfg.batch_size, W = (uint64_t)l->cfg.world, r = (uint64_t)l->cfg.rank;
    if (l->cfg.train) {
        *first = step * B * W + r * B;
        *count = (int)B;
    } else {
        *first = (step * W + r) * B;
        *count = (int)(l->n - *first < B ? l->n - *first : B);
    }
}

typedef struct {
    loader_t *l;
    slot_t *s;
    uint64_t first;
} job_t;

/* The crop c, drawn on the record's width x height, in the pixels of the
 * decoded part p (mapped onto the decode's scale by crop_rescale). The part
 * covers it unless the record's size is not the image's. */
static crop_t crop_in_part(const shard_record_t *rec, crop_t c, const image_part_t *p) {
    image_t full = {.w = p->full_w, .h = p->full_h};
    crop_t s = crop_rescale(c, (int)rec->width, (int)rec->height, &full);
    if (s.x < p->x + p->lo || s.y < p->y || s.x + s.w > p->x + p->im.w - p->hi || s.y + s.h > p->y + p->im.h)
        die("image %lld (%s): the shard says %ux%u, the image is not that size", (long long)rec->image_id,
            rec->file_name, rec->width, rec->height);
    return (crop_t){s.x - p->x, s.y - p->y, s.w, s.h};
}

/* BLIP's train transform of a record into px [3, S, S], decoding only the
 * part of the image around its crop. Returns 0, or -1 with err. */
static int train_sample(const loader_t *l, const shard_record_t *rec, rng_t *r, float *px, char *err, size_t errlen) {
    int S = l->cfg.image_size, W = (int)rec->width, H = (int)rec->height;
    crop_t c = random_resized_crop(r, W, H, l->aug.min_scale, 1.0, 3.0 / 4.0, 4.0 / 3.0);
    /* decode no larger than the crop needs to still reach S x S */
    int min_w = (int)ceil((double)S * W / c.w), min_h = (int)ceil((double)S * H / c.h);
    image_part_t src;
    image_t im;
    if (image_decode_part(rec->image, rec->image_len, min_w, min_h, &(image_rect_t){c.x, c.y, c.w, c.h}, &src, err,
                          errlen) != 0)
        return -1;
    train_transform(&src.im, crop_in_part(rec, c, &src), S, &l->aug, r, &im);
    normalize_chw(&im, px);
    image_free(&src.im);
    image_free(&im);
    return 0;
}

static void make_sample(void *ctx, size_t i, int worker) {
    job_t *j = ctx;
    loader_t *l = j->l;
    int S = l->cfg.image_size;
    uint64_t pos = j->first + i;
    uint64_t idx = l->cfg.train ? l->perm[pos] : pos;
    size_t rec_i = l->cfg.train ? l->pair_rec[idx] : (size_t)idx;
    shard_record_t *rec = &l->recs[worker];
    shard_get(l->shards, rec_i, rec);
    rng_t r;
    rng_init(&r, l->cfg.seed, rng_mix(l->epoch, pos));
    float *px = j->s->b.pixels + i * 3 * (size_t)S * S;
    char err[256];
    int rc = l->cfg.train ? train_sample(l, rec, &r, px, err, sizeof err)
                          : test_transform(rec->image, rec->image_len, S, px, err, sizeof err);
    if (rc != 0) die("image %lld (%s): %s", (long long)rec->image_id, rec->file_name, err);
    if (l->cfg.train) j->s->texts[i] = xstrdup(rec->caps[l->pair_cap[idx]].text);
    j->s->b.image_ids[i] = rec->image_id;
}

static void fill_slot(loader_t *l, slot_t *s, uint64_t step) {
    uint64_t first;
    int count;
    batch_span(l, step, &first, &count);
    s->b.B = count;
    s->b.epoch = l->epoch;
    s->b.step = step;
    job_t j = {l, s, first};
    pool_for(l->pool, (size_t)count, make_sample, &j);
    if (l->cfg.train) {
        caption_batch_free(&s->b.caps);
        caption_batch(l->cfg.tok, (const char *const *)s->texts, count, &s->b.caps);
        for (int i = 0; i < count; i++) free(s->texts[i]);
    }
}

static void *producer(void *arg) {
    loader_t *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop && l->next_step < l->end_step) {
        /* a free slot: not queued and not held by the consumer */
        while (!l->stop && l->produced - l->consumed + (uint64_t)l->holding >= (uint64_t)l->nslots)
            pthread_cond_wait(&l->changed, &l->mu);
        if (l->stop) break;
        slot_t *s = &l->slots[l->produced % (uint64_t)l->nslots];
        uint64_t step = l->next_step++;
        pthread_mutex_unlock(&l->mu);
        fill_slot(l, s, step);
        pthread_mutex_lock(&l->mu);
        l->produced++;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void stop_producer(loader_t *l) {
    if (!l->running) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    l->running = 0;
}

static void shuffle(loader_t *l, uint64_t epoch) {
    rng_t r;
    rng_init(&r, l->cfg.seed, rng_mix(epoch, SHUFFLE_STREAM));
    for (uint64_t i = 0; i < l->n; i++) l->perm[i] = i;
    for (uint64_t i = l->n; i > 1; i--) { /* Fisher-Yates */
        uint64_t k = rng_u64(&r) % i, t = l->perm[i - 1];
        l->perm[i - 1] = l->perm[k];
        l->perm[k] = t;
    }
}

void loader_start(loader_t *l, uint64_t epoch, uint64_t first_step) {
    stop_producer(l);
    if (l->cfg.train) shuffle(l, epoch);
    l->epoch = epoch;
    l->next_step = first_step;
    l->end_step = loader_steps_per_epoch(l);
    l->produced = l->consumed = 0;
    l->expected = first_step < l->end_step ? l->end_step - first_step : 0;
    l->holding = 0;
    l->stop = 0;
    if (first_step >= l->end_step) return;
    if (pthread_create(&l->thread, NULL, producer, l) != 0) die("cannot start the data loader thread");
    l->running = 1;
}

const batch_t *loader_next(loader_t *l) {
    pthread_mutex_lock(&l->mu);
    if (l->holding) {
        l->holding = 0;
        l->consumed++;
        pthread_cond_broadcast(&l->changed);
    }
    const batch_t *b = NULL;
    for (;;) {
        if (l->produced > l->consumed) {
            b = &l->slots[l->consumed % (uint64_t)l->nslots].b;
            l->holding = 1;
            break;
        }
        if (l->consumed >= l->expected) break; /* the epoch is done */
        pthread_cond_wait(&l->changed, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return b;
}

static void build_pairs(loader_t *l) {
    size_t nrec = shard_count(l->shards);
    if (!l->cfg.train) {
        l->n = nrec;
        return;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < nrec; i++) n += shard_ncaps(l->shards, i);
    l->pair_rec = xmalloc((n ? n : 1) * sizeof *l->pair_rec);
    l->pair_cap = xmalloc((n ? n : 1) * sizeof *l->pair_cap);
    l->perm = xmalloc((n ? n : 1) * sizeof *l->perm);
    uint64_t k = 0;
    for (size_t i = 0; i < nrec; i++) {
        uint32_t nc = shard_ncaps(l->shards, i);
        if (nc > UINT16_MAX) die("record %zu has %u captions; at most %d are supported", i, nc, UINT16_MAX);
        for (uint32_t c = 0; c < nc; c++, k++) {
            l->pair_rec[k] = (uint32_t)i;
            l->pair_cap[k] = (uint16_t)c;
        }
    }
    l->n = n;
}

loader_t *loader_new(shard_set_t *shards, const loader_cfg_t *cfg) {
    if (shard_is_stream(shards)) die("the data loader needs shard files, not a stream");
    if (cfg->image_size < 1 || cfg->batch_size < 1 || cfg->world < 1 || cfg->rank < 0 || cfg->rank >= cfg->world)
        die("loader: bad configuration (image_size %d, batch_size %d, rank %d of %d)", cfg->image_size,
            cfg->batch_size, cfg->rank, cfg->world);
    if (cfg->train && !cfg->tok) die("loader: training batches need a tokenizer");
    /* Per-sample image buffers are large (MBs): keep freed memory in the heap
     * instead of returning it to the kernel and faulting it in again (32 MB
     * is the largest mmap threshold glibc accepts; mallopt refuses more). */
    if (!mallopt(M_MMAP_THRESHOLD, 32 << 20) || !mallopt(M_TRIM_THRESHOLD, 512 << 20))
        note(1, "loader: mallopt refused the heap thresholds (not glibc's malloc?)");
    loader_t *l = xcalloc(1, sizeof *l);
    l->shards = shards;
    l->cfg = *cfg;
    l->aug = cfg->aug ? *cfg->aug : TRAIN_AUG_BLIP;
    l->cfg.aug = NULL; /* the caller's may not outlive the loader */
    build_pairs(l);
    l->pool = pool_new(cfg->threads);
    l->recs = xcalloc((size_t)pool_size(l->pool), sizeof *l->recs);
    l->nslots = (cfg->prefetch > 0 ? cfg->prefetch : 1) + 1;
    l->slots = xcalloc((size_t)l->nslots, sizeof *l->slots);
    size_t S = (size_t)cfg->image_size, B = (size_t)cfg->batch_size;
    for (int i = 0; i < l->nslots; i++) {
        l->slots[i].b.size = cfg->image_size;
        l->slots[i].b.pixels = xmalloc(B * 3 * S * S * sizeof(float));
        l->slots[i].b.image_ids = xmalloc(B * sizeof(int64_t));
        l->slots[i].texts = xcalloc(B, sizeof(char *));
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->changed, NULL);
    return l;
}

void loader_free(loader_t *l) {
    if (!l) return;
    stop_producer(l);
    for (int i = 0; i < l->nslots; i++) {
        free(l->slots[i].b.pixels);
        free(l->slots[i].b.image_ids);
        caption_batch_free(&l->slots[i].b.caps);
        free(l->slots[i].texts);
    }
    for (int i = 0; i < pool_size(l->pool); i++) shard_record_free(&l->recs[i]);
    free(l->recs);
    free(l->slots);
    pool_free(l->pool);
    free(l->pair_rec);
    free(l->pair_cap);
    free(l->perm);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->changed);
    free(l);
}
