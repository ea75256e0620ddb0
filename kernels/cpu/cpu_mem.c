/* cpu_mem.c - CPU backend memory: device buffers are 64-byte aligned host
 * memory, copies are memcpy, every op is synchronous. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "err.h"
#include <cblas.h>
#include <omp.h>

/* BLAS runs single-threaded inside the backend's OpenMP threads. */
__attribute__((constructor)) static void cpu_backend_init(void) { openblas_set_num_threads(1); }

void *be_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) die("out of memory allocating %zu bytes", bytes);
    memset(p, 0, rounded);
    return p;
}

void be_free(void *dev) { free(dev); }

void be_upload(void *dev, const void *host, size_t bytes) { memcpy(dev, host, bytes); }

void be_download(void *host, const void *dev, size_t bytes) { memcpy(host, dev, bytes); }

void be_copy(void *dst_dev, const void *src_dev, size_t bytes) { memmove(dst_dev, src_dev, bytes); }

void be_sync(void) {}

const char *be_name(void) {
    static char name[96];
    snprintf(name, sizeof name, "cpu: openblas in %d openmp threads", omp_get_max_threads());
    return name;
}

#define SCRATCH_SLOTS 4
static struct { float *p; size_t n; } scratch[SCRATCH_SLOTS];

float *cpu_scratch(int slot, size_t nfloats) {
    if (nfloats > scratch[slot].n) {
        free(scratch[slot].p);
        scratch[slot].p = be_alloc(nfloats * sizeof(float));
        scratch[slot].n = nfloats;
    }
    return scratch[slot].p;
}
