/* blip-train - fine-tune the BLIP captioner on packed shards with BLIP's
 * caption recipe (salesforce/BLIP train_caption.py): AdamW, one learning
 * rate per epoch on a cosine from init_lr to min_lr, label-smoothed caption
 * loss, drop_last shuffled batches; checkpoints with exact resume and
 * epoch-end validation (captions, BLEU, CIDEr, best/ by CIDEr + Bleu_4).
 *
 *   blip-train -c CONFIG -o RUN [--init MODEL_DIR] [--val SHARDS] [--set K=V]... SHARDS...
 *   blip-train -o RUN --resume [--set K=V]... SHARDS...
 *
 * RUN gets config.json (the effective recipe), vocab.txt, metrics.jsonl,
 * log.txt, checkpoint-STEP/ (train_ckpt.h), val_epochN.json and best/.
 *
 * Data-parallel (comm.h): `mpirun -np N blip-train ...`, `srun blip-train
 * ...` or `blip-train --gpus N ...` run N ranks. The config's batch_size is
 * per rank; a step takes a global batch of batch_size x ranks x accum_steps
 * samples, rank r taking its slices of it (loader.h), and its loss is the
 * mean over all the global batch's caption tokens, whatever the layout: the
 * ranks' gradients of their token sums are summed and divided by the global
 * token count. So 2 ranks x B train exactly as 1 rank x 2B, and a run
 * resumes with another layout of the same global batch. Rank 0 broadcasts
 * the initial weights and writes every file; validation captions are shared
 * out and gathered. The gradients are reduced in buckets while the backward
 * pass of the step's last batch runs (its scale, the global token count, is
 * reduced first); with --zero 1 each rank keeps the AdamW moments of its
 * shard of the parameters only, updates that shard and all-gathers the
 * weights, and rank 0 gathers the moments to write a checkpoint in the same
 * format, so runs resume with or without ZeRO. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caption.h"
#include "cli.h"
#include "comm.h"
#include "err.h"
#include "fileio.h"
#include "jsonio.h"
#include "launch.h"
#include "loader.h"
#include "model.h"
#include "ops.h"
#include "optim.h"
#include "progress.h"
#include "shard.h"
#include "tokenizer.h"
#include "train_ckpt.h"
#include "train_config.h"
#include "train_eval.h"

static const char *USAGE =
    "Usage: blip-train -c CONFIG -o RUN_DIR [options] SHARDS...\n"
    "       blip-train -o RUN_DIR --resume [options] SHARDS...\n"
    "Fine-tune the BLIP captioner on packed shards with BLIP's caption recipe.\n"
    "SHARDS: shard files, directories or prefixes, joined in this order.\n"
    "\n"
    "  -c, --config FILE   training recipe (configs/caption_coco.json, configs/demo.json);\n"
    "                      with --resume, default RUN_DIR/config.json\n"
    "  -o, --out RUN_DIR   run directory: config, metrics.jsonl, log.txt, checkpoints\n"
    "      --init DIR      start from the weights of a HuggingFace BLIP model directory\n"
    "                      (default: random initialisation of the config's model shape)\n"
    "      --resume        continue from RUN_DIR's newest complete checkpoint\n"
    "      --device D      cpu (default), cuda or cuda:N\n"
    "      --precision P   fp32 or bf16 (default: fp32 on cpu, bf16 mixed on cuda)\n"
    "      --set KEY=VALUE override a config key (repeatable)\n"
    "      --val SHARDS    caption and score these shards at each epoch end\n"
    "  -v, --verbose       log lines on stderr too\n"
    "  -h, --help          this help\n"
    "Data-parallel training (batch_size is per rank):\n"
    "      --gpus N        run N ranks on this machine, one per GPU (--device cuda)\n"
    "      --comm E        auto (default: none for one rank, nccl on GPUs, else mpi),\n"
    "                      none, mpi or nccl\n"
    "      --comm-timeout S  end the job when a collective waits S seconds (default 600; 0: never)\n"
    "      --rendezvous DIR  directory shared by the ranks where rank 0 leaves the NCCL id\n"
    "                      when no MPI launcher started them (default RUN_DIR)\n"
    "      --bucket-mb MB  gradient bucket size (default 25, as torch DDP)\n"
    "      --overlap W     reduce the gradients during the backward pass: auto (default:\n"
    "                      on with nccl; off with mpi, where it was slower on CPUs), on, off\n"
    "      --zero N        0 (default) or 1: ZeRO-1, optimizer state sharded across ranks\n"
    "Launch: mpirun -np N blip-train ...; srun blip-train ...; blip-train --gpus N ...;\n"
    "RANK/WORLD_SIZE/LOCAL_RANK (torchrun style) with --device cuda.\n";

typedef struct {
    const char *config, *run, *init, *val, *device, *precision;
    const char *const *train; /* SHARDS..., concatenated in this order */
    int ntrain, resume;
    DA(const char *) sets;
    int gpus;                  /* --gpus N: launch N local ranks */
    comm_engine_t comm;
    double comm_timeout;
    const char *rendezvous;
    double bucket_mb;
    int overlap, zero;         /* overlap: -1 auto, 0 off, 1 on */
} args_t;

