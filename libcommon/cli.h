/* cli.h - command-line helpers shared by the tools: option values parsed
 * with a usage error (exit 2) naming the option when they are malformed. */
#ifndef BLIP_CLI_H
#define BLIP_CLI_H

/* An integer in [lo, hi], or usage_die("OPT: expected an integer in ..."). */
long opt_long(const char *s, const char *opt, long lo, long hi);

#endif
