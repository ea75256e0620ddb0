/* err.h - error reporting, logging and checked allocation shared by every tool.
 *
 * Messages go to stderr as "prog: what went wrong"; callers put the file,
 * record or field first in the message ("prog: shards/val-00000.shard: record
 * 12: bad checksum"). die() exits 1, usage_die() exits 2 (usage errors),
 * warn() returns. note() prints only at verbosity >= its level (-v, -vv). */
#ifndef BLIP_ERR_H
#define BLIP_ERR_H

#include <stddef.h>

#ifdef __cplusplus /* the CUDA backend's .cu files report errors with these too */
extern "C" {
#endif

#define UNUSED(x) ((void)(x))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Set once from main(): basename of argv[0]. */
void err_init(const char *argv0);
const char *prog_name(void);

extern int verbosity; /* 0 quiet (default), 1 with -v, 2 with -vv */

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void usage_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For functions that report errors to their caller: format the reason into
 * err[errlen] and return -1. */
int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Allocation that cannot fail: dies with a message on exhaustion. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable array of elements of any type: DA(T) { T *v; size_t n, cap; }.
 * da_push(&a, x) appends, growing geometrically. */
#define DA(T) struct { T *v; size_t n, cap; }
#define da_reserve(a, want)                                                   \
    do {                                                                      \
        if ((want) > (a)->cap) {                                              \
            size_t cap_ = (a)->cap ? (a)->cap : 8;                            \
            while (cap_ < (want)) cap_ *= 2;                                  \
            (a)->v = xrealloc((a)->v, cap_ * sizeof(*(a)->v));                \
            (a)->cap = cap_;                                                  \
        }                                                                     \
    } while (0)
#define da_push(a, x)                                                         \
    do {                                                                      \
        da_reserve((a), (a)->n + 1);                                          \
        (a)->v[(a)->n++] = (x);                                               \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
