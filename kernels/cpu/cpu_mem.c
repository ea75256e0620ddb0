/* cpu_mem.c - CPU backend memory and its backend table: device buffers are
 * 64-byte aligned host memory, copies are memcpy, every op is synchronous.
 *
 * In strict mode (be_open("cpu-strict")) buffers are whole pages kept in a
 * registry, so cpu_strict.c can revoke host access to all of them between
 * ops: a caller that dereferences device memory itself crashes on the CPU
 * exactly where it would read garbage on a GPU. */
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_internal.h"
#include "err.h"
#include <omp.h>


typedef struct { void *p; size_t bytes; } region_t;
static int strict;
static DA(region_t) regions;
static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;

void cpu_strict_enable(void) { strict = 1; }

void cpu_guard(int open) {
    pthread_mutex_lock(&regions_lock);
    for (size_t i = 0; i < regions.n; i++)
        if (mprotect(regions.v[i].p, regions.v[i].bytes, open ? PROT_READ | PROT_WRITE : PROT_NONE))
            die("cpu-strict: mprotect: %s", strerror(errno));
    pthread_mutex_unlock(&regions_lock);
}

void *cpu_alloc(size_t bytes) {
    size_t align = strict ? (size_t)sysconf(_SC_PAGESIZE) : 64;
    size_t rounded = (bytes + align - 1) / align * align;
    if (!rounded) rounded = align;
    void *p = aligned_alloc(align, rounded);
    if (!p) die("out of memory allocating %zu bytes", bytes);
    memset(p, 0, rounded);
    if (strict) {
        pthread_mutex_lock(&regions_lock);
        da_push(&regions, ((region_t){p, rounded}));
        pthread_mutex_unlock(&regions_lock);
    }
    return p;
}

void cpu_be_free(void *dev) {
    pthread_mutex_lock(&regions_lock);
    for (size_t i = 0; i < regions.n; i++)
        if (regions.v[i].p == dev) regions.v[i] = regions.v[--regions.n];
    pthread_mutex_unlock(&regions_lock);
    free(dev);
}

void cpu_be_upload(void *dev, const void *host, size_t bytes) { memcpy(dev, host, bytes); }

void cpu_be_download(void *host, const void *dev, size_t bytes) { memcpy(host, dev, bytes); }

void cpu_be_copy(void *dst_dev, const void *src_dev, size_t bytes) { memmove(dst_dev, src_dev, bytes); }

void cpu_be_sync(void) {}

const char *cpu_describe(void) {
    static char name[96];
    snprintf(name, sizeof name, "cpu%s: openblas in %d openmp threads", strict ? "-strict" : "",
             omp_get_max_threads());
    return name;
}

void cpu_open(const char *precision, int index) {
    if (index >= 0) die("device cpu takes no index (cpu:%d)", index);
    if (strcmp(precision, "fp32"))
        die("precision %s needs the CUDA backend; the CPU backend computes in fp32", precision);
}

#define SCRATCH_SLOTS 4
static struct { float *p; size_t n; } scratch[SCRATCH_SLOTS];

float *cpu_scratch(int slot, size_t nfloats) {
    if (nfloats > scratch[slot].n) {
        cpu_be_free(scratch[slot].p);
        scratch[slot].p = cpu_alloc(nfloats * sizeof(float));
        scratch[slot].n = nfloats;
    }
    return scratch[slot].p;
}

const backend_t be_cpu = {
    .describe = cpu_describe, .alloc = cpu_alloc, .open = cpu_open,
    .attn_state_floats = cpu_attn_state_floats,
#define BLIP_OP(name, params, args) .name = cpu_##name,
#include "ops_list.h"
#undef BLIP_OP
};
