/* tokenizer.c - BERT WordPiece encoding and decoding with the semantics of
 * HF's Python BertTokenizer: vocabulary loading and hash index, text
 * normalization (with an ASCII fast path), WordPiece, decoding. See
 * tokenizer.h for the rules. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fileio.h"
#include "unicode.h"

#define MAX_WORD_CHARS 100                  /* WordpieceTokenizer.max_input_chars_per_word */
#define MAX_KEY_BYTES (4 * MAX_WORD_CHARS)  /* longer keys can never match */

static const char *const SPECIAL_NAMES[7] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]"};

static void special_ids(const tokenizer_t *t, int32_t ids[7]) {
    ids[0] = t->id.pad; ids[1] = t->id.unk; ids[2] = t->id.cls; ids[3] = t->id.sep;
    ids[4] = t->id.mask; ids[5] = t->id.bos; ids[6] = t->id.enc;
}

/* --- vocabulary index ---------------------------------------------------------
 * Keys are (continuation, bytes): "##ing" is stored under its full text and,
 * as a continuation, under "ing". The low bit of a slot's hash is the
 * continuation flag, so equal hashes imply equal flags. */

struct tok_slot {
    uint32_t hash;
    int32_t id;   /* -1: empty */
};

static inline uint64_t hash_start(int cont) { return cont ? 0x84222325cbf29ce4ull : 0xcbf29ce484222325ull; }
static inline uint64_t hash_step(uint64_t h, unsigned char b) { return (h ^ b) * 0x100000001b3ull; }
static inline uint32_t hash_fold(uint64_t h, int cont) {
    h ^= h >> 29;
    return ((uint32_t)(h ^ h >> 32) & ~1u) | (uint32_t)cont;
}

static int key_eq(const tokenizer_t *t, int32_t id, int cont, const char *s, size_t n) {
    const char *tok = t->blob + t->off[id];
    if (t->len[id] != n + 2 * (size_t)cont) return 0;
    if (cont && (tok[0] != '#' || tok[1] != '#')) return 0;
    return memcmp(tok + 2 * cont, s, n) == 0;
}

static int32_t index_find(const tokenizer_t *t, uint32_t hv, int cont, const char *s, size_t n) {
    for (uint32_t i = hv & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        const tok_slot_t *sl = &t->slots[i];
        if (sl->id < 0) return -1;
        if (sl->hash == hv && key_eq(t, sl->id, cont, s, n)) return sl->id;
    }
}

static uint32_t hash_key(int cont, const char *s, size_t n) {
    uint64_t h = hash_start(cont);
    for (size_t i = 0; i < n; i++) h = hash_step(h, (unsigned char)s[i]);
    return hash_fold(h, cont);
}

/* A later line with the same token wins, as in Python's vocab dict. */
static void index_put(tokenizer_t *t, int32_t id, int cont) {
    const char *s = t->blob + t->off[id] + 2 * cont;
    size_t n = t->len[id] - 2 * (size_t)cont;
    uint32_t hv = hash_key(cont, s, n);
    for (uint32_t i = hv & t->slot_mask;; i = (i + 1) & t->slot_mask) {
        tok_slot_t *sl = &t->slots[i];
        if (sl->id < 0 || (sl->hash == hv && key_eq(t, sl->id, cont, s, n))) {
            sl->hash = hv;
            sl->id = id;
            break;
        }
    }
    if (n > t->max_key) t->max_key = n > MAX_KEY_BYTES ? MAX_KEY_BYTES : (uint32_t)n;
}

int32_t tok_lookup(const tokenizer_t *t, const char *token, size_t len) {
    return index_find(t, hash_key(0, token, len), 0, token, len);
}

const char *tok_token(const tokenizer_t *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->blob + t->off[id] : NULL;
}

int tok_is_special(const tokenizer_t *t, int32_t id) {
    int32_t ids[7];
    special_ids(t, ids);
    for (int k = 0; k < 7; k++)
        if (id == ids[k]) return 1;
    return 0;
}

/* --- loading ------------------------------------------------------------------ */

static int utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t at = i;
        if (u8_decode(s, n, &i) == UNI_REPLACEMENT && i - at != 3) return 0;
    }
    return 1;
}

