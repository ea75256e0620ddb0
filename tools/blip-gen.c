/* blip-gen - caption images with a BLIP model: beam search (BLIP's
 * evaluation default), greedy search or nucleus sampling, token-identical to
 * HuggingFace's BlipForConditionalGeneration.generate().
 *
 *   blip-gen [options] MODEL_DIR [INPUT...]
 *
 * INPUT is a shard directory, file, prefix or "-" (a shard stream on stdin;
 * every record), or an image file (JPEG/PNG); without INPUT, image paths are
 * read from stdin, one per line. Images are preprocessed as BLIP's test
 * transform (Pillow-exact bicubic resize to the model's image size,
 * normalize), captioned in batches (generate.h) and printed in input order. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "augment.h"
#include "caption.h"
#include "cli.h"
#include "coco.h"
#include "err.h"
#include "fileio.h"
#include "generate.h"
#include "image.h"
#include "jsonio.h"
#include "model.h"
#include "ops.h"
#include "pool.h"
#include "progress.h"
#include "shard.h"
#include "tokenizer.h"

static const char *USAGE =
    "Usage: blip-gen [options] MODEL_DIR [INPUT...]\n"
    "Caption images with a BLIP model (HuggingFace directory: config.json,\n"
    "model.safetensors, vocab.txt), as BLIP's generate() does.\n"
    "\n"
    "INPUT: shard directories, files or prefixes, - (a shard stream on stdin), or\n"
    "image files (JPEG/PNG); without INPUT, image paths are read from stdin.\n"
    "      --device D               cpu (default), cuda or cuda:N\n"
    "      --precision P            fp32 or bf16 (default: fp32 on cpu, bf16 on cuda)\n"
    "      --beams N                beam search with N beams (default 3; 1 = greedy)\n"
    "      --max-length N           tokens, the 4 of the prompt included (default 20)\n"
    "      --min-length N           likewise (default 5)\n"
    "      --sample                 nucleus sampling (top_p 0.9, top_k 50,\n"
    "                               repetition penalty 1.1, one beam)\n"
    "      --top-p P                sampling's nucleus (default 0.9)\n"
    "      --seed S                 sampling seed (default 0)\n"
    "      --repetition-penalty R   (default 1.0; 1.1 with --sample)\n"
    "      --legacy-scoring         beam scoring of transformers 4.15, the version\n"
    "                               salesforce/BLIP pins (its published results)\n"
    "  -b, --batch N                images decoded together (default 8)\n"
    "      --format F               jsonl (default), coco (one JSON array) or text\n"
    "                               (name<TAB>caption)\n"
    "  -j, --jobs N                 image decoding threads (default: all cores)\n"
    "  -v, --verbose                say what is done, with timings\n"
    "  -h, --help                   this help\n"
    "Exit status 1 when an image could not be read (it is skipped and named).\n";

enum { FMT_JSONL, FMT_COCO, FMT_TEXT };

/* One input image: its bytes until decoded, then its pixels. */
typedef struct {
    uint8_t *bytes;
    size_t len;
    char *name;     /* path, or the record's file name */
    int64_t id;     /* image id, -1 when unknown */
    int ok;
} item_t;

typedef struct {
    int S, B, n, fmt, nout, skipped;
    uint64_t seen;
    item_t *items;  /* [B] */
    float *pixels;  /* [B, 3, S, S]; the decodable ones moved to the front */
    pool_t *pool;
    gen_t *gen;
    const tokenizer_t *tok;
    tok_ids_t prompt;
    gen_out_t *out;
} run_t;

static void prep_one(void *ctx, size_t i, int worker) {
    (void)worker;
    run_t *r = ctx;
    item_t *it = &r->items[i];
    char err[256];
    it->ok = test_transform(it->bytes, it->len, r->S, r->pixels + i * 3 * (size_t)r->S * r->S, err, sizeof err) == 0;
    if (!it->ok) warn("%s: %s (skipped)", it->name, err);
}

static void print_result(run_t *r, const item_t *it, const char *caption) {
    if (r->fmt == FMT_TEXT) {
        printf("%s\t%s\n", it->name, caption);
        return;
    }
    json_t *o = json_object();
    if (it->id >= 0) json_object_set_new(o, "image_id", json_integer(it->id));
    else json_object_set_new(o, "file", json_string(it->name));
    json_object_set_new(o, "caption", json_string(caption));
    char *s = json_dumps(o, JSON_PRESERVE_ORDER);
    if (r->fmt == FMT_COCO) printf("%s%s", r->nout ? ",\n " : "[", s);
    else printf("%s\n", s);
    free(s);
    json_decref(o);
    r->nout++;
}