static void parse_args(args_t *a, int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"out", required_argument, 0, 'o'},
        {"init", required_argument, 0, 'I'},   {"resume", no_argument, 0, 'R'},
        {"device", required_argument, 0, 'D'}, {"precision", required_argument, 0, 'P'},
        {"set", required_argument, 0, 'S'},
        {"val", required_argument, 0, 'V'},    {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},         {"gpus", required_argument, 0, 'G'},
        {"comm", required_argument, 0, 'M'},   {"comm-timeout", required_argument, 0, 'T'},
        {"rendezvous", required_argument, 0, 'Z'}, {"bucket-mb", required_argument, 0, 'B'},
        {"overlap", required_argument, 0, 'O'},   {"zero", required_argument, 0, 'z'}, {0, 0, 0, 0}};
    static const char *const ENGINES[] = {"auto", "none", "mpi", "nccl"};
    memset(a, 0, sizeof *a);
    a->comm_timeout = 600;
    a->bucket_mb = 25;
    a->overlap = -1;
    int c;
    while ((c = getopt_long(argc, argv, "c:o:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'o': a->run = optarg; break;
        case 'I': a->init = optarg; break;
        case 'R': a->resume = 1; break;
        case 'D': a->device = optarg; break;
        case 'P': a->precision = optarg; break;
        case 'S': da_push(&a->sets, optarg); break;
        case 'V': a->val = optarg; break;
        case 'G': a->gpus = (int)opt_long(optarg, "--gpus", 1, 1024); break;
        case 'M': {
            size_t e = 0;
            while (e < ARRAY_LEN(ENGINES) && strcmp(optarg, ENGINES[e]) != 0) e++;
            if (e == ARRAY_LEN(ENGINES)) usage_die("--comm: expected auto, none, mpi or nccl, got '%s'", optarg);
            a->comm = (comm_engine_t)e;
            break;
        }
        case 'T': a->comm_timeout = (double)opt_long(optarg, "--comm-timeout", 0, 1L << 30); break;
        case 'Z': a->rendezvous = optarg; break;
        case 'B': {
            char *end;
            a->bucket_mb = strtod(optarg, &end);
            if (end == optarg || *end || !(a->bucket_mb >= 1e-3 && a->bucket_mb <= 4096))
                usage_die("--bucket-mb: expected a number of MiB in [0.001, 4096], got '%s'", optarg);
            break;
        }
        case 'O':
            if (strcmp(optarg, "auto") && strcmp(optarg, "on") && strcmp(optarg, "off"))
                usage_die("--overlap: expected auto, on or off, got '%s'", optarg);
            a->overlap = strcmp(optarg, "auto") == 0 ? -1 : strcmp(optarg, "on") == 0;
            break;
        case 'z': a->zero = (int)opt_long(optarg, "--zero", 0, 1); break;
        case 'v': verbosity++; break;
        case 'h': fputs(USAGE, stdout); exit(0);
        default: usage_die("unknown option (see --help)");
        }
    }
    if (optind == argc) usage_die("expected SHARDS paths (shards, directories or prefixes)");
    a->train = (const char *const *)argv + optind;
    a->ntrain = argc - optind;
    if (!a->run) usage_die("-o RUN_DIR is required");
    if (!a->config && !a->resume) usage_die("-c CONFIG is required for a new run");
    if (a->resume && a->init) usage_die("--init and --resume exclude each other");
    if (!a->device) a->device = a->gpus ? "cuda" : "cpu";
    if (a->gpus && strncmp(a->device, "cuda", 4) != 0)
        usage_die("--gpus N runs one rank per GPU and needs --device cuda; on CPU, start ranks with "
                  "mpirun -np N");
}