static void add_token(tokenizer_t *t, size_t *blob_n, const char *s, size_t n) {
    t->off[t->n_vocab] = (uint32_t)*blob_n;
    t->len[t->n_vocab] = (uint32_t)n;
    memcpy(t->blob + *blob_n, s, n);
    t->blob[*blob_n + n] = '\0';
    *blob_n += n + 1;
    t->n_vocab++;
}

/* The id of a special token that the vocabulary must have, or appends it. */
static int32_t special_id(tokenizer_t *t, const char *path, const char *name, int append, size_t *blob_n) {
    int32_t id = -1;
    for (int32_t i = 0; i < t->n_vocab; i++)  /* last occurrence, like the index */
        if (strcmp(t->blob + t->off[i], name) == 0) id = i;
    if (id >= 0) return id;
    if (!append) die("%s: no %s token: not a BERT vocabulary", path, name);
    add_token(t, blob_n, name, strlen(name));
    return t->n_vocab - 1;
}

tokenizer_t *tok_load(const char *path) {
    size_t n;
    char *data = read_file(path, &n);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += data[i] == '\n' || data[i] == '\r';
    tokenizer_t *t = xcalloc(1, sizeof *t);
    t->blob = xmalloc(n + lines + 32);
    t->off = xmalloc((lines + 3) * sizeof *t->off);
    t->len = xmalloc((lines + 3) * sizeof *t->len);
    size_t blob_n = 0, line = 0;
    for (size_t i = 0; i < n;) {    /* Python text mode: \n, \r\n and \r end lines */
        size_t s = i;
        while (i < n && data[i] != '\n' && data[i] != '\r') i++;
        line++;
        if (!utf8_valid(data + s, i - s)) die("%s:%zu: invalid UTF-8", path, line);
        if (i - s > UINT32_MAX / 2) die("%s:%zu: line too long", path, line);
        add_token(t, &blob_n, data + s, i - s);
        if (i < n) i += data[i] == '\r' && i + 1 < n && data[i + 1] == '\n' ? 2 : 1;
    }
    free(data);
    if (t->n_vocab == 0) die("%s: empty vocabulary", path);
    t->id.pad = special_id(t, path, "[PAD]", 0, &blob_n);
    t->id.unk = special_id(t, path, "[UNK]", 0, &blob_n);
    t->id.cls = special_id(t, path, "[CLS]", 0, &blob_n);
    t->id.sep = special_id(t, path, "[SEP]", 0, &blob_n);
    t->id.mask = special_id(t, path, "[MASK]", 0, &blob_n);
    t->id.bos = special_id(t, path, "[DEC]", 1, &blob_n);
    t->id.enc = special_id(t, path, "[ENC]", 1, &blob_n);

    uint32_t nslots = 16;
    while (nslots < 4u * (uint32_t)t->n_vocab) nslots *= 2;
    t->slots = xmalloc(nslots * sizeof *t->slots);
    t->slot_mask = nslots - 1;
    for (uint32_t i = 0; i < nslots; i++) t->slots[i].id = -1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->blob + t->off[id];
        index_put(t, id, 0);
        if (t->len[id] >= 2 && s[0] == '#' && s[1] == '#') index_put(t, id, 1);
    }
    note(1, "%s: %d tokens ([DEC] %d, [ENC] %d)", path, t->n_vocab, t->id.bos, t->id.enc);
    return t;
}

void tok_free(tokenizer_t *t) {
    if (!t) return;
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->slots);
    free(t);
}

/* --- WordPiece ------------------------------------------------------------------ */

/* Greedy longest-match-first over one piece of n bytes / nchars characters.
 * Hashes of every prefix from `start` are computed once per position. */
static void wordpiece(const tokenizer_t *t, const char *s, size_t n, size_t nchars, tok_ids_t *out) {
    size_t mark = out->n;
    if (nchars > MAX_WORD_CHARS) goto unk;
    uint64_t h[MAX_KEY_BYTES + 1];
    for (size_t start = 0; start < n;) {
        int cont = start > 0;
        size_t lim = n - start < t->max_key ? n - start : t->max_key;
        h[0] = hash_start(cont);
        for (size_t k = 0; k < lim; k++) h[k + 1] = hash_step(h[k], (unsigned char)s[start + k]);
        int32_t id = -1;
        size_t len = lim;
        for (; len > 0; len--) {
            if (start + len < n && ((unsigned char)s[start + len] & 0xC0) == 0x80) continue;
            id = index_find(t, hash_fold(h[len], cont), cont, s + start, len);
            if (id >= 0) break;
        }
        if (id < 0) goto unk;
        da_push(out, id);
        start += len;
    }
    return;
unk:
    out->n = mark;
    da_push(out, t->id.unk);
}