/* Decode, caption and print the batch gathered so far. */
static void flush_batch(run_t *r) {
    if (!r->n) return;
    pool_for(r->pool, (size_t)r->n, prep_one, r);
    size_t per = 3 * (size_t)r->S * r->S;
    int k = 0;
    for (int i = 0; i < r->n; i++) {
        if (!r->items[i].ok) continue;
        if (k < i) memcpy(r->pixels + k * per, r->pixels + i * per, per * sizeof(float));
        k++;
    }
    if (k) gen_run(r->gen, r->pixels, k, r->prompt.v, (int)r->prompt.n, r->seen, r->out);
    for (int i = 0, j = 0; i < r->n; i++) {
        item_t *it = &r->items[i];
        if (it->ok) {
            char *cap = caption_from_ids(r->tok, r->out[j].ids, (size_t)r->out[j].n);
            print_result(r, it, cap);
            free(cap);
            j++;
        } else {
            r->skipped++;
        }
        free(it->bytes);
        free(it->name);
    }
    if (k) gen_out_free(r->out, k);
    r->seen += (uint64_t)r->n;
    r->n = 0;
    fflush(stdout);
}

/* Queue one image (bytes are taken over). */
static void add_item(run_t *r, uint8_t *bytes, size_t len, const char *name, int64_t id) {
    r->items[r->n++] = (item_t){bytes, len, xstrdup(name), id, 0};
    if (r->n == r->B) flush_batch(r);
}

static void add_file(run_t *r, const char *path) {
    size_t len;
    char *buf = try_read_file(path, &len);
    if (!buf) {
        warn("%s: cannot read (skipped)", path);
        r->skipped++;
        return;
    }
    const char *base = strrchr(path, '/');
    add_item(r, (uint8_t *)buf, len, path, coco_id_from_filename(base ? base + 1 : path));
}

static void add_shards(run_t *r, const char *path) {
    shard_set_t *s = shard_open(path);
    shard_record_t rec = {0};
    while (shard_next(s, &rec)) {
        uint8_t *b = xmalloc(rec.image_len ? rec.image_len : 1);
        memcpy(b, rec.image, rec.image_len);
        add_item(r, b, rec.image_len, rec.file_name, rec.image_id);
    }
    shard_record_free(&rec);
    shard_close(s);
}

/* An image file: an existing regular file that starts like a JPEG or PNG or
 * is named like one; anything else is read as shards. */