/* ---- run log ------------------------------------------------------------ */

static FILE *g_log;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    if (!g_log) return; /* ranks other than 0 */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", gmtime(&now));
    fprintf(g_log, "%s %s\n", ts, msg);
    fflush(g_log);
    note(1, "%s", msg);
}

/* Keep the metrics lines of steps up to `step` (a resumed run rewrites what
 * came after its checkpoint), then open the file for appending. */
static FILE *open_metrics(const char *path, int64_t step) {
    size_t len;
    char *buf = try_read_file(path, &len);
    if (buf) {
        afile_t f;
        afile_open(&f, path);
        for (char *line = buf, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) break;
            json_t *j = json_load_buf(line, (size_t)(nl - line), path);
            if (json_integer_value(json_object_get(j, "step")) <= step)
                afile_write(&f, line, (size_t)(nl - line + 1));
            json_decref(j);
        }
        afile_commit(&f);
        free(buf);
    }
    FILE *f = fopen(path, "a");
    if (!f) die("%s: cannot open for appending", path);
    return f;
}

static void metrics_line(FILE *f, json_t *j) {
    char *s = json_to_string(j, 0);
    fprintf(f, "%s\n", s);
    fflush(f);
    free(s);
    json_decref(j);
}

/* ---- setup -------------------------------------------------------------- */

/* The effective config: CONFIG (or the run's saved one on resume) + --set,
 * for `world` ranks; rank 0 saves and prints it. */
static json_t *effective_config(const args_t *a, const char *ckpt, int rank, int world, train_cfg_t *tc) {
    char *saved = path_join(a->run, "config.json");
    const char *src = a->config ? a->config : saved;
    if (!a->config && access(saved, F_OK) != 0) die("%s: no saved config to resume with; give -c", saved);
    json_t *cfg = train_cfg_load(src);
    for (size_t i = 0; i < a->sets.n; i++) train_cfg_set(cfg, a->sets.v[i]);
    train_cfg_parse(tc, cfg, src);
    if (a->resume) { /* the data position counts global batches of one size and order */
        json_t *was = json_load_path(saved);
        if (!json_equal(json_object_get(was, "seed"), json_object_get(cfg, "seed")))
            die("%s: a resumed run keeps the seed of %s", src, saved);
        train_state_t st;
        ckpt_load_state(ckpt, &st);
        int64_t before = st.global_batch ? st.global_batch : json_integer_value(json_object_get(was, "batch_size"));
        int64_t now = (int64_t)tc->batch_size * world * tc->accum_steps;
        if (before != now)
            die("%s: trained with a global batch of %lld samples per step; this run's is batch_size %d x %d "
                "ranks x accum_steps %d = %lld: resuming needs the same global batch",
                ckpt, (long long)before, tc->batch_size, world, tc->accum_steps, (long long)now);
        json_decref(was);
    }
    if (rank != 0) {
        free(saved);
        return cfg;
    }
    mkdir_p(a->run);
    json_write_atomic(saved, cfg);
    char *s = json_to_string(cfg, 2);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    free(saved);
    return cfg;
}

/* RUN/vocab.txt: kept on resume, else from --init or the config's vocab. */
static char *run_vocab(const args_t *a, const train_cfg_t *tc) {
    char *dst = path_join(a->run, "vocab.txt");
    if (access(dst, F_OK) == 0) return dst;
    char *from = a->init ? path_join(a->init, "vocab.txt") : NULL;
    if (!from || access(from, F_OK) != 0) {
        free(from);
        if (!tc->vocab[0]) die("no vocabulary: give --init a model directory with vocab.txt, or set vocab");
        from = xstrdup(tc->vocab);
    }
    copy_file_atomic(from, dst);
    free(from);
    return dst;
}

/* The model of the run's shape; rank 0 loads or initialises the weights
 * (and on resume the moments and st), which it broadcasts to the others. */