/* --- normalization ---------------------------------------------------------------- */

enum { K_WORD, K_PUNCT, K_SPACE, K_DROP, K_CJK };

static inline int ascii_kind(unsigned c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return K_SPACE;
    if (c < 0x20 || c == 0x7F) return K_DROP;
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return K_PUNCT;
    return K_WORD;
}

static int is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Kind of a raw (not yet lowercased) non-ASCII code point. */
static int raw_kind(uint32_t c) {
    if (c == UNI_REPLACEMENT) return K_DROP;
    utf8proc_category_t cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_CC) return K_DROP;
    if (uni_is_py_space(c)) return K_SPACE;
    return is_cjk(c) ? K_CJK : K_WORD;
}

static int is_punct(uint32_t c) {
    if (c < 0x80) return ascii_kind(c) == K_PUNCT;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

typedef struct {
    DA(uint32_t) raw;   /* the current word, cleaned */
    DA(uint32_t) low;   /* lowercased */
    DA(uint32_t) nfd;   /* canonically decomposed and ordered */
    DA(char) piece;     /* UTF-8 of the current piece */
    int ascii;          /* raw is all ASCII */
} work_t;

/* Canonical ordering: stable sort of each run of non-zero combining classes. */
static void canonical_order(uint32_t *c, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int cc = utf8proc_get_property(c[i])->combining_class;
        if (cc == 0) continue;
        size_t j = i;
        uint32_t x = c[i];
        while (j > 0) {
            int pc = utf8proc_get_property(c[j - 1])->combining_class;
            if (pc <= cc) break;
            c[j] = c[j - 1];
            j--;
        }
        c[j] = x;
    }
}

static void flush_ascii_word(const tokenizer_t *t, work_t *w, tok_ids_t *out) {
    char *p = w->piece.v;
    size_t pn = 0;
    for (size_t k = 0; k < w->raw.n; k++) {
        char c = (char)w->raw.v[k];
        if (ascii_kind((unsigned char)c) == K_PUNCT) {
            if (pn) wordpiece(t, p, pn, pn, out);
            pn = 0;
            wordpiece(t, &c, 1, 1, out);
        } else {
            p[pn++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
        }
    }
    if (pn) wordpiece(t, p, pn, pn, out);
}

/* Python: lower() per character, NFD, drop Mn, split on punctuation, WordPiece. */
static void flush_word(const tokenizer_t *t, work_t *w, tok_ids_t *out) {
    if (w->raw.n == 0) return;
    da_reserve(&w->piece, 4 * w->raw.n);
    if (w->ascii) {
        flush_ascii_word(t, w, out);
        w->raw.n = 0;
        return;
    }
    da_reserve(&w->low, 2 * w->raw.n);
    w->low.n = uni_py_lower(w->raw.v, w->raw.n, w->low.v, 0);
    w->nfd.n = 0;
    for (size_t k = 0; k < w->low.n; k++) {
        utf8proc_int32_t d[16];
        int bound = 0;
        utf8proc_ssize_t nd = utf8proc_decompose_char((utf8proc_int32_t)w->low.v[k], d, 16, UTF8PROC_DECOMPOSE, &bound);
        if (nd < 0 || nd > 16) die("utf8proc: cannot decompose U+%04X", w->low.v[k]);
        da_reserve(&w->nfd, w->nfd.n + (size_t)nd);
        for (utf8proc_ssize_t j = 0; j < nd; j++) w->nfd.v[w->nfd.n++] = (uint32_t)d[j];
    }
    canonical_order(w->nfd.v, w->nfd.n);
    da_reserve(&w->piece, 4 * w->nfd.n);
    char *p = w->piece.v;
    size_t pn = 0, pchars = 0;
    for (size_t k = 0; k < w->nfd.n; k++) {
        uint32_t c = w->nfd.v[k];
        if (c >= 0x80 && utf8proc_category(c) == UTF8PROC_CATEGORY_MN) continue;
        if (is_punct(c)) {
            if (pn) wordpiece(t, p, pn, pchars, out);
            char one[4];
            wordpiece(t, one, u8_encode(c, one), 1, out);
            pn = pchars = 0;
        } else {
            pn += u8_encode(c, p + pn);
            pchars++;
        }
    }
    if (pn) wordpiece(t, p, pn, pchars, out);
    w->raw.n = 0;
}

static void push_raw(work_t *w, uint32_t c) {
    if (w->raw.n == 0) w->ascii = 1;
    if (c >= 0x80) w->ascii = 0;
    da_push(&w->raw, c);
}

/* Text without special tokens: clean, split into words, tokenize each. */
static void encode_plain(const tokenizer_t *t, work_t *w, const char *s, size_t n, tok_ids_t *out) {
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        uint32_t c = b;
        int kind;
        if (b < 0x80) {
            i++;
            kind = ascii_kind(b);
            if (kind == K_PUNCT) kind = K_WORD;
        } else {
            c = u8_decode(s, n, &i);
            kind = raw_kind(c);
        }
        if (kind == K_WORD) {
            push_raw(w, c);
        } else if (kind == K_SPACE) {
            flush_word(t, w, out);
        } else if (kind == K_CJK) {
            flush_word(t, w, out);
            push_raw(w, c);
            flush_word(t, w, out);
        }
    }
    flush_word(t, w, out);
}

