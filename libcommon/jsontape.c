/* jsontape.c - a validating JSON parser that fills a flat tape (jsontape.h).
 *
 * One pass over the bytes with an explicit stack of open containers: no
 * recursion, one growable array for every value, strings decoded into one
 * block sized by the input (a decoded string is never longer than its
 * quoted source, which leaves room for its NUL). */
#include "jsontape.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "unicode.h"

enum { MAX_DEPTH = 2048 }; /* jansson's JSON_PARSER_MAX_DEPTH */

typedef DA(size_t) opened_t;

typedef struct {
    const unsigned char *p, *end, *line_start;
    long line;
    unsigned flags;
    char *out;     /* where the next decoded string goes */
    jt_doc_t *d;
    jt_error_t *e;
} parser_t;

/* Records the error at `at`: its line, and its column in characters. */
static int fail(parser_t *P, const unsigned char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser_t *P, const unsigned char *at, const char *fmt, ...) {
    long col = 1;
    for (const unsigned char *q = P->line_start; q < at; q++) col += (*q & 0xC0) != 0x80;
    P->e->line = P->line;
    P->e->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->e->text, sizeof P->e->text, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(parser_t *P) {
    const unsigned char *p = P->p;
    for (; p < P->end; p++) {
        if (*p == '\n') {
            P->line++;
            P->line_start = p + 1;
        } else if (*p != ' ' && *p != '\t' && *p != '\r') {
            break;
        }
    }
    P->p = p;
}

static int is_digit(const unsigned char *p, const unsigned char *end) { return p < end && *p >= '0' && *p <= '9'; }

/* Length of the valid UTF-8 sequence at p (no overlongs, surrogates or code
 * points above U+10FFFF), or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n || end - p < n) return 0;
    uint32_t u = c & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        u = u << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && (u < 0x800 || (u >= 0xD800 && u <= 0xDFFF))) || (n == 4 && (u < 0x10000 || u > 0x10FFFF)))
        return 0;
    return n;
}

static long hex4(const unsigned char *p, const unsigned char *end) {
    if (end - p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int d = c >= '0' && c <= '9' ? (int)c - '0' : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
              : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* The \u escape at p (p[0] == 'u') and, for a high surrogate, the low one
 * after it: the code point in *u; returns the bytes read after the 'u'. */
static int unicode_escape(parser_t *P, const unsigned char *p, long *u) {
    long hi = hex4(p + 1, P->end);
    if (hi < 0) return fail(P, p - 1, "invalid escape");
    if (hi >= 0xDC00 && hi <= 0xDFFF) return fail(P, p - 1, "invalid Unicode '\\u%04lX'", hi);
    if (hi < 0xD800 || hi > 0xDBFF) {
        *u = hi;
        return 4;
    }
    if (P->end - p < 7 || p[5] != '\\' || p[6] != 'u') return fail(P, p - 1, "invalid Unicode '\\u%04lX'", hi);
    long lo = hex4(p + 7, P->end);
    if (lo < 0) return fail(P, p + 5, "invalid escape");
    if (lo < 0xDC00 || lo > 0xDFFF) return fail(P, p - 1, "invalid Unicode '\\u%04lX\\u%04lX'", hi, lo);
    *u = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 10;
}

/* Whether the 8 bytes at p are all printable ASCII other than '"' and '\\'
 * (bit tricks: a lane's high bit marks a byte < 0x20, equal to '"' or '\\',
 * or >= 0x80; lanes above a marked one may be marked falsely, which only
 * stops the fast path early). */
static int plain8(const unsigned char *p) {
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t x, q, b;
    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    return !((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x) & (ones * 0x80));
}

/* The string at P->p (a '"') into v, decoded to P->out. */
static int parse_string(parser_t *P, jt_t *v, int is_key) {
    const unsigned char *p = P->p + 1, *end = P->end;
    char *o = P->out, *start = o;
    int nul = 0;
    for (;;) {
        const unsigned char *run = p; /* printable ASCII but '"' and '\\', copied at once */
        while (end - p >= 8 && plain8(p)) p += 8;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p == end) return fail(P, p, "premature end of input");
        unsigned c = *p;
        if (c == '"') break;
        if (c < 0x20) {
            return fail(P, p, "control character 0x%x", c);
        } else if (c >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) return fail(P, p, "unable to decode byte 0x%x", c);
            memcpy(o, p, (size_t)n);
            o += n;
            p += n;
        } else {
            if (++p == end) return fail(P, p, "premature end of input");
            const char *simple = strchr("\"\\/bfnrt", *p), *to = "\"\\/\b\f\n\r\t";
            if (*p && simple) {
                *o++ = to[simple - "\"\\/bfnrt"];
                p++;
            } else if (*p == 'u') {
                long u = 0;
                int n = unicode_escape(P, p, &u);
                if (n < 0) return -1;
                if (!u && !(P->flags & JT_ALLOW_NUL))
                    return fail(P, p - 1, "\\u0000 is not allowed without JSON_ALLOW_NUL");
                nul |= !u;
                o += u8_encode((uint32_t)u, o);
                p += 1 + n;
            } else {
                return fail(P, p - 1, "invalid escape");
            }
        }
    }
    if (is_key && nul) return fail(P, P->p, "NUL byte in object key not supported");
    if ((size_t)(o - start) > UINT32_MAX) return fail(P, P->p, "string too long");
    *o++ = '\0';
    *v = (jt_t){.type = JT_STRING, .len = (uint32_t)(o - 1 - start), .size = 1, .u.s = start};
    P->out = o;
    P->p = p + 1;
    return 0;
}

