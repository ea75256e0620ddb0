/* caption.c - BLIP's caption preprocessing, training framing and generation
 * prompt (see caption.h). */
#include "caption.h"

#include <stdlib.h>
#include <string.h>

#include "unicode.h"

static int is_dropped_punct(uint32_t c) {
    switch (c) {
    case '.': case '!': case '"': case '(': case ')': case '*': case '#': case ':': case ';': case '~':
        return 1;
    default:
        return 0;
    }
}

char *pre_caption(const char *text, size_t len, int max_words, size_t *out_len) {
    uint32_t *raw = xmalloc((len + 1) * sizeof *raw);
    uint32_t *c = xmalloc((2 * len + 1) * sizeof *c);
    size_t n = 0;
    for (size_t i = 0; i < len;) raw[n++] = u8_decode(text, len, &i);
    n = uni_py_lower(raw, n, c, 1);   /* caption.lower() */
    free(raw);
    for (size_t k = 0; k < n; k++)   /* re.sub(r"([.!\"()*#:;~])", ' ', ...) */
        if (is_dropped_punct(c[k])) c[k] = ' ';
    size_t m = 0;
    for (size_t k = 0; k < n;) {     /* re.sub(r"\s{2,}", ' ', ...) */
        size_t e = k;
        while (e < n && uni_is_py_space(c[e])) e++;
        if (e - k >= 2) { c[m++] = ' '; k = e; }
        else c[m++] = c[k++];
    }
    while (m > 0 && c[m - 1] == '\n') m--;              /* rstrip('\n') */
    size_t a = 0;
    while (a < m && c[a] == ' ') a++;                   /* strip(' ') */
    while (m > a && c[m - 1] == ' ') m--;
    int words = 1;                                      /* split(' ')[:max_words] */
    if (max_words < 1) m = a;
    for (size_t k = a; k < m; k++)
        if (c[k] == ' ' && ++words > max_words) { m = k; break; }
    char *out = xmalloc(4 * (m - a) + 1);
    size_t o = 0;
    for (size_t k = a; k < m; k++) o += u8_encode(c[k], out + o);
    out[o] = '\0';
    free(c);
    if (out_len) *out_len = o;
    return out;
}

int caption_prompt_length(const tokenizer_t *t) {
    tok_ids_t ids = {0};
    tok_encode(t, CAPTION_PROMPT, strlen(CAPTION_PROMPT), &ids);
    int n = (int)ids.n + 2 - 1;   /* [CLS] prompt [SEP], minus one */
    free(ids.v);
    return n;
}

void caption_prompt_ids(const tokenizer_t *t, tok_ids_t *out) {
    da_push(out, t->id.bos);
    tok_encode(t, CAPTION_PROMPT, strlen(CAPTION_PROMPT), out);
}

void caption_train_ids(const tokenizer_t *t, const char *caption, size_t len, tok_ids_t *out) {
    size_t pl = strlen(CAPTION_PROMPT), cl;
    char *pc = pre_caption(caption, len, CAPTION_MAX_WORDS, &cl);
    char *text = xmalloc(pl + cl + 1);
    memcpy(text, CAPTION_PROMPT, pl);
    memcpy(text + pl, pc, cl + 1);
    size_t mark = out->n;
    da_push(out, t->id.bos);   /* [CLS], then input_ids[:, 0] = bos */
    tok_encode(t, text, pl + cl, out);
    if (out->n - mark > CAPTION_MAX_TOKENS - 1) out->n = mark + CAPTION_MAX_TOKENS - 1;
    da_push(out, t->id.sep);
    free(pc);
    free(text);
}

void caption_batch(const tokenizer_t *t, const char *const *captions, int B, caption_batch_t *out) {
    tok_ids_t ids = {0};
    size_t *start = xmalloc((B + 1) * sizeof *start);
    int T = 0;
    for (int b = 0; b < B; b++) {
        start[b] = ids.n;
        caption_train_ids(t, captions[b], strlen(captions[b]), &ids);
        if ((int)(ids.n - start[b]) > T) T = (int)(ids.n - start[b]);
    }
    start[B] = ids.n;
    int prompt_len = caption_prompt_length(t);
    out->B = B;
    out->T = T;
    out->ids = xmalloc((size_t)B * T * sizeof *out->ids);
    out->mask = xmalloc((size_t)B * T * sizeof *out->mask);
    out->labels = xmalloc((size_t)B * T * sizeof *out->labels);
    for (int b = 0; b < B; b++) {
        int len = (int)(start[b + 1] - start[b]);
        for (int j = 0; j < T; j++) {
            size_t at = (size_t)b * T + j;
            int32_t id = j < len ? ids.v[start[b] + j] : t->id.pad;
            out->ids[at] = id;
            out->mask[at] = j < len;
            out->labels[at] = id == t->id.pad || j < prompt_len ? CAPTION_IGNORE : id;
        }
    }
    free(start);
    free(ids.v);
}

void caption_batch_free(caption_batch_t *b) {
    free(b->ids);
    free(b->mask);
    free(b->labels);
    b->ids = b->mask = b->labels = NULL;
}

char *caption_from_ids(const tokenizer_t *t, const int32_t *ids, size_t n) {
    char *text = tok_decode(t, ids, n);
    size_t len = strlen(text), i = 0, pl = strlen(CAPTION_PROMPT);
    for (size_t j = 0; j < pl && i < len;) {   /* caption[len(prompt):] */
        u8_decode(CAPTION_PROMPT, pl, &j);
        u8_decode(text, len, &i);
    }
    char *cap = xstrdup(text + i);
    free(text);
    return cap;
}
