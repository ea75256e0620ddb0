/* bench.c - BLIP-base speed on the GPU: a training step (forward, backward,
 * AdamW) and beam-search captioning, with the model's FLOPs, the measured
 * bf16 matmul peak, MFU and device memory. Run by tests/gpu/run; prints one
 * JSON line.
 *
 *   bench train B [STEPS] [CONFIG]    STEPS timed steps (default 10) after 3
 *                                     warm-up steps, captions of 20 tokens
 *   bench gen B [BATCHES] [CONFIG]    beam 3, BLIP's lengths (20 / 5); one
 *                                     warm-up batch, then BATCHES (default 2)
 *   bench peak                        the bf16 matmul rate alone
 * CONFIG: "base" (default: ViT-B/16 at 384 px + BERT-base, random weights)
 * or a config.json. BLIP_DEVICE (default cuda) and BLIP_PRECISION (default:
 * the device's, bf16 on a GPU) pick the backend; built without CUDA it runs
 * on the CPU with no peak rate (to check this program itself).
 *
 * MFU = model FLOPs per step / step time / the bf16 matmul rate measured
 * here (cuBLASLt, 8192^3, bf16 operands, fp32 accumulation). Model FLOPs
 * count 2 per multiply-add of every matmul and of attention (scores and
 * P.V in full, the causal half included, as PyTorch computes them); a
 * training step counts 3x the forward (backward = 2x). Step times are the
 * median over steps, each ended by be_sync(). Memory: the most the backend
 * held at once (be_alloc'd model, activations, scratch), and device memory in
 * use (cudaMemGetInfo) after the last step, in total and as the growth since
 * be_open() (the step loop allocates nothing after the first step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blip_config.h"
#include "err.h"
#include "generate.h"
#include "model.h"
#include "ops.h"
#include "optim.h"
#include "progress.h"
#include "rng.h"

#ifdef BLIP_CUDA
#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include "ops_cuda.h"
#define DEFAULT_DEVICE "cuda"
#else
#define DEFAULT_DEVICE "cpu"
#endif

#define T_TOKENS 20

/* ---- FLOPs ------------------------------------------------------------- */

/* One forward pass over B images and captions of T tokens. */
static double forward_flops(const blip_config_t *c, int B, int T) {
    double Tv = blip_vision_tokens(c), np = Tv - 1, Dv = c->v_hidden, Iv = c->v_inter;
    double kp = 3.0 * c->patch_size * c->patch_size;
    double vit = 2 * np * kp * Dv +                                   /* patch embedding */
                 c->v_layers * (2 * Tv * Dv * (3 * Dv + Dv + 2 * Iv)  /* qkv, proj, fc1, fc2 */
                                + 4 * Tv * Tv * Dv);                   /* scores, P.V */
    double D = c->t_hidden, I = c->t_inter, V = c->vocab;
    double layer = 2 * T * D * (3 * D + D) + 4 * (double)T * T * D /* self-attention */
                   + 2 * T * D * 2 * D + 2 * Tv * Dv * 2 * D      /* cross q, out; k|v of image */
                   + 4 * T * Tv * D                                /* cross scores, P.V */
                   + 2 * T * D * 2 * I;                            /* FFN */
    double txt = c->t_layers * layer + 2 * T * D * D + 2 * T * D * V; /* LM head */
    return B * (vit + txt);
}

/* ---- device queries ----------------------------------------------------- */

#ifdef BLIP_CUDA
#define CK_CUDA(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) die("%s: %s", #x, cudaGetErrorString(e_)); } while (0)
#define CK_BLAS(x) do { cublasStatus_t s_ = (x); if (s_ != CUBLAS_STATUS_SUCCESS) die("%s: status %d", #x, (int)s_); } while (0)

/* The most device memory the backend's be_alloc held at once (GiB). */
static double backend_peak_gib(void) { return (double)be_cuda_peak_bytes() / (1 << 30); }

/* Device memory in use (bytes), all processes and the context included. */
static double mem_used(void) {
    size_t fr, total;
    CK_CUDA(cudaMemGetInfo(&fr, &total));
    return (double)(total - fr);
}

/* bf16 matmul rate in TFLOP/s: D[n, n] = A^T B, bf16 in and out, fp32
 * accumulation, random operands (zeros would draw less power and flatter
 * the clock). */