/* A number: an integer without fraction or exponent (int64, or an error), else a real. */
static int parse_number(parser_t *P, jt_t *v) {
    const unsigned char *s = P->p, *p = s, *end = P->end;
    int neg = p < end && *p == '-';
    p += neg;
    if (!is_digit(p, end)) return fail(P, s, "invalid token");
    if (*p == '0') {
        if (is_digit(++p, end)) return fail(P, s, "invalid token");
    } else {
        while (is_digit(p, end)) p++;
    }
    int real = 0;
    if (p < end && *p == '.') {
        real = 1;
        if (!is_digit(++p, end)) return fail(P, s, "invalid token");
        while (is_digit(p, end)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!is_digit(p, end)) return fail(P, s, "invalid token");
        while (is_digit(p, end)) p++;
    }
    if (!real) {
        uint64_t m = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (const unsigned char *q = s + neg; q < p; q++) {
            if (m > (limit - (uint64_t)(*q - '0')) / 10)
                return fail(P, s, neg ? "too big negative integer" : "too big integer");
            m = m * 10 + (uint64_t)(*q - '0');
        }
        *v = (jt_t){.type = JT_INTEGER, .size = 1, .u.i = neg ? (int64_t)(0 - m) : (int64_t)m};
    } else {
        char small[64], *tok = (size_t)(p - s) < sizeof small ? small : xmalloc((size_t)(p - s) + 1);
        memcpy(tok, s, (size_t)(p - s));
        tok[p - s] = '\0';
        double d = strtod(tok, NULL);
        if (tok != small) free(tok);
        if (isinf(d)) return fail(P, s, "real number overflow");
        *v = (jt_t){.type = JT_REAL, .size = 1, .u.d = d};
    }
    P->p = p;
    return 0;
}