/* Length of the special token starting at s, its id in *id; 0 if none. */
static size_t special_at(const tokenizer_t *t, const char *s, size_t n, int32_t *id) {
    int32_t ids[7];
    special_ids(t, ids);
    for (int k = 0; k < 7; k++) {
        size_t len = strlen(SPECIAL_NAMES[k]);
        if (len <= n && memcmp(s, SPECIAL_NAMES[k], len) == 0) {
            *id = ids[k];
            return len;
        }
    }
    return 0;
}

void tok_encode(const tokenizer_t *t, const char *text, size_t len, tok_ids_t *out) {
    work_t w = {0};
    size_t seg = 0;
    for (size_t i = 0; i < len;) {
        const char *b = memchr(text + i, '[', len - i);
        if (!b) break;
        size_t p = (size_t)(b - text), sl;
        int32_t id;
        if ((sl = special_at(t, b, len - p, &id))) {
            encode_plain(t, &w, text + seg, p - seg, out);
            da_push(out, id);
            seg = i = p + sl;
        } else {
            i = p + 1;
        }
    }
    encode_plain(t, &w, text + seg, len - seg, out);
    free(w.raw.v);
    free(w.low.v);
    free(w.nfd.v);
    free(w.piece.v);
}

/* --- decoding ------------------------------------------------------------------ */

/* Python str.replace(from, to) in place, for len(to) <= len(from). */
static void replace_all(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    char *r = strstr(s, from), *w = r;
    if (!r) return;
    while (*r) {
        if (strncmp(r, from, fl) == 0) {
            memcpy(w, to, tl);
            w += tl;
            r += fl;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* Python str.strip(): drop leading and trailing whitespace. */
static void py_strip(char *s) {
    size_t n = strlen(s), i = 0, first = n, end = 0;
    while (i < n) {
        size_t at = i;
        if (!uni_is_py_space(u8_decode(s, n, &i))) {
            if (first == n) first = at;
            end = i;
        }
    }
    if (first == n) end = first = 0;
    memmove(s, s + first, end - first);
    s[end - first] = '\0';
}

char *tok_decode(const tokenizer_t *t, const int32_t *ids, size_t n) {
    DA(char) s = {0};
    for (size_t k = 0; k < n; k++) {
        if (tok_is_special(t, ids[k])) continue;
        const char *tok = tok_token(t, ids[k]);
        size_t tl = tok ? t->len[ids[k]] : 5;
        if (!tok) tok = "[UNK]";   /* ids_to_tokens.get(id, unk_token) */
        da_reserve(&s, s.n + tl + 2);
        if (s.n) s.v[s.n++] = ' ';
        memcpy(s.v + s.n, tok, tl);
        s.n += tl;
    }
    da_push(&s, '\0');
    replace_all(s.v, " ##", "");
    py_strip(s.v);
    static const char *const cleanup[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t k = 0; k < ARRAY_LEN(cleanup); k++) replace_all(s.v, cleanup[k][0], cleanup[k][1]);
    return s.v;
}
