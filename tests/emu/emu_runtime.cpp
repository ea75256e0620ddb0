/* emu_runtime.cpp - the CPU emulator's CUDA runtime (tests/emu/README):
 * device memory as host memory with a table of allocations (so device
 * pointers can be checked), streams that run everything at once, and
 * kernels run as fibers.
 *
 * A launch runs its blocks one after another. Within a block every thread is
 * a fiber on its own stack; the scheduler runs each runnable fiber until it
 * finishes or waits. A warp whose live lanes all wait in a shuffle
 * is released first (each lane then reads its partner's value), otherwise
 * the block when all its live threads wait in __syncthreads; anything else
 * (a barrier some threads skip, a shuffle some lanes skip, lanes waiting at
 * different kinds of barrier) is a deadlock, and the emulator dies. Threads
 * run in a fixed order, so results are deterministic. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "cuda_internal.h"
#include "emu.h"
#include "emu_internal.h"
#include "err.h"

long emu_n_launches, emu_n_syncs, emu_n_mallocs;

/* ---- device memory ---------------------------------------------------------- */

typedef struct {
    char *p;
    size_t bytes;
} alloc_t;
static alloc_t *allocs;
static size_t n_allocs, cap_allocs;

#define POISON_BYTE 0xff /* all-ones floats are NaN */

cudaError_t cudaMalloc(void **p, size_t bytes) {
    emu_n_mallocs++;
    size_t rounded = (bytes + 255) / 256 * 256;
    char *m = (char *)aligned_alloc(256, rounded ? rounded : 256);
    if (!m) return cudaErrorMemoryAllocation;
    memset(m, POISON_BYTE, rounded); /* cudaMalloc leaves memory undefined */
    if (n_allocs == cap_allocs) {
        cap_allocs = cap_allocs ? 2 * cap_allocs : 256;
        allocs = (alloc_t *)xrealloc(allocs, cap_allocs * sizeof *allocs);
    }
    allocs[n_allocs].p = m;
    allocs[n_allocs++].bytes = bytes;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    for (size_t i = 0; i < n_allocs; i++)
        if (allocs[i].p == p) {
            free(p);
            allocs[i] = allocs[--n_allocs];
            return cudaSuccess;
        }
    return p ? cudaErrorInvalidValue : cudaSuccess;
}

void emu_check_device(const void *p, size_t bytes, const char *what) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < n_allocs; i++)
        if (c >= allocs[i].p && c <= allocs[i].p + allocs[i].bytes &&
            bytes <= (size_t)(allocs[i].p + allocs[i].bytes - c))
            return;
    die("emu: %s: %zu bytes at %p are not inside one device allocation", what, bytes, p);
}

/* ---- device, streams, copies ------------------------------------------------- */

struct emu_stream {
    unsigned flags;
};

void emu_check_stream(cudaStream_t s, const char *what) {
    if (!s) die("emu: %s on the legacy default stream (the backend uses cuda.stream)", what);
}

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
    if (device != 0) return cudaErrorInvalidDevice;
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "CPU emulator");
    prop->totalGlobalMem = (size_t)1 << 30;
    return cudaSuccess;
}

/* Two SMs: launch geometry capped at num_sms * 32 blocks (cuda_blocks)
 * then loops grid-stride at small sizes too. */
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
    if (device != 0 || attr != cudaDevAttrMultiProcessorCount) return cudaErrorInvalidValue;
    *value = 2;
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags) {
    *stream = (cudaStream_t)xcalloc(1, sizeof **stream);
    (*stream)->flags = flags;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    emu_check_stream(stream, "cudaStreamSynchronize");
    emu_n_syncs++;
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream) {
    emu_check_stream(stream, "cudaMemsetAsync");
    emu_check_device(p, bytes, "cudaMemsetAsync");
    memset(p, value, bytes);
    return cudaSuccess;
}

/* The kind must say which side is device memory. Overlapping ranges are
 * undefined in CUDA: the emulator dies on them. */
static cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (kind != cudaMemcpyHostToDevice) emu_check_device(src, bytes, "cudaMemcpy source");
    if (kind != cudaMemcpyDeviceToHost) emu_check_device(dst, bytes, "cudaMemcpy destination");
    const char *d = (const char *)dst, *s = (const char *)src;
    if (bytes && d < s + bytes && s < d + bytes) die("emu: cudaMemcpy of overlapping ranges");
    memcpy(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    emu_n_syncs++;
    return copy(dst, src, bytes, kind);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
    emu_check_stream(stream, "cudaMemcpyAsync");
    return copy(dst, src, bytes, kind);
}

static cudaError_t last_error;

cudaError_t cudaGetLastError(void) {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    }
    return "unknown error";
}

/* ---- kernels ------------------------------------------------------------------ */

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

/* Limits of compute capability 9.0. Dynamic shared memory is not used by
 * the backend and not emulated. */
emu_cfg_t emu_cfg(dim3 grid, dim3 block, size_t smem, cudaStream_t stream) {
    emu_check_stream(stream, "kernel launch");
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (threads < 1 || threads > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
        grid.x < 1 || grid.x > 0x7fffffffu || grid.y < 1 || grid.y > 65535 || grid.z < 1 ||
        grid.z > 65535)
        last_error = cudaErrorInvalidConfiguration;
    if (smem) die("emu: dynamic shared memory is not emulated");
    return emu_cfg_t{grid, block};
}

enum { RUNNABLE, AT_SHUFFLE, AT_SYNCTHREADS, FINISHED };

#define STACK_BYTES (256 << 10)

/* Thread t of every block runs on fiber t, made once (ucontext) and then
 * switched with _setjmp/_longjmp, which, unlike swapcontext, make no system
 * call to save the signal mask. A fiber loops: run the kernel body, report
 * FINISHED, wait to be resumed for the next block. */
typedef struct {
    jmp_buf jb;
    int state;
    uint3 idx;   /* threadIdx while it runs */
    double slot; /* a value published for a shuffle or a vote */
} fiber_t;

static fiber_t fibers[1024];
static int n_made;
static jmp_buf scheduler;
static int cur, n_threads, running;
static void (*cur_body)(void *);
static void *cur_arg;

/* The running thread waits (state) until the scheduler resumes it. */
static void wait_as(int state) {
    int me = cur;
    fibers[me].state = state;
    if (!_setjmp(fibers[me].jb)) _longjmp(scheduler, 1);
    cur = me;
    threadIdx = fibers[me].idx;
}

static void fiber_main(void) {
    for (;;) {
        cur_body(cur_arg);
        wait_as(FINISHED);
    }
}

/* Runs fiber t until it waits or finishes; its first run starts it. */
static void resume(int t) {
    cur = t;
    threadIdx = fibers[t].idx;
    if (_setjmp(scheduler)) return;
    if (t < n_made) _longjmp(fibers[t].jb, 1);
    if (t != n_made) die("emu: fiber %d started before fiber %d", t, n_made);
    ucontext_t here, start;
    getcontext(&start);
    start.uc_stack.ss_sp = xmalloc(STACK_BYTES);
    start.uc_stack.ss_size = STACK_BYTES;
    start.uc_link = NULL;
    makecontext(&start, fiber_main, 0);
    n_made++;
    swapcontext(&here, &start); /* never returns here: the fiber jumps to scheduler */
}

void __syncthreads(void) { wait_as(AT_SYNCTHREADS); }

int __syncthreads_or(int predicate) {
    fibers[cur].slot = predicate != 0;
    wait_as(AT_SYNCTHREADS);
    int any = 0;
    for (int t = 0; t < n_threads; t++) any |= fibers[t].state != FINISHED && fibers[t].slot != 0;
    wait_as(AT_SYNCTHREADS); /* everyone reads before any slot is reused */
    return any;
}

/* Every lane publishes v and reads lane (own lane ^ lane_xor) or, with
 * lane_xor < 0, lane src_lane. */
