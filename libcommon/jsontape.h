/* jsontape.h - fast JSON reading for large annotation files: a document is
 * parsed into one flat array of values in document order (a "tape"), with
 * its strings decoded into one block, instead of one allocation per value
 * as in jansson (about 10x fewer instructions on COCO caption files).
 *
 * Accepts and rejects what jansson's json_loadb(JSON_DECODE_ANY) does
 * (strict RFC 8259: UTF-8 checked, surrogate pairs joined, \u0000 only with
 * JT_ALLOW_NUL and never in keys, integers that overflow int64 and reals
 * that overflow double rejected, nesting depth at most 2048), with integers
 * (no fraction or exponent) and reals typed apart as jansson does. One
 * difference: a raw NUL byte right after a number or literal ("[1\0]"),
 * which jansson skips, is an error here as everywhere outside strings.
 * Errors give the 1-based line and column (in characters) of the offending
 * character. Objects keep duplicate keys; lookups find the last one, the
 * value jansson keeps.
 *
 * Layout: a container is followed by its members (for an object: key string,
 * then value, per member); every value knows how many tape entries it spans,
 * so the next sibling is v + v->size:
 *     jt_t *e = jt_first(arr); for (i = 0; i < arr->len; i++, e = jt_next(e)) ... */
#ifndef BLIP_JSONTAPE_H
#define BLIP_JSONTAPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum { JT_OBJECT, JT_ARRAY, JT_STRING, JT_INTEGER, JT_REAL, JT_TRUE, JT_FALSE, JT_NULL } jt_type;

typedef struct {
    uint32_t type;  /* jt_type */
    uint32_t len;   /* object: members; array: elements; string: bytes (a NUL follows) */
    size_t size;    /* tape entries of this value, itself and its members included */
    union {
        const char *s;
        int64_t i;
        double d;
    } u;
} jt_t;

typedef struct {
    DA(jt_t) v;        /* the tape of every value parsed into this document */
    DA(char *) blocks; /* decoded strings, one block per parse */
} jt_doc_t;

enum { JT_ALLOW_NUL = 1 }; /* accept \u0000 in strings (not in keys), as JSON_ALLOW_NUL */

typedef struct {
    long line, col;
    char text[96];
} jt_error_t;

/* Parses one JSON value of any type from buf[0..len) (buf is not modified
 * and need not be NUL-terminated) and appends it to d's tape; returns its
 * index in d->v, or -1 with *e set. Entries move when later parses grow the
 * tape: take pointers once parsing is done. */
long jt_parse(jt_doc_t *d, const char *buf, size_t len, unsigned flags, jt_error_t *e);
/* Parses buf (JT_ALLOW_NUL) as the document's only value, or dies with
 * "what:LINE:COL: malformed JSON: reason". */
const jt_t *jt_load_buf(jt_doc_t *d, const char *buf, size_t len, const char *what);
/* jt_load_buf of a file ("-" = stdin). */
const jt_t *jt_load_path(jt_doc_t *d, const char *path);
void jt_free(jt_doc_t *d);

static inline const jt_t *jt_first(const jt_t *container) { return container + 1; }
static inline const jt_t *jt_next(const jt_t *v) { return v + v->size; }

/* The value of the last member named key, or NULL (also when obj is not an object). */
const jt_t *jt_get(const jt_t *obj, const char *key);

/* Field access as jsonio.h's json_need & co., with the same messages; the
 * object's name in errors is printf(where_fmt, ...), formatted only on error. */
const jt_t *jt_need(const jt_t *obj, const char *key, jt_type type, const char *where_fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t jt_need_int(const jt_t *obj, const char *key, const char *where_fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *jt_need_str(const jt_t *obj, const char *key, const char *where_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Optional: dflt / NULL when absent, dies when present with another type. */
int64_t jt_opt_int(const jt_t *obj, const char *key, int64_t dflt, const char *where_fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *jt_opt_str(const jt_t *obj, const char *key, const char *where_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "an object", "an array", "a string", "an integer", "a number", "a boolean", "null" */
const char *jt_type_name(jt_type t);

#endif
