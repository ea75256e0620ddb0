/* cli.c - command-line option value parsing (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"

long opt_long(const char *s, const char *opt, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || errno || v < lo || v > hi)
        usage_die("%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
    return v;
}