static double bf16_peak_tflops(void) {
    const int n = 8192, iters = 20;
    size_t elems = (size_t)n * n, ws_bytes = (size_t)64 << 20;
    uint16_t *h = xmalloc(elems * sizeof *h);
    rng_t r;
    rng_init(&r, 5, 0);
    for (size_t i = 0; i < elems; i++) {
        float f = (float)rng_normal(&r);
        uint32_t u;
        memcpy(&u, &f, 4);
        h[i] = (uint16_t)(u >> 16);
    }
    void *a, *b, *d, *ws;
    CK_CUDA(cudaMalloc(&a, elems * 2));
    CK_CUDA(cudaMalloc(&b, elems * 2));
    CK_CUDA(cudaMalloc(&d, elems * 2));
    CK_CUDA(cudaMalloc(&ws, ws_bytes));
    CK_CUDA(cudaMemcpy(a, h, elems * 2, cudaMemcpyHostToDevice));
    CK_CUDA(cudaMemcpy(b, h, elems * 2, cudaMemcpyHostToDevice));
    free(h);
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulPreference_t pref;
    cublasOperation_t ta = CUBLAS_OP_T;
    CK_BLAS(cublasLtCreate(&lt));
    CK_BLAS(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    CK_BLAS(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CK_BLAS(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, n, n, n));
    CK_BLAS(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, n, n, n));
    CK_BLAS(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, n, n, n));
    CK_BLAS(cublasLtMatmulPreferenceCreate(&pref));
    CK_BLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &ws_bytes, sizeof ws_bytes));
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    CK_BLAS(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &res, &nres));
    if (nres < 1) die("cuBLASLt: no bf16 matmul algorithm for %d^3", n);
    float alpha = 1.0f, beta = 0.0f;
    cudaEvent_t e0, e1;
    CK_CUDA(cudaEventCreate(&e0));
    CK_CUDA(cudaEventCreate(&e1));
    for (int i = 0; i < iters + 5; i++) {
        if (i == 5) CK_CUDA(cudaEventRecord(e0, 0));
        CK_BLAS(cublasLtMatmul(lt, op, &alpha, a, la, b, lb, &beta, d, ld, d, ld, &res.algo, ws,
                               ws_bytes, 0));
    }
    CK_CUDA(cudaEventRecord(e1, 0));
    CK_CUDA(cudaEventSynchronize(e1));
    float ms;
    CK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(ld);
    cublasLtMatmulDescDestroy(op);
    cublasLtDestroy(lt);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    cudaFree(d);
    cudaFree(ws);
    return 2.0 * n * n * (double)n * iters / (ms * 1e-3) / 1e12;
}
#else
static double mem_used(void) { return 0.0; }
static double bf16_peak_tflops(void) { return 0.0; }
static double backend_peak_gib(void) { return 0.0; }
#endif

