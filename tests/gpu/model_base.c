/* model_base.c - a BLIP-base-sized captioner (ViT-B/16 at 384 px, BERT-base
 * decoder, random weights, text dropout 0.1 on) forward and backward on the
 * CUDA backend against the CPU backend: the loss, the logits and every
 * parameter's gradient. Run by tests/gpu/run.
 *
 *   model_base fp32|bf16 [B]     B images with 20-token captions (default 2);
 *                                BLIP_DEVICE: another device than cuda (cpu or
 *                                cpu-strict check this program without a GPU)
 *
 * The CPU side runs in a child forked before CUDA starts and leaves its
 * results in shared memory; both sides draw the same weights (seed 42),
 * batch and dropout masks (Philox, counted by element).
 * Errors are max |gpu - cpu| / max |cpu| per tensor; for gradients the
 * denominator is floored at 1e-5 of the largest gradient anywhere, as in
 * test_model.c (attention key biases have an analytically zero gradient,
 * both sides round noise). fp32 asserts: loss 1e-5 relative, logits 1e-4,
 * each gradient tensor 1e-3 (24 layers of fp32 rounding in two summation
 * orders; test_model.c holds 1e-4 against PyTorch on 3-layer models).
 * bf16 asserts the loss within 1e-2 and finite gradients; its logits and
 * gradient errors are printed, not asserted (no bound is known for bf16
 * rounding through 24 layers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blip_config.h"
#include "err.h"
#include "model.h"
#include "model_internal.h"
#include "ops.h"
#include "rng.h"

#ifdef BLIP_CUDA
#define TESTED_DEVICE "cuda"
#else
#define TESTED_DEVICE "cpu-strict"
#endif

#define T_TOKENS 20

typedef struct {
    float loss;
    float *logits; /* [B, T, V] */
    float *grads;  /* [nfloats] */
} side_t;

static blip_config_t base_config(void) {
    blip_config_t c;
    blip_config_base(&c);
    c.t_hidden_dropout = 0.1;
    c.t_attn_dropout = 0.1;
    return c;
}

/* The batch: normal pixels, [DEC] + random words + [SEP], the second and
 * later captions shorter and padded. */
static void make_batch(const blip_config_t *c, int B, float **pixels, int32_t **ids, int32_t **mask,
                       int32_t **labels) {
    size_t np = (size_t)B * 3 * c->image_size * c->image_size, nt = (size_t)B * T_TOKENS;
    *pixels = xmalloc(np * sizeof **pixels);
    *ids = xmalloc(nt * sizeof **ids);
    *mask = xmalloc(nt * sizeof **mask);
    *labels = xmalloc(nt * sizeof **labels);
    rng_t r;
    rng_init(&r, 3, 0);
    for (size_t i = 0; i < np; i++) (*pixels)[i] = (float)rng_normal(&r);
    for (int b = 0; b < B; b++) {
        int len = b == 0 ? T_TOKENS : T_TOKENS - 1 - (int)rng_below(&r, T_TOKENS / 2);
        for (int t = 0; t < T_TOKENS; t++) {
            size_t i = (size_t)b * T_TOKENS + t;
            int32_t id = t == 0 ? c->bos_id : t == len - 1 ? c->sep_id : t < len ? 1000 + (int32_t)rng_below(&r, 20000) : c->pad_id;
            (*ids)[i] = id;
            (*mask)[i] = t < len;
            (*labels)[i] = t < len ? id : -100;
        }
    }
}

static void run_side(const char *device, const char *precision, int B, side_t *out) {
    be_open(device, precision);
    blip_config_t c = base_config();
    blip_model_t *m = blip_model_new(&c, B, T_TOKENS, 1);
    blip_model_init(m, 42);
    m->dropout_seed = 7;
    float *pixels;
    int32_t *ids, *mask, *labels;
    make_batch(&c, B, &pixels, &ids, &mask, &labels);
    blip_batch_t b = {.pixels = pixels, .ids = ids, .mask = mask, .labels = labels, .B = B,
                      .T = T_TOKENS};
    blip_zero_grad(m);
    out->loss = blip_forward(m, &b);
    blip_get_logits(m, out->logits);
    blip_backward(m);
    be_download(out->grads, m->g, m->nfloats * sizeof(float));
    blip_model_free(m);
    free(pixels);
    free(ids);
    free(mask);
    free(labels);
}

