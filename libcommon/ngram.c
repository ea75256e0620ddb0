/* ngram.c - captions as interned words and n-gram counts for the metrics.
 *
 * Words are split like Python's str.split() (BLEU, CIDEr) or str.split(" ")
 * (ROUGE-L) and interned to ids; 1..4-grams of word ids are interned to
 * n-gram ids, so every metric compares integers. Sentence counts keep
 * pycocoevalcap's dict insertion order, which fixes CIDEr's summation order. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "err.h"
#include "metrics_internal.h"
#include "ptbtok.h"

/* --- words --------------------------------------------------------------------- */

struct wordtab {
    uint32_t *slot;     /* id + 1, 0 = empty */
    size_t nslots;
    DA(size_t) off;     /* word id -> offset in text */
    DA(uint32_t) len;
    DA(char) text;
};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static wordtab_t *wordtab_new(void) {
    wordtab_t *t = xcalloc(1, sizeof *t);
    t->nslots = 1024;
    t->slot = xcalloc(t->nslots, sizeof *t->slot);
    return t;
}

static void wordtab_free(wordtab_t *t) {
    if (!t) return;
    free(t->slot);
    free(t->off.v);
    free(t->len.v);
    free(t->text.v);
    free(t);
}

static void wordtab_grow(wordtab_t *t) {
    size_t ns = t->nslots * 2;
    uint32_t *slot = xcalloc(ns, sizeof *slot);
    for (uint32_t id = 0; id < t->off.n; id++) {
        size_t h = hash_bytes(t->text.v + t->off.v[id], t->len.v[id]) & (ns - 1);
        while (slot[h]) h = (h + 1) & (ns - 1);
        slot[h] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslots = ns;
}

/* memcmp(a, b, n) == 0 without a library call: words are short. */
static int same_bytes(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static uint32_t word_id(wordtab_t *t, const char *s, size_t n) {
    if (2 * (t->off.n + 1) > t->nslots) wordtab_grow(t);
    size_t h = hash_bytes(s, n) & (t->nslots - 1);
    for (; t->slot[h]; h = (h + 1) & (t->nslots - 1)) {
        uint32_t id = t->slot[h] - 1;
        if (t->len.v[id] == n && same_bytes(t->text.v + t->off.v[id], s, n)) return id;
    }
    uint32_t id = (uint32_t)t->off.n;
    da_push(&t->off, t->text.n);
    da_push(&t->len, (uint32_t)n);
    da_reserve(&t->text, t->text.n + n + 1);
    memcpy(t->text.v + t->text.n, s, n);
    t->text.n += n;
    t->slot[h] = id + 1;
    return id;
}

/* Python's str.split(" "): words between single spaces, empty ones kept.
 * *plain: whether str.split() gives the same words (no word empty, every
 * byte printable ASCII). */
static size_t split_space(wordtab_t *t, const char *s, uint32_t **ids, size_t *cap, int *plain) {
    size_t n = 0;
    *plain = 1;
    for (const char *p = s;;) {
        const char *e = p;
        while (*e > ' ' && *e < 0x7F) e++;
        if (*e && *e != ' ') {
            *plain = 0;
            while (*e && *e != ' ') e++;
        }
        if (e == p) *plain = 0;
        if (n == *cap) *ids = xrealloc(*ids, (*cap = *cap ? 2 * *cap : 32) * sizeof **ids);
        (*ids)[n++] = word_id(t, p, (size_t)(e - p));
        if (!*e) return n;
        p = e + 1;
    }
}

/* Python's str.split(): words between runs of Unicode whitespace. */
static size_t split_white(wordtab_t *t, const char *s, uint32_t **ids, size_t *cap) {
    size_t n = 0, i = 0, len = strlen(s), start = 0;
    int inword = 0;
    while (i <= len) {
        unsigned char b = i < len ? (unsigned char)s[i] : ' ';
        size_t adv = 1;
        int space;
        if (b < 0x80) {
            space = b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F);
        } else {
            utf8proc_int32_t u;
            utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &u);
            space = r > 0 && py_isspace(u);
            adv = r > 0 ? (size_t)r : 1;
        }
        if (space) {
            if (inword) {
                if (n == *cap) *ids = xrealloc(*ids, (*cap = *cap ? 2 * *cap : 32) * sizeof **ids);
                (*ids)[n++] = word_id(t, s + start, i - start);
            }
            inword = 0;
        } else if (!inword) {
            inword = 1;
            start = i;
        }
        i += adv;
    }
    return n;
}

/* --- n-grams ------------------------------------------------------------------- */

/* An n-gram is its (n-1)-gram's id and its last word: key (prefix << 32 |
 * word), with prefix NO_PREFIX for unigrams, so ids are exact and cheap. */
#define NO_PREFIX 0xFFFFFFFFu

struct grams {
    uint32_t *slot;      /* id + 1 */
    size_t nslots;
    DA(uint64_t) keys;
    DA(uint32_t) seen;   /* per id: sentence serial + 1 that last counted it */
    DA(uint32_t) pos;    /* per id: its index in that sentence's counts */
};
typedef struct grams gtab_t;

static size_t hash_key(uint64_t k, size_t mask) {
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k ^ (k >> 29)) & mask;
}