/* ---- the benchmarks ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *random_pixels(const blip_config_t *c, int B, rng_t *r) {
    size_t np = (size_t)B * 3 * c->image_size * c->image_size;
    float *p = xmalloc(np * sizeof *p);
    for (size_t i = 0; i < np; i++) p[i] = (float)rng_normal(r);
    return p;
}

static void bench_train(const blip_config_t *c, int B, int steps, double mem0) {
    int T = T_TOKENS;
    blip_model_t *m = blip_model_new(c, B, T, 1);
    blip_model_init(m, 42);
    rng_t r;
    rng_init(&r, 1, 0);
    float *pixels = random_pixels(c, B, &r);
    size_t nt = (size_t)B * T;
    int32_t *ids = xmalloc(nt * sizeof *ids);
    for (size_t i = 0; i < nt; i++) ids[i] = i % T == 0 ? c->bos_id : (int32_t)rng_below(&r, (uint32_t)c->vocab);
    blip_batch_t b = {.pixels = pixels, .ids = ids, .labels = ids, .B = B, .T = T};
    adamw_cfg_t oc;
    adamw_defaults(&oc);
    double *dt = xmalloc((size_t)steps * sizeof *dt);
    float loss_first = 0, loss_last = 0;
    for (int it = 0; it < 3 + steps; it++) {
        be_sync();
        double t0 = now_seconds();
        blip_zero_grad(m);
        float loss = blip_forward(m, &b);
        blip_backward(m);
        blip_adamw_step(m, &oc, 1e-5f, it + 1);
        be_sync();
        if (it >= 3) dt[it - 3] = now_seconds() - t0;
        if (it == 0) loss_first = loss;
        loss_last = loss;
    }
    double mem1 = mem_used();
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    double step = dt[steps / 2], flops = 3 * forward_flops(c, B, T), peak = bf16_peak_tflops();
    double achieved = flops / step / 1e12;
    printf("{\"mode\": \"train\", \"backend\": \"%s\", \"B\": %d, \"T\": %d, \"image_size\": %d, "
           "\"steps\": %d, \"step_s\": %.5f, \"step_s_min\": %.5f, \"step_s_max\": %.5f, "
           "\"samples_per_s\": %.2f, \"tflop_per_step\": %.6g, \"achieved_tflops\": %.2f, "
           "\"peak_bf16_tflops\": %.1f, \"mfu\": %.4f, \"mem_peak_gib\": %.3f, "
           "\"mem_alloc_gib\": %.3f, \"mem_used_gib\": %.3f, \"loss_first\": %.5f, \"loss_last\": %.5f}\n",
           be_name(), B, T, c->image_size, steps, step, dt[0], dt[steps - 1], B / step,
           flops / 1e12, achieved, peak, peak > 0 ? achieved / peak : 0.0,
           backend_peak_gib(), (mem1 - mem0) / (1 << 30), mem1 / (1 << 30), loss_first, loss_last);
    free(dt);
    free(ids);
    free(pixels);
    blip_model_free(m);
}

static void bench_gen(const blip_config_t *c, int B, int batches, double mem0) {
    gen_cfg_t gc;
    gen_cfg_blip(&gc, c);
    blip_model_t *m = blip_model_new(c, B, gc.max_length, 0);
    blip_model_init(m, 42);
    gen_t *g = gen_new(m, &gc, B);
    rng_t r;
    rng_init(&r, 1, 0);
    /* [DEC] a picture of (ids wrapped into a smaller test vocabulary) */
    const int32_t prompt[4] = {c->bos_id, 1037 % c->vocab, 3861 % c->vocab, 1997 % c->vocab};
    gen_out_t *out = xcalloc((size_t)B, sizeof *out);
    long tokens = 0;
    double t0 = 0;
    for (int k = 0; k <= batches; k++) { /* batch 0 warms up */
        float *pixels = random_pixels(c, B, &r);
        if (k == 1) t0 = now_seconds();
        gen_run(g, pixels, B, prompt, 4, (uint64_t)k * B, out);
        for (int i = 0; k > 0 && i < B; i++) tokens += out[i].n - 4;
        gen_out_free(out, B);
        free(pixels);
    }
    double dt = now_seconds() - t0, mem1 = mem_used();
    int n = B * batches;
    printf("{\"mode\": \"gen\", \"backend\": \"%s\", \"B\": %d, \"beams\": %d, \"images\": %d, "
           "\"seconds\": %.4f, \"captions_per_s\": %.2f, \"mean_new_tokens\": %.2f, "
           "\"mem_peak_gib\": %.3f, \"mem_alloc_gib\": %.3f, \"mem_used_gib\": %.3f}\n",
           be_name(), B, gc.beams, n, dt, n / dt, (double)tokens / n,
           backend_peak_gib(), (mem1 - mem0) / (1 << 30),
           mem1 / (1 << 30));
    free(out);
    gen_free(g);
    blip_model_free(m);
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc < 2 || (strcmp(argv[1], "peak") && (argc < 3 || argc > 5)))
        usage_die("usage: bench train|gen B [STEPS|BATCHES] [CONFIG] | bench peak");
    const char *dev = getenv("BLIP_DEVICE"), *prec = getenv("BLIP_PRECISION");
    be_open(dev && *dev ? dev : DEFAULT_DEVICE, prec && *prec ? prec : NULL);
    if (!strcmp(argv[1], "peak")) {
        printf("{\"mode\": \"peak\", \"backend\": \"%s\", \"peak_bf16_tflops\": %.1f}\n", be_name(),
               bf16_peak_tflops());
        return 0;
    }
    int B = atoi(argv[2]), n = argc > 3 ? atoi(argv[3]) : !strcmp(argv[1], "train") ? 10 : 2;
    if (B < 1 || n < 1) usage_die("B and STEPS/BATCHES: positive integers");
    blip_config_t c;
    if (argc > 4 && strcmp(argv[4], "base")) blip_config_load(&c, argv[4]);
    else blip_config_base(&c);
    double mem0 = mem_used();
    if (!strcmp(argv[1], "train")) bench_train(&c, B, n, mem0);
    else if (!strcmp(argv[1], "gen")) bench_gen(&c, B, n, mem0);
    else usage_die("mode '%s': expected train, gen or peak", argv[1]);
    return 0;
}