static int is_image_file(const char *path) {
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    const char *dot = strrchr(path, '.');
    if (dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"))) return 1;
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    return image_format(head, n) != IMG_UNKNOWN;
}

static double parse_num(const char *s, const char *opt) {
    char *end;
    double v = strtod(s, &end);
    if (*s == 0 || *end) usage_die("%s: expected a number, got '%s'", opt, s);
    return v;
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    enum { O_DEVICE = 256, O_PRECISION, O_BEAMS, O_MAXLEN, O_MINLEN, O_SAMPLE, O_TOPP, O_SEED, O_REP, O_FORMAT, O_LEGACY };
    static const struct option opts[] = {
        {"device", required_argument, 0, O_DEVICE},
        {"precision", required_argument, 0, O_PRECISION},
        {"beams", required_argument, 0, O_BEAMS},
        {"max-length", required_argument, 0, O_MAXLEN},
        {"min-length", required_argument, 0, O_MINLEN},
        {"sample", no_argument, 0, O_SAMPLE},
        {"top-p", required_argument, 0, O_TOPP},
        {"seed", required_argument, 0, O_SEED},
        {"repetition-penalty", required_argument, 0, O_REP},
        {"legacy-scoring", no_argument, 0, O_LEGACY},
        {"batch", required_argument, 0, 'b'},
        {"format", required_argument, 0, O_FORMAT},
        {"jobs", required_argument, 0, 'j'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *device = "cpu", *precision = NULL;
    int beams = -1, max_len = -1, min_len = -1, sample = 0, legacy = 0, batch = 8, fmt = FMT_JSONL, jobs = 0;
    double top_p = -1, rep = -1;
    uint64_t seed = 0;
    int c;
    while ((c = getopt_long(argc, argv, "b:j:vh", opts, NULL)) != -1) {
        switch (c) {
        case O_DEVICE: device = optarg; break;
        case O_PRECISION: precision = optarg; break;
        case O_BEAMS: beams = (int)opt_long(optarg, "--beams", 1, 1000000); break;
        case O_MAXLEN: max_len = (int)opt_long(optarg, "--max-length", 1, 1000000); break;
        case O_MINLEN: min_len = (int)opt_long(optarg, "--min-length", 0, 1000000); break;
        case O_SAMPLE: sample = 1; break;
        case O_LEGACY: legacy = 1; break;
        case O_TOPP: top_p = parse_num(optarg, "--top-p"); break;
        case O_SEED: {
            char *end;
            seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end || *optarg == '-') usage_die("--seed: expected an unsigned integer, got '%s'", optarg);
            break;
        }
        case O_REP: rep = parse_num(optarg, "--repetition-penalty"); break;
        case 'b': batch = (int)opt_long(optarg, "--batch", 1, 1000000); break;
        case O_FORMAT:
            if (!strcmp(optarg, "jsonl")) fmt = FMT_JSONL;
            else if (!strcmp(optarg, "coco")) fmt = FMT_COCO;
            else if (!strcmp(optarg, "text")) fmt = FMT_TEXT;
            else usage_die("--format: jsonl, coco or text, not '%s'", optarg);
            break;
        case 'j': jobs = (int)opt_long(optarg, "--jobs", 1, 1000000); break;
        case 'v': verbosity++; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: usage_die("unknown option (see --help)");
        }
    }
    if (optind >= argc) usage_die("give MODEL_DIR (see --help)");
    if (sample && beams > 1) usage_die("--sample uses one beam (drop --beams %d)", beams);
    const char *dir = argv[optind++];
    be_open(device, precision);

    /* model, tokenizer and settings, all checked before any image is read */
    blip_config_t mc;
    char *cfg_path = path_join(dir, "config.json"), *vocab_path = path_join(dir, "vocab.txt");
    blip_config_load(&mc, cfg_path);
    tokenizer_t *tok = tok_load(vocab_path);
    gen_cfg_t gc;
    gen_cfg_blip(&gc, &mc);
    if (sample) gen_cfg_blip_sample(&gc);
    if (beams > 0) gc.beams = beams;
    if (max_len > 0) gc.max_length = max_len;
    if (min_len >= 0) gc.min_length = min_len;
    if (top_p >= 0) gc.top_p = (float)top_p;
    if (rep >= 0) gc.repetition_penalty = (float)rep;
    gc.seed = seed;
    gc.legacy = legacy;
    char err[256];
    if (gen_cfg_check(&gc, &mc, err, sizeof err)) usage_die("%s", err);
    run_t r = {.S = mc.image_size, .B = batch, .fmt = fmt, .tok = tok};
    caption_prompt_ids(tok, &r.prompt);
    if ((int)r.prompt.n > gc.max_length) usage_die("--max-length %d is shorter than the prompt", gc.max_length);
    blip_model_t *m = blip_model_new(&mc, batch, gc.max_length, 0);
    double t0 = now_seconds();
    blip_model_load(m, dir);
    note(1, "%s: loaded in %.2f s", dir, now_seconds() - t0);
    r.gen = gen_new(m, &gc, batch);
    r.pool = pool_new(jobs ? jobs : cpu_count());
    size_t per = 3 * (size_t)r.S * r.S;
    r.items = xcalloc((size_t)batch, sizeof *r.items);
    r.pixels = xmalloc(batch * per * sizeof(float));
    r.out = xcalloc((size_t)batch, sizeof *r.out);

    t0 = now_seconds();
    if (optind == argc) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (n) add_file(&r, line);
        }
        free(line);
    }
    for (int i = optind; i < argc; i++) {
        if (is_image_file(argv[i])) add_file(&r, argv[i]);
        else add_shards(&r, argv[i]);
    }
    flush_batch(&r);
    if (fmt == FMT_COCO) printf("%s]\n", r.nout ? "" : "[");
    if (fflush(stdout) != 0 || ferror(stdout)) die("stdout: write error");
    double dt = now_seconds() - t0;
    note(1, "%d captions in %.2f s (%.2f captions/s), %d skipped", r.nout, dt, dt > 0 ? r.nout / dt : 0.0,
         r.skipped);

    gen_free(r.gen);
    blip_model_free(m);
    pool_free(r.pool);
    tok_free(tok);
    free(r.prompt.v);
    free(r.items);
    free(r.pixels);
    free(r.out);
    free(cfg_path);
    free(vocab_path);
    if (r.skipped) warn("%d image%s skipped", r.skipped, r.skipped == 1 ? "" : "s");
    return r.skipped ? 1 : 0;
}