/* max |a - b| / max(max |b|, floor); non-finite a gives INFINITY */
static double rel_err(const float *a, const float *b, size_t n, double floor) {
    double d = 0.0, mx = floor;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        d = fmax(d, fabs((double)a[i] - b[i]));
        mx = fmax(mx, fabs((double)b[i]));
    }
    return mx > 0 ? d / mx : d;
}

static void *shared(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap %zu bytes failed", bytes);
    return p;
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    if (argc < 2 || argc > 3 || (strcmp(argv[1], "fp32") && strcmp(argv[1], "bf16")))
        usage_die("usage: model_base fp32|bf16 [B]");
    int bf16 = strcmp(argv[1], "bf16") == 0, B = argc > 2 ? atoi(argv[2]) : 2;
    if (B < 1 || B > 64) usage_die("B: expected 1..64");
    /* parameter table (host only) to size the results and name gradients */
    blip_model_t layout = {.cfg = base_config()};
    blip_params_build(&layout);
    size_t nl = (size_t)B * T_TOKENS * layout.cfg.vocab, ng = layout.nfloats;
    side_t *cpu = shared(sizeof *cpu);
    cpu->logits = shared(nl * sizeof(float));
    cpu->grads = shared(ng * sizeof(float));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        run_side("cpu", "fp32", B, cpu);
        _exit(0);
    }
    side_t gpu = {.logits = xmalloc(nl * sizeof(float)), .grads = xmalloc(ng * sizeof(float))};
    const char *dev = getenv("BLIP_DEVICE");
    run_side(dev && *dev ? dev : TESTED_DEVICE, argv[1], B, &gpu);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("the CPU side failed (status 0x%x)", st);
    printf("model_base: %s, %s, B %d T %d, %zu parameters\n", be_name(), argv[1], B, T_TOKENS, ng);

    double le = fabs((double)gpu.loss - cpu->loss) / fabs((double)cpu->loss);
    printf("  loss %.8f vs cpu %.8f: rel err %.3g\n", gpu.loss, cpu->loss, le);
    int failed = !(isfinite(le) && le < (bf16 ? 1e-2 : 1e-5));
    printf("%s base_%s_loss\n", failed ? "FAIL" : "PASS", argv[1]);

    double lo = rel_err(gpu.logits, cpu->logits, nl, 0.0);
    printf("  logits max rel err %.3g\n", lo);
    if (!bf16) {
        failed += !(lo < 1e-4);
        printf("%s base_fp32_logits\n", lo < 1e-4 ? "PASS" : "FAIL");
    }

    double gmax = 0.0, worst = 0.0;
    for (size_t i = 0; i < ng; i++) gmax = fmax(gmax, fabs((double)cpu->grads[i]));
    const char *worst_name = "";
    int over = 0, nonfinite = 0;
    for (size_t i = 0; i < layout.nparams; i++) {
        const blip_param_t *p = &layout.params[i];
        double e = rel_err(gpu.grads + p->off, cpu->grads + p->off, p->n, 1e-5 * gmax);
        nonfinite += isinf(e);
        if (e > 1e-3) {
            if (!bf16 && over < 10) printf("  gradient %s: max rel err %.3g\n", p->name, e);
            over++;
        }
        if (e > worst) worst = e, worst_name = p->name;
    }
    printf("  gradients: worst %s %.3g; %d of %zu tensors over 1e-3, %d not finite\n", worst_name,
           worst, over, layout.nparams, nonfinite);
    int gbad = bf16 ? nonfinite : over;
    failed += gbad != 0;
    printf("%s base_%s_grads\n", gbad ? "FAIL" : "PASS", argv[1]);
    return failed ? 1 : 0;
}