static blip_model_t *make_model(const args_t *a, const train_cfg_t *tc, const tokenizer_t *tok,
                                const char *ckpt, comm_t *comm, train_state_t *st) {
    blip_config_t mc;
    if (ckpt || a->init) {
        char *p = path_join(ckpt ? ckpt : a->init, "config.json");
        blip_config_load(&mc, p);
        free(p);
        mc.image_size = tc->image_size; /* load() resamples position embeddings */
        blip_config_check(&mc, "model");
    } else {
        train_cfg_model(tc, tok->n_vocab, tok->id.bos, tok->id.sep, tok->id.pad, &mc);
    }
    if (tok->n_vocab > mc.vocab)
        die("vocab.txt has %d tokens, more than the model's vocab_size %d", tok->n_vocab, mc.vocab);
    blip_model_t *m = blip_model_new(&mc, tc->batch_size, CAPTION_MAX_TOKENS, a->zero ? BLIP_TRAIN_NO_MOMENTS : 1);
    m->label_smoothing = (float)tc->label_smoothing;
    m->dropout_seed = (uint64_t)tc->seed;
    *st = (train_state_t){.best_score = -1, .best_epoch = -1};
    size_t bytes = m->nfloats * sizeof(float);
    if (comm_rank(comm) == 0) {
        if (ckpt && a->zero) { /* read whole, then scattered (zero_setup) */
            m->m = be_alloc(bytes);
            m->v = be_alloc(bytes);
        }
        if (ckpt) ckpt_load(ckpt, m, st);
        else if (a->init) blip_model_load(m, a->init);
        else blip_model_init(m, (uint64_t)tc->seed);
    }
    comm_bcast(comm, m->w, bytes, 0, 1);
    if (ckpt && !a->zero) {
        comm_bcast(comm, m->m, bytes, 0, 1);
        comm_bcast(comm, m->v, bytes, 0, 1);
    }
    comm_bcast(comm, st, sizeof *st, 0, 0);
    m->dropout_step = st->dropout_step;
    return m;
}

/* ---- training ----------------------------------------------------------- */

typedef struct {
    const args_t *a;
    const train_cfg_t *tc;
    const tokenizer_t *tok;
    comm_t *comm;
    int rank0;              /* this process writes the run directory */
    blip_model_t *m;
    loader_t *train;
    val_set_t *val;
    const char *vocab;
    FILE *metrics;
    train_state_t st;
    int64_t spe, total;     /* optimizer steps per epoch, steps this run aims for */
    adamw_cfg_t opt;
    int overlap;            /* reduce gradients during the backward pass */
    size_t shard;           /* ZeRO-1: floats per rank's shard (0: off) */
    adamw_part_t part;      /* the part of the parameters this rank updates */
} trainer_t;

/* ZeRO-1: this rank's shard and its moments, from rank 0's whole moments
 * (a resumed run's, freed once scattered) or zero. */
static void zero_setup(trainer_t *t, int resumed) {
    blip_model_t *m = t->m;
    t->shard = comm_shard(t->comm, m->nfloats);
    size_t off, len;
    comm_shard_range(t->comm, m->nfloats, t->shard, &off, &len);
    t->part = (adamw_part_t){off, off + len, be_alloc(len * sizeof(float)), be_alloc(len * sizeof(float))};
    if (!resumed) return;
    comm_scatter_shards(t->comm, m->m, t->part.mom, m->nfloats, t->shard);
    comm_scatter_shards(t->comm, m->v, t->part.var, m->nfloats, t->shard);
    be_free(m->m);
    be_free(m->v);
    m->m = m->v = NULL;
}

/* ZeRO-1 around a checkpoint: rank 0 gathers the whole moments (get), and
 * frees them after writing. */
static void zero_moments(trainer_t *t, int get) {
    blip_model_t *m = t->m;
    if (!get) {
        be_free(m->m);
        be_free(m->v);
        m->m = m->v = NULL;
        return;
    }
    if (t->rank0) {
        m->m = be_alloc(m->nfloats * sizeof(float));
        m->v = be_alloc(m->nfloats * sizeof(float));
    }
    comm_gather_shards(t->comm, m->m, t->part.mom, m->nfloats, t->shard);
    comm_gather_shards(t->comm, m->v, t->part.var, m->nfloats, t->shard);
}

static void save(trainer_t *t) {
    if (t->shard) zero_moments(t, 1);
    if (t->rank0) {
        t->st.dropout_step = t->m->dropout_step;
        ckpt_save(t->a->run, t->m, &t->st, t->vocab);
        ckpt_prune(t->a->run, (int)t->tc->keep_last);
        logf_("step %lld: checkpoint saved", (long long)t->st.step);
    }
    if (t->shard) zero_moments(t, 0);
}