static int parse_scalar(parser_t *P, jt_t *v) {
    static const struct { const char *word; jt_type type; } LIT[] = {
        {"true", JT_TRUE}, {"false", JT_FALSE}, {"null", JT_NULL}};
    unsigned c = *P->p;
    if (c == '"') return parse_string(P, v, 0);
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(P, v);
    for (size_t i = 0; i < ARRAY_LEN(LIT); i++) {
        size_t n = strlen(LIT[i].word);
        if ((size_t)(P->end - P->p) >= n && !memcmp(P->p, LIT[i].word, n)) {
            *v = (jt_t){.type = LIT[i].type, .size = 1};
            P->p += n;
            return 0;
        }
    }
    return fail(P, P->p, c == ']' || c == '}' || c == ',' || c == ':' ? "unexpected token" : "invalid token");
}

/* After '{' or ',' in an object: the key and ':'; counts the member. */
static int parse_key(parser_t *P, size_t obj) {
    jt_doc_t *d = P->d;
    skip_ws(P);
    if (P->p == P->end || *P->p != '"') return fail(P, P->p, "string or '}' expected");
    da_reserve(&d->v, d->v.n + 1);
    if (parse_string(P, &d->v.v[d->v.n], 1) < 0) return -1;
    d->v.n++;
    skip_ws(P);
    if (P->p == P->end || *P->p != ':') return fail(P, P->p, "':' expected");
    P->p++;
    d->v.v[obj].len++;
    return 0;
}

/* Closes finished containers after a value; 1 when the document is done,
 * 0 when another value follows (its key, if any, read). */
static int after_value(parser_t *P, opened_t *st) {
    jt_doc_t *d = P->d;
    for (;;) {
        skip_ws(P);
        if (!st->n) return P->p == P->end ? 1 : fail(P, P->p, "end of file expected");
        size_t top = st->v[st->n - 1];
        int obj = d->v.v[top].type == JT_OBJECT;
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            if (obj) return parse_key(P, top);
            d->v.v[top].len++;
            return 0;
        }
        if (P->p == P->end || *P->p != (obj ? '}' : ']')) return fail(P, P->p, obj ? "'}' expected" : "']' expected");
        P->p++;
        d->v.v[top].size = d->v.n - top;
        st->n--;
    }
}

static int parse_tape(parser_t *P, opened_t *st) {
    jt_doc_t *d = P->d;
    for (;;) {
        skip_ws(P);
        if (st->n + 1 > MAX_DEPTH) return fail(P, P->p, "maximum parsing depth reached");
        if (P->p == P->end) return fail(P, P->p, "unexpected end of input");
        da_reserve(&d->v, d->v.n + 1);
        size_t at = d->v.n;
        unsigned c = *P->p;
        if (c == '{' || c == '[') {
            d->v.v[at] = (jt_t){.type = c == '{' ? JT_OBJECT : JT_ARRAY, .size = 1};
            d->v.n++;
            P->p++;
            da_push(st, at);
            skip_ws(P);
            if (P->p == P->end || *P->p != (c == '{' ? '}' : ']')) {
                if (c == '{' && parse_key(P, at) < 0) return -1;
                if (c == '[') d->v.v[at].len = 1;
                continue;
            }
            P->p++;
            st->n--;
        } else {
            if (parse_scalar(P, &d->v.v[at]) < 0) return -1;
            d->v.n++;
        }
        int r = after_value(P, st);
        if (r) return r < 0 ? -1 : 0;
    }
}

long jt_parse(jt_doc_t *d, const char *buf, size_t len, unsigned flags, jt_error_t *e) {
    parser_t P = {.p = (const unsigned char *)buf, .end = (const unsigned char *)buf + len,
                  .line_start = (const unsigned char *)buf, .line = 1, .flags = flags, .d = d, .e = e};
    char *block = xmalloc(len + 1);
    P.out = block;
    opened_t st = {0};
    size_t root = d->v.n;
    int rc = parse_tape(&P, &st);
    free(st.v);
    if (rc < 0) {
        d->v.n = root;
        free(block);
        return -1;
    }
    da_push(&d->blocks, block);
    return (long)root;
}