static double shuffle(unsigned mask, double v, int lane_xor, int src_lane) {
    if (mask != 0xffffffffu) die("emu: a warp shuffle with a partial mask is not emulated");
    fibers[cur].slot = v;
    wait_as(AT_SHUFFLE);
    int src = (cur & ~31) | (lane_xor >= 0 ? (cur & 31) ^ (lane_xor & 31) : src_lane & 31);
    if (src >= n_threads || fibers[src].state == FINISHED)
        die("emu: thread %d shuffles from lane %d, which does not take part", cur, src);
    double r = fibers[src].slot;
    wait_as(AT_SHUFFLE); /* every lane reads before any publishes again */
    return r;
}

float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
    return (float)shuffle(mask, v, lane_mask & 31, 0);
}
double __shfl_xor_sync(unsigned mask, double v, int lane_mask) {
    return shuffle(mask, v, lane_mask & 31, 0);
}
unsigned __shfl_sync(unsigned mask, unsigned v, int src_lane) {
    return (unsigned)shuffle(mask, v, -1, src_lane);
}

/* Releases the warps whose live lanes all wait in a shuffle, else all
 * threads when every live one waits in __syncthreads; 0 when none are left. */
static int release(void) {
    int released = 0;
    for (int w = 0; w < n_threads; w += 32) {
        int live = 0, shuffling = 0, end = w + 32 < n_threads ? w + 32 : n_threads;
        for (int t = w; t < end; t++) {
            live += fibers[t].state != FINISHED;
            shuffling += fibers[t].state == AT_SHUFFLE;
        }
        if (live && shuffling == live) {
            for (int t = w; t < end; t++) fibers[t].state = RUNNABLE;
            released = 1;
        }
    }
    if (released) return 1;
    int live = 0, syncing = 0;
    for (int t = 0; t < n_threads; t++) {
        live += fibers[t].state != FINISHED;
        syncing += fibers[t].state == AT_SYNCTHREADS;
    }
    if (!live) return 0;
    if (syncing != live)
        die("emu: deadlock in block (%u, %u, %u): threads wait at different barriers or "
            "a shuffle some lanes skip", blockIdx.x, blockIdx.y, blockIdx.z);
    for (int t = 0; t < n_threads; t++)
        if (fibers[t].state == AT_SYNCTHREADS) fibers[t].state = RUNNABLE;
    return 1;
}

static void run_block(void) {
    for (int t = 0; t < n_threads; t++) {
        fibers[t].state = RUNNABLE;
        fibers[t].slot = 0;
    }
    do {
        for (int t = 0; t < n_threads; t++)
            if (fibers[t].state == RUNNABLE) resume(t);
    } while (release());
}

void emu_run(const emu_cfg_t *cfg, void (*body)(void *), void *arg) {
    if (last_error != cudaSuccess) return; /* not launched; reported by cudaGetLastError */
    if (running) die("emu: kernel launched while another runs (from two host threads?)");
    running = 1;
    emu_n_launches++;
    gridDim = cfg->grid;
    blockDim = cfg->block;
    n_threads = (int)(blockDim.x * blockDim.y * blockDim.z);
    for (int t = 0; t < n_threads; t++)
        fibers[t].idx = uint3{t % blockDim.x, t / blockDim.x % blockDim.y, t / (blockDim.x * blockDim.y)};
    cur_body = body;
    cur_arg = arg;
    for (unsigned z = 0; z < gridDim.z; z++)
        for (unsigned y = 0; y < gridDim.y; y++)
            for (unsigned x = 0; x < gridDim.x; x++) {
                blockIdx.x = x, blockIdx.y = y, blockIdx.z = z;
                run_block();
            }
    running = 0;
}

/* ---- the backend's precision ------------------------------------------------ */

void emu_set_bf16(int on) { cuda.bf16 = on != 0; }

/* ---- scratch contents are undefined between ops -------------------------------- */

/* The test programs link with -Wl,--wrap=_Z12cuda_scratchim, so the
 * backend's calls of cuda_scratch() from other files come here: the buffer
 * is poisoned on every call, and an op that reads scratch it has not written
 * in this call sees NaN instead of zeros or an earlier op's values. */
extern "C" void *__real__Z12cuda_scratchim(int slot, size_t bytes);
extern "C" void *__wrap__Z12cuda_scratchim(int slot, size_t bytes) {
    void *p = __real__Z12cuda_scratchim(slot, bytes);
    memset(p, POISON_BYTE, bytes);
    return p;
}