static void progress_line(const trainer_t *t, float loss, double lr, double sps, double eta) {
    if (!t->rank0 || !isatty(2)) return;
    fprintf(stderr, "\r\033[Kepoch %lld/%d  step %lld/%lld  loss %.4f  lr %.3g  %.1f samples/s  ETA %.0fs",
            (long long)t->st.epoch, t->tc->max_epoch, (long long)t->st.step, (long long)t->total, loss,
            lr, sps, eta);
}

static void validate(trainer_t *t, int64_t epoch) {
    char *name = xasprintf("val_epoch%lld.json", (long long)epoch);
    char *path = path_join(t->a->run, name);
    scores_t s;
    double t0 = now_seconds();
    val_run(t->val, t->m, t->tok, t->comm, path, &s);
    if (!t->rank0) {
        free(path);
        free(name);
        return;
    }
    double score = s.cider + s.bleu[3];
    metrics_line(t->metrics, json_pack("{s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f, s:f}, s:f}", "step",
                                       (json_int_t)t->st.step, "epoch", (json_int_t)epoch, "val",
                                       "Bleu_1", s.bleu[0], "Bleu_2", s.bleu[1], "Bleu_3", s.bleu[2],
                                       "Bleu_4", s.bleu[3], "ROUGE_L", s.rouge_l, "CIDEr", s.cider,
                                       "seconds", now_seconds() - t0));
    logf_("epoch %lld validation: Bleu_4 %.4f CIDEr %.4f ROUGE_L %.4f (%s)", (long long)epoch, s.bleu[3],
          s.cider, s.rouge_l, name);
    if (score > t->st.best_score) {
        t->st.best_score = score, t->st.best_epoch = epoch;
        ckpt_save_model(t->a->run, "best", t->m, t->vocab);
        logf_("epoch %lld: best so far (CIDEr + Bleu_4 = %.4f), saved best/", (long long)epoch, score);
    }
    free(path);
    free(name);
}

/* The backward pass's hook: start reducing the gradients it finished. */
static void grads_ready(void *comm, size_t off) { comm_grads_ready(comm, off); }

/* One optimizer step on this rank's accum_steps next batches: backward
 * gives each batch's gradient of its token sum (grad_scale = tokens), the
 * ranks' sums are added and divided by the global batch's token count,
 * reduced before the last backward pass so that the gradients can be
 * reduced during it. Returns the mean loss over those tokens. */
static float train_step(trainer_t *t, double lr, float *gnorm) {
    blip_model_t *m = t->m;
    blip_zero_grad(m);
    double sums[2] = {0, 0}; /* token losses, tokens */
    for (int k = 0; k < t->tc->accum_steps; k++) {
        const batch_t *b = loader_next(t->train);
        if (!b) die("step %lld: the data loader ended the epoch early", (long long)t->st.step + 1);
        blip_batch_t bb = {.pixels = b->pixels, .ids = b->caps.ids, .mask = b->caps.mask,
                           .labels = b->caps.labels, .B = b->B, .T = b->caps.T};
        float loss = blip_forward(m, &bb);
        sums[0] += (double)loss * m->n_count, sums[1] += m->n_count;
        m->grad_scale = (float)m->n_count;
        if (k == t->tc->accum_steps - 1) {
            comm_sum(t->comm, sums, 2);
            if (!isfinite(sums[0] / sums[1])) {
                char *last = ckpt_latest(t->a->run);
                die("step %lld: loss is %f; stopping (last checkpoint: %s)", (long long)t->st.step + 1,
                    sums[0] / sums[1], last ? last : "none");
            }
            comm_grads_begin(t->comm, m->g, m->nfloats, (float)(1.0 / sums[1]), t->shard);
            m->grad_ready = t->overlap ? grads_ready : NULL;
            m->grad_ready_ctx = t->comm;
        }
        blip_backward(m);
    }
    m->grad_ready = NULL;
    comm_grads_end(t->comm);
    int step = (int)(t->st.step + 1);
    if (!t->shard) {
        *gnorm = blip_adamw_step(m, &t->opt, (float)lr, step);
    } else { /* the global norm from the shards' shares; update this shard, share the weights */
        double ss = blip_grad_sumsq(m, t->part.lo, t->part.hi);
        comm_sum(t->comm, &ss, 1);
        *gnorm = (float)sqrt(ss);
        blip_adamw_part(m, &t->opt, (float)lr, step, *gnorm, &t->part);
        comm_allgather_shards(t->comm, m->w, m->nfloats, t->shard);
    }
    return (float)(sums[0] / sums[1]);
}