static void gtab_grow(gtab_t *t) {
    size_t ns = t->nslots ? t->nslots * 2 : 4096;
    uint32_t *slot = xcalloc(ns, sizeof *slot);
    for (uint32_t id = 0; id < t->keys.n; id++) {
        size_t h = hash_key(t->keys.v[id], ns - 1);
        while (slot[h]) h = (h + 1) & (ns - 1);
        slot[h] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslots = ns;
}

static uint32_t gram_id(gtab_t *t, uint32_t prefix, uint32_t word) {
    if (2 * (t->keys.n + 1) > t->nslots) gtab_grow(t);
    uint64_t key = (uint64_t)prefix << 32 | word;
    size_t h = hash_key(key, t->nslots - 1);
    for (; t->slot[h]; h = (h + 1) & (t->nslots - 1))
        if (t->keys.v[t->slot[h] - 1] == key) return t->slot[h] - 1;
    uint32_t id = (uint32_t)t->keys.n;
    da_push(&t->keys, key);
    da_push(&t->seen, 0);
    da_push(&t->pos, 0);
    t->slot[h] = id + 1;
    return id;
}

/* pycocoevalcap's precook(): n-gram counts in insertion order, appended to
 * the arena; s->g is set once the arena stops moving. ids: scratch, nw. */
static void count_sentence(gtab_t *t, uint32_t serial, const uint32_t *w, size_t nw, uint32_t *ids,
                           ngcs_t *arena, sent_t *s) {
    s->nwords = (uint32_t)nw;
    s->start = arena->n;
    da_reserve(arena, arena->n + NGRAM_MAX * nw);
    uint32_t m = 0;
    for (uint32_t k = 1; k <= NGRAM_MAX; k++) {
        s->off[k - 1] = m;
        for (size_t i = 0; i + k <= nw; i++) {
            uint32_t id = ids[i] = gram_id(t, k == 1 ? NO_PREFIX : ids[i], w[i + k - 1]);
            ngc_t *g = arena->v + s->start;
            if (t->seen.v[id] == serial + 1) {
                g[t->pos.v[id]].count++;
            } else {
                t->seen.v[id] = serial + 1;
                t->pos.v[id] = m;
                g[m++] = (ngc_t){id, 1};
            }
        }
    }
    s->off[NGRAM_MAX] = m;
    arena->n += m;
}

void corpus_build(corpus_t *c, const score_item_t *items, size_t n, int ngrams) {
    memset(c, 0, sizeof *c);
    c->n = n;
    c->items = items;
    c->cand = xcalloc(n ? n : 1, sizeof *c->cand);
    c->refs = xcalloc(n ? n : 1, sizeof *c->refs);
    wordtab_t *wt = c->words = wordtab_new();
    gtab_t *gt = c->grams = xcalloc(1, sizeof *gt);
    uint32_t *sw = NULL, *w = NULL, *ids = NULL, serial = 0;
    size_t swcap = 0, cap = 0, idcap = 0;
    for (size_t i = 0; i < n; i++) {
        c->refs[i] = xcalloc(items[i].nrefs, sizeof *c->refs[i]);
        for (size_t r = 0; r <= items[i].nrefs; r++) {
            const char *text = r == 0 ? items[i].cand : items[i].refs[r - 1];
            sent_t *s = r == 0 ? &c->cand[i] : &c->refs[i][r - 1];
            int plain;
            size_t ns = split_space(wt, text, &sw, &swcap, &plain);
            s->nspaced = (uint32_t)ns;
            s->spaced_start = c->spaced.n;
            da_reserve(&c->spaced, c->spaced.n + ns);
            memcpy(c->spaced.v + c->spaced.n, sw, ns * sizeof *sw);
            c->spaced.n += ns;
            if (!ngrams) continue;
            const uint32_t *words = sw;
            size_t nw = ns;
            if (!plain) nw = split_white(wt, text, &w, &cap), words = w;
            if (nw > idcap) ids = xrealloc(ids, (idcap = nw) * sizeof *ids);
            count_sentence(gt, serial++, words, nw, ids, &c->arena, s);
        }
    }
    for (size_t i = 0; i <= n; i++) { /* the arenas stopped moving */
        for (size_t r = 0; i < n && r <= items[i].nrefs; r++) {
            sent_t *s = r == 0 ? &c->cand[i] : &c->refs[i][r - 1];
            s->spaced = c->spaced.v + s->spaced_start;
            if (ngrams) s->g = c->arena.v + s->start;
        }
    }
    c->nngrams = (uint32_t)gt->keys.n;
    free(sw);
    free(w);
    free(ids);
}

void corpus_map_ids(corpus_t *dst, const corpus_t *src, uint32_t *map) {
    const wordtab_t *sw = src->words;
    uint32_t *wmap = xmalloc((sw->off.n ? sw->off.n : 1) * sizeof *wmap);
    for (size_t w = 0; w < sw->off.n; w++) wmap[w] = word_id(dst->words, sw->text.v + sw->off.v[w], sw->len.v[w]);
    /* an n-gram's prefix was interned before it, so its new id is known */
    for (uint32_t g = 0; g < src->nngrams; g++) {
        uint64_t key = src->grams->keys.v[g];
        uint32_t prefix = (uint32_t)(key >> 32);
        map[g] = gram_id(dst->grams, prefix == NO_PREFIX ? NO_PREFIX : map[prefix], wmap[(uint32_t)key]);
    }
    dst->nngrams = (uint32_t)dst->grams->keys.n;
    free(wmap);
}

void corpus_free(corpus_t *c) {
    for (size_t i = 0; i < c->n; i++) free(c->refs[i]);
    free(c->cand);
    free(c->refs);
    free(c->arena.v);
    free(c->spaced.v);
    if (c->grams) {
        free(c->grams->slot);
        free(c->grams->keys.v);
        free(c->grams->seen.v);
        free(c->grams->pos.v);
        free(c->grams);
    }
    wordtab_free(c->words);
    memset(c, 0, sizeof *c);
}
