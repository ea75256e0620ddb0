/* cpu_strict.c - the "cpu-strict" backend: the CPU backend with host access
 * to device buffers revoked between calls. Every entry point opens the
 * registered buffers, runs the CPU op and closes them again, so model,
 * generation and training code that reads or writes device memory other
 * than through be_upload/be_download/be_copy and ops faults on the CPU in
 * tests, as it would misbehave on a GPU. */
#include "cpu_internal.h"

static void strict_open(const char *precision, int index) {
    cpu_open(precision, index);
    cpu_strict_enable();
}

static void *strict_alloc(size_t bytes) {
    cpu_guard(1);
    void *p = cpu_alloc(bytes);
    cpu_guard(0);
    return p;
}

#define BLIP_OP(name, params, args) \
    static void strict_##name params { cpu_guard(1); cpu_##name args; cpu_guard(0); }
#include "ops_list.h"
#undef BLIP_OP

const backend_t be_cpu_strict = {
    .describe = cpu_describe, .alloc = strict_alloc, .open = strict_open,
#define BLIP_OP(name, params, args) .name = strict_##name,
#include "ops_list.h"
#undef BLIP_OP
};