static void train(trainer_t *t) {
    double t_run = now_seconds();
    int64_t start = t->st.step;
    while (t->st.epoch < t->tc->max_epoch && t->st.step < t->total) {
        int64_t epoch = t->st.epoch;
        double lr = lr_cosine(t->tc->init_lr, t->tc->min_lr, (int)epoch, t->tc->max_epoch);
        loader_start(t->train, (uint64_t)epoch, (uint64_t)(t->st.epoch_step * t->tc->accum_steps));
        double t_log = now_seconds();
        int64_t n_log = 0;
        while (t->st.step < t->total && t->st.epoch_step < t->spe) {
            float gnorm, loss = train_step(t, lr, &gnorm);
            t->st.step++, t->st.epoch_step++, n_log += t->st.global_batch;
            double now = now_seconds(), sps = n_log / (now - t_log);
            double eta = (now - t_run) / (double)(t->st.step - start) * (double)(t->total - t->st.step);
            progress_line(t, loss, lr, sps, eta);
            if (t->rank0 && t->st.step % t->tc->log_every == 0) {
                metrics_line(t->metrics, json_pack("{s:I, s:I, s:f, s:f, s:f, s:f}", "step",
                                                   (json_int_t)t->st.step, "epoch", (json_int_t)epoch, "loss",
                                                   (double)loss, "lr", lr, "grad_norm", (double)gnorm,
                                                   "samples_per_s", sps));
                logf_("epoch %lld step %lld/%lld loss %.4f lr %.3g grad_norm %.3f %.1f samples/s",
                      (long long)epoch, (long long)t->st.step, (long long)t->total, loss, lr, gnorm, sps);
                t_log = now, n_log = 0;
            }
            if (t->st.epoch_step == t->spe) break;
            if (t->tc->save_every > 0 && t->st.step % t->tc->save_every == 0) save(t);
        }
        if (t->rank0 && isatty(2)) fputs("\r\033[K", stderr);
        if (t->st.epoch_step < t->spe) break; /* stopped by max_steps */
        t->st.epoch++, t->st.epoch_step = 0;
        if (t->val) validate(t, epoch);
        save(t);
    }
    int saved = t->tc->save_every > 0 && t->st.step % t->tc->save_every == 0;
    if (t->st.epoch_step > 0 && !saved) save(t);
}

/* Join the job: the backend on this rank's GPU (cuda:LOCAL_RANK when
 * several ranks share a machine), then the communicator. */
