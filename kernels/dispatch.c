/* dispatch.c - the op functions of ops.h, forwarding to the backend that
 * be_open() selected (the CPU backend until then). */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

static const backend_t *be = &be_cpu;
static int opened;

/* "cuda:1" -> base "cuda", index 1; "cuda" -> index -1. */
static int split_device(const char *device, char *base, size_t cap) {
    const char *colon = strchr(device, ':');
    size_t n = colon ? (size_t)(colon - device) : strlen(device);
    if (n >= cap) n = cap - 1;
    memcpy(base, device, n);
    base[n] = 0;
    if (!colon) return -1;
    char *end;
    long idx = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || idx < 0 || idx > 1023) usage_die("device '%s': bad index", device);
    return (int)idx;
}

void be_open(const char *device, const char *precision) {
    if (opened) die("be_open: a backend is already open");
    char base[32];
    int index = split_device(device, base, sizeof base);
    if (!strcmp(base, "cpu")) be = &be_cpu;
    else if (!strcmp(base, "cpu-strict")) be = &be_cpu_strict;
#ifdef BLIP_CUDA
    else if (!strcmp(base, "cuda")) be = &be_cuda;
#else
    else if (!strcmp(base, "cuda")) die("device %s: this build has no CUDA backend (rebuild with make CUDA=1)", device);
#endif
    else usage_die("device '%s': expected cpu, cuda or cuda:N", device);
    if (!precision) precision = be == &be_cpu || be == &be_cpu_strict ? "fp32" : "bf16";
    if (strcmp(precision, "fp32") && strcmp(precision, "bf16"))
        usage_die("precision '%s': expected fp32 or bf16", precision);
    be->open(precision, index);
    opened = 1;
}

void *be_alloc(size_t bytes) { return be->alloc(bytes); }

const char *be_name(void) { return be->describe(); }

size_t be_attn_state_floats(const attn_shape_t *s) { return be->attn_state_floats(s); }

#define BLIP_OP(name, params, args) void name params { be->name args; }
#include "ops_list.h"
#undef BLIP_OP
