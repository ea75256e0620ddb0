/* cpu_strict.c - the "cpu-strict" backend: the CPU backend with host access
 * to device buffers revoked between calls. Every entry point opens the
 * registered buffers, runs the CPU op and closes them again, so model,
 * generation and training code that reads or writes device memory other
 * than through be_upload/be_download/be_copy and ops faults on the CPU in
 * tests, as it would misbehave on a GPU. */
#include "cpu_internal.h"

#include <pthread.h>

/* Calls may come from several host threads at once (parallel weight
 * upload): buffers open with the first call in and close with the last out. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int inside;

static void enter(void) {
    pthread_mutex_lock(&lock);
    if (inside++ == 0) cpu_guard(1);
    pthread_mutex_unlock(&lock);
}

static void leave(void) {
    pthread_mutex_lock(&lock);
    if (--inside == 0) cpu_guard(0);
    pthread_mutex_unlock(&lock);
}

static void strict_open(const char *precision, int index) {
    cpu_open(precision, index);
    cpu_strict_enable();
}

static void *strict_alloc(size_t bytes) {
    enter();
    void *p = cpu_alloc(bytes);
    leave();
    return p;
}

#define BLIP_OP(name, params, args) \
    static void strict_##name params { enter(); cpu_##name args; leave(); }
#include "ops_list.h"
#undef BLIP_OP

const backend_t be_cpu_strict = {
    .describe = cpu_describe, .alloc = strict_alloc, .open = strict_open,
    .attn_state_floats = cpu_attn_state_floats,
#define BLIP_OP(name, params, args) .name = strict_##name,
#include "ops_list.h"
#undef BLIP_OP
};