static comm_t *join(const args_t *a) {
    comm_env_t env;
    comm_env(&env);
    int gpu = strncmp(a->device, "cuda", 4) == 0;
    char dev[32];
    snprintf(dev, sizeof dev, "%s", a->device);
    if (gpu && env.world > 1) {
        if (strchr(a->device, ':')) usage_die("--device %s: with %d ranks each uses the GPU of its local rank; "
                                              "give --device cuda", a->device, env.world);
        snprintf(dev, sizeof dev, "cuda:%d", env.local_rank);
    }
    be_open(dev, a->precision);
    comm_opts_t co = {.engine = a->comm, .gpu = gpu, .rendezvous = a->rendezvous ? a->rendezvous : a->run,
                      .timeout = a->comm_timeout, .bucket_bytes = (size_t)(a->bucket_mb * (1 << 20))};
    comm_t *comm = comm_open(&co);
    if (comm_rank(comm) > 0) { /* errors name the rank */
        static char name[48];
        snprintf(name, sizeof name, "blip-train[rank %d]", comm_rank(comm));
        err_init(name);
    }
    return comm;
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    args_t a;
    parse_args(&a, argc, argv);
    if (a.gpus && !getenv("BLIP_LAUNCHED")) {
#ifndef BLIP_CUDA
        die("--gpus: this build has no CUDA backend (rebuild with make CUDA=1); on CPU, start ranks with "
            "mpirun -np N");
#endif
        return launch_local(a.gpus, argv);
    }
    comm_t *comm = join(&a);
    int rank = comm_rank(comm), W = comm_world(comm);
    char *ckpt = is_dir(a.run) ? ckpt_latest(a.run) : NULL;
    if (a.resume && !ckpt) die("%s: no complete checkpoint to resume from", a.run);
    if (!a.resume && ckpt)
        die("%s: holds checkpoints of an earlier run; use --resume or another directory", a.run);
    train_cfg_t tc;
    json_t *cfg = effective_config(&a, ckpt, rank, W, &tc);
    val_opts_t vo = {.num_beams = tc.num_beams, .max_length = tc.max_length, .min_length = tc.min_length,
                     .batch_size = tc.batch_size, .image_size = tc.image_size, .threads = (int)tc.threads};
    /* rank 0 prepares the run directory; the others read it after the barrier */
    char *vocab = rank == 0 ? run_vocab(&a, &tc) : path_join(a.run, "vocab.txt");
    comm_barrier(comm);
    tokenizer_t *tok = tok_load(vocab);
    char *log_path = path_join(a.run, "log.txt"), *metrics_path = path_join(a.run, "metrics.jsonl");
    if (rank == 0 && !(g_log = fopen(log_path, "a"))) die("%s: cannot open for appending", log_path);

    trainer_t t = {.a = &a, .tc = &tc, .tok = tok, .comm = comm, .rank0 = rank == 0, .vocab = vocab};
    t.m = make_model(&a, &tc, tok, ckpt, comm, &t.st);
    t.overlap = a.overlap >= 0 ? a.overlap : comm_engine(comm) == COMM_NCCL;
    if (a.zero) zero_setup(&t, ckpt != NULL);
    int64_t global = (int64_t)tc.batch_size * W * tc.accum_steps;
    t.st.global_batch = global;
    if (rank == 0) t.metrics = open_metrics(metrics_path, t.st.step);
    adamw_defaults(&t.opt);
    t.opt.weight_decay = (float)tc.weight_decay;
    shard_set_t *shards = shard_open_list(a.train, (size_t)a.ntrain);
    train_aug_t aug = {.min_scale = tc.min_scale, .hflip = tc.hflip, .randaug_n = tc.randaug_n,
                       .randaug_m = tc.randaug_m};
    loader_cfg_t lc = {.image_size = tc.image_size, .batch_size = tc.batch_size, .seed = (uint64_t)tc.seed,
                       .threads = (int)tc.threads, .prefetch = 2, .train = 1, .aug = &aug, .world = 1,
                       .tok = tok};
    lc.rank = rank, lc.world = W; /* this rank's slices of the global batches */
    t.train = loader_new(shards, &lc);
    t.spe = (int64_t)loader_steps_per_epoch(t.train) / tc.accum_steps;
    if (t.spe == 0) die("%s%s: %llu pairs make no global batch of %lld", a.train[0], a.ntrain > 1 ? " ..." : "",
                        (unsigned long long)loader_samples(t.train), (long long)global);
    t.total = t.spe * tc.max_epoch;
    if (tc.max_steps > 0 && tc.max_steps < t.total) t.total = tc.max_steps;
    if (a.val) t.val = val_open(a.val, &vo);
    logf_("%s %s: %llu pairs, %lld steps/epoch of %lld samples, %lld steps%s%s; model %zu parameters; %s; %s, "
          "%g MiB buckets%s%s",
          ckpt ? "resuming from" : "starting", ckpt ? ckpt : a.run,
          (unsigned long long)loader_samples(t.train), (long long)t.spe, (long long)global, (long long)t.total,
          a.val ? ", validating on " : "", a.val ? a.val : "", t.m->nfloats, be_name(), comm_name(comm),
          a.bucket_mb, t.overlap ? " overlapped with the backward pass" : " after the backward pass",
          t.shard ? ", ZeRO-1" : "");

    double t0 = now_seconds();
    train(&t);
    logf_("done: step %lld, epoch %lld, %.1f s", (long long)t.st.step, (long long)t.st.epoch,
          now_seconds() - t0);

    val_free(t.val);
    loader_free(t.train);
    shard_close(shards);
    be_free(t.part.mom);
    be_free(t.part.var);
    blip_model_free(t.m);
    tok_free(tok);
    comm_barrier(comm); /* the others wait for rank 0's last checkpoint */
    comm_close(comm);
    if (t.metrics) fclose(t.metrics);
    if (g_log) fclose(g_log);
    json_decref(cfg);
    free(a.sets.v);
    free(log_path);
    free(metrics_path);
    free(vocab);
    free(ckpt);
    return 0;
}