const jt_t *jt_load_buf(jt_doc_t *d, const char *buf, size_t len, const char *what) {
    jt_error_t e;
    long root = jt_parse(d, buf, len, JT_ALLOW_NUL, &e);
    if (root < 0) die("%s:%ld:%ld: malformed JSON: %s", what, e.line, e.col, e.text);
    return &d->v.v[root];
}

const jt_t *jt_load_path(jt_doc_t *d, const char *path) {
    int in = strcmp(path, "-") == 0;
    size_t len;
    char *buf = read_file(in ? "/dev/stdin" : path, &len);
    const jt_t *root = jt_load_buf(d, buf, len, in ? "<stdin>" : path);
    free(buf);
    return root;
}

void jt_free(jt_doc_t *d) {
    for (size_t i = 0; i < d->blocks.n; i++) free(d->blocks.v[i]);
    free(d->blocks.v);
    free(d->v.v);
    memset(d, 0, sizeof *d);
}

/* --- field access ---------------------------------------------------------------- */

const char *jt_type_name(jt_type t) {
    switch (t) {
    case JT_OBJECT: return "an object";
    case JT_ARRAY: return "an array";
    case JT_STRING: return "a string";
    case JT_INTEGER: return "an integer";
    case JT_REAL: return "a number";
    case JT_TRUE:
    case JT_FALSE: return "a boolean";
    default: return "null";
    }
}

const jt_t *jt_get(const jt_t *obj, const char *key) {
    if (obj->type != JT_OBJECT) return NULL;
    size_t n = strlen(key);
    const jt_t *found = NULL, *k = jt_first(obj);
    for (uint32_t i = 0; i < obj->len; i++) {
        const jt_t *v = k + 1;
        if (k->len == n && !memcmp(k->u.s, key, n)) found = v;
        k = jt_next(v);
    }
    return found;
}

static const jt_t *need_v(const jt_t *obj, const char *key, jt_type type, const char *fmt, va_list ap) {
    const jt_t *v = jt_get(obj, key);
    if (v && v->type == type) return v;
    char where[4096];
    vsnprintf(where, sizeof where, fmt, ap);
    if (obj->type != JT_OBJECT) die("%s: expected an object, found %s", where, jt_type_name(obj->type));
    if (!v) die("%s: missing field \"%s\"", where, key);
    die("%s: field \"%s\" should be %s, found %s", where, key, jt_type_name(type), jt_type_name(v->type));
}

const jt_t *jt_need(const jt_t *obj, const char *key, jt_type type, const char *where_fmt, ...) {
    va_list ap;
    va_start(ap, where_fmt);
    const jt_t *v = need_v(obj, key, type, where_fmt, ap);
    va_end(ap);
    return v;
}

int64_t jt_need_int(const jt_t *obj, const char *key, const char *where_fmt, ...) {
    va_list ap;
    va_start(ap, where_fmt);
    const jt_t *v = need_v(obj, key, JT_INTEGER, where_fmt, ap);
    va_end(ap);
    return v->u.i;
}

const char *jt_need_str(const jt_t *obj, const char *key, const char *where_fmt, ...) {
    va_list ap;
    va_start(ap, where_fmt);
    const jt_t *v = need_v(obj, key, JT_STRING, where_fmt, ap);
    va_end(ap);
    return v->u.s;
}

int64_t jt_opt_int(const jt_t *obj, const char *key, int64_t dflt, const char *where_fmt, ...) {
    if (!jt_get(obj, key)) return dflt;
    va_list ap;
    va_start(ap, where_fmt);
    const jt_t *v = need_v(obj, key, JT_INTEGER, where_fmt, ap);
    va_end(ap);
    return v->u.i;
}

const char *jt_opt_str(const jt_t *obj, const char *key, const char *where_fmt, ...) {
    if (!jt_get(obj, key)) return NULL;
    va_list ap;
    va_start(ap, where_fmt);
    const jt_t *v = need_v(obj, key, JT_STRING, where_fmt, ap);
    va_end(ap);
    return v->u.s;
}
