/* blip-pack - pack COCO 2014 captions and images (or a Karpathy split) into
 * blip shard files; verify and list shards.
 *
 *   blip-pack [-o DIR] [--split S] [--karpathy FILE]... [--max-side PX] COCO_ROOT
 *   blip-pack --verify PATH...
 *   blip-pack --list PATH...
 *
 * Images are read, checked (JPEG headers and end marker; everything with
 * --full-check) and stored as their original JPEG bytes (decoded and
 * re-encoded only when larger than --max-side, or not JPEG), in
 * parallel chunks written in annotation order, so the output is the same for
 * any thread count. Shards are renamed into place when complete and the
 * manifest is written last. */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "coco.h"
#include "err.h"
#include "fileio.h"
#include "image.h"
#include "jsonio.h"
#include "pool.h"
#include "progress.h"
#include "resize.h"
#include "shard.h"

static const char *USAGE =
    "Usage: blip-pack [options] COCO_ROOT\n"
    "       blip-pack --verify PATH...\n"
    "       blip-pack --list PATH...\n"
    "Pack COCO 2014 captions and images into blip shard files.\n"
    "\n"
    "COCO_ROOT holds annotations/captions_{train,val}2014.json, train2014/ and val2014/.\n"
    "  -o, --output DIR      write DIR/<split>-NNNNN.shard and DIR/manifest.json\n"
    "                        (without -o: one shard stream on stdout)\n"
    "      --split S         train, val, test or all (default all)\n"
    "      --karpathy FILE   take splits and captions from a Karpathy split file\n"
    "                        (dataset_coco.json or BLIP's coco_karpathy_*.json);\n"
    "                        may be repeated\n"
    "      --max-side PX     re-encode images whose longer side exceeds PX\n"
    "      --quality Q       JPEG quality of re-encoded images (default 95)\n"
    "      --shard-size SIZE bound on one shard file, e.g. 512M, 2G (default 256M)\n"
    "  -j, --jobs N          threads (default: all cores)\n"
    "      --strict          a missing or undecodable image is an error, not a skip\n"
    "      --full-check      decode every image completely (default: JPEGs kept as\n"
    "                        they are are checked from their headers and end marker)\n"
    "      --verify          check every checksum and count of the PATHs\n"
    "      --list            print one JSON line per record of the PATHs\n"
    "  -v, --verbose         more detail on stderr\n"
    "  -h, --help            this help\n"
    "PATH is a shard file, a directory of shards, a prefix (shards/val) or - for stdin.\n";

typedef struct {
    const char *root;
    const char *split;       /* train, val, test, all */
    int max_side, quality;
    uint64_t shard_size;
    int strict, full_check;
    DA(const char *) karpathy;
} opts_t;

/* ---- packing --------------------------------------------------------------- */

typedef struct {
    const coco_image_t *im;
    bytes_t rec;      /* encoded record, empty when skipped */
    char *skip;       /* reason when skipped */
    int missing;
} item_t;

typedef struct {
    const opts_t *o;
    item_t *items;
    progress_t *pb;
} chunk_t;

/* Resize so the longer side is max_side (aspect kept, Pillow bicubic) and
 * re-encode as JPEG. */
static uint8_t *shrink(const image_t *im, int max_side, int quality, size_t *len, uint32_t *w, uint32_t *h) {
    image_t out = *im, small = {0};
    if (max_side > 0 && (im->w > max_side || im->h > max_side)) {
        double s = (double)max_side / (im->w > im->h ? im->w : im->h);
        int nw = (int)(im->w * s + 0.5), nh = (int)(im->h * s + 0.5);
        image_alloc(&small, nw < 1 ? 1 : nw, nh < 1 ? 1 : nh);
        resize_rgb8(im, 0, 0, im->w, im->h, &small, RESAMPLE_BICUBIC);
        out = small;
    }
    uint8_t *jpg = image_encode_jpeg(&out, quality, 0, len);
    *w = (uint32_t)out.w;
    *h = (uint32_t)out.h;
    image_free(&small);
    return jpg;
}

/* Check one image file's bytes and encode its record into out. Returns NULL,
 * or why the image cannot be packed (an error message to free). */
static char *encode_image(const opts_t *o, const coco_image_t *im, const uint8_t *buf, size_t n, bytes_t *out) {
    char err[256];
    int w, h;
    if (image_probe(buf, n, &w, &h, err, sizeof err) != 0) return xstrdup(err);
    int too_big = o->max_side > 0 && (w > o->max_side || h > o->max_side);
    int reencode = too_big || image_format(buf, n) != IMG_JPEG;
    image_t px = {0};
    if ((reencode || o->full_check) && image_decode(buf, n, &px, err, sizeof err) != 0) return xstrdup(err);
    shard_record_t rec = {
        .image_id = im->id, .width = (uint32_t)w, .height = (uint32_t)h, .split = im->split,
        .file_name = im->file_name, .image_format = IMG_JPEG, .image = buf, .image_len = n,
        .ncaps = (uint32_t)im->caps.n,
    };
    uint8_t *re = reencode ? shrink(&px, o->max_side, o->quality, &rec.image_len, &rec.width, &rec.height) : NULL;
    if (re) rec.image = re;
    shard_caption_t *caps = xmalloc((im->caps.n ? im->caps.n : 1) * sizeof *caps);
    for (size_t k = 0; k < im->caps.n; k++)
        caps[k] = (shard_caption_t){im->caps.v[k].id, im->caps.v[k].text, (uint32_t)strlen(im->caps.v[k].text)};
    rec.caps = caps;
    shard_encode_record(out, &rec);
    free(caps);
    free(re);
    image_free(&px);
    return NULL;
}

static void pack_one(void *ctx, size_t i, int worker) {
    UNUSED(worker);
    chunk_t *c = ctx;
    item_t *it = &c->items[i];
    char *path = path_join(c->o->root, it->im->file_name);
    size_t n;
    uint8_t *buf = (uint8_t *)try_read_file(path, &n);
    if (!buf) {
        it->skip = xasprintf("%s: %s", path, strerror(errno));
        it->missing = 1;
    } else {
        char *why = encode_image(c->o, it->im, buf, n, &it->rec);
        if (why) it->skip = xasprintf("%s: %s", path, why);
        free(why);
    }
    free(buf);
    free(path);
    progress_add(c->pb, 1);
}

typedef struct {
    json_t *shards;          /* manifest entries */
    shard_writer_t *w;       /* open shard, NULL between shards */
    char *w_name;
    const char *w_split;
    int next_no;             /* next shard number of the split */
    uint64_t images, captions, bytes, skipped, missing;
    json_t *skips;
} out_t;

static void close_shard(out_t *out) {
    if (!out->w) return;
    shard_stats_t st;
    shard_writer_close(out->w, &st);
    out->bytes += st.bytes;
    if (out->w_name) {
        const char *base = strrchr(out->w_name, '/') + 1;
        json_array_append_new(out->shards, json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "file", base, "split",
                                                     out->w_split, "records", (json_int_t)st.records, "captions",
                                                     (json_int_t)st.captions, "bytes", (json_int_t)st.bytes,
                                                     "sha256", st.sha256));
        note(1, "%s: %llu records, %llu bytes", out->w_name, (unsigned long long)st.records, (unsigned long long)st.bytes);
    }
    free(out->w_name);
    out->w = NULL;
    out->w_name = NULL;
}

static void emit_item(out_t *out, const opts_t *o, const char *dir, item_t *it) {
    if (it->skip) {
        if (o->strict) die("%s (image %lld)", it->skip, (long long)it->im->id);
        warn("%s (image %lld skipped)", it->skip, (long long)it->im->id);
        json_array_append_new(out->skips, json_pack("{s:I, s:s, s:s}", "image_id", (json_int_t)it->im->id, "file",
                                                     it->im->file_name, "reason", it->missing ? "missing" : "undecodable"));
        out->skipped++;
        out->missing += it->missing;
        free(it->skip);
        return;
    }
    if (dir && out->w && (strcmp(out->w_split, it->im->split) != 0 ||
                          shard_writer_bytes(out->w) + it->rec.n > o->shard_size))
        close_shard(out);
    if (!out->w) {
        if (dir) {
            if (!out->w_split || strcmp(out->w_split, it->im->split) != 0) out->next_no = 0;
            out->w_split = it->im->split;
            out->w_name = xasprintf("%s/%s-%05d.shard", dir, it->im->split, out->next_no++);
            out->w = shard_writer_open(out->w_name);
        } else {
            out->w = shard_writer_open("-");
        }
    }
    shard_writer_add(out->w, it->rec.v, it->rec.n);
    out->images++;
    out->captions += it->im->caps.n;
    free(it->rec.v);
}

static const char *SPLIT_ORDER[] = {"train", "val", "test"};

static void load_annotations(const opts_t *o, coco_set_t *set) {
    if (o->karpathy.n) {
        for (size_t i = 0; i < o->karpathy.n; i++) coco_load_karpathy(set, o->karpathy.v[i]);
        return;
    }
    if (strcmp(o->split, "test") == 0)
        usage_die("COCO 2014 has no test captions: use --karpathy for the Karpathy test split");
    int found = 0;
    for (int s = 0; s < 2; s++) {
        if (strcmp(o->split, "all") != 0 && strcmp(o->split, SPLIT_ORDER[s]) != 0) continue;
        char *path = xasprintf("%s/annotations/captions_%s2014.json", o->root, SPLIT_ORDER[s]);
        char *dir = xasprintf("%s2014", SPLIT_ORDER[s]);
        if (access(path, F_OK) == 0 || strcmp(o->split, "all") != 0) {
            coco_load_captions(set, path, SPLIT_ORDER[s], dir);
            found++;
        }
        free(path);
        free(dir);
    }
    if (!found) die("%s/annotations: no captions_train2014.json or captions_val2014.json", o->root);
}

/* Remove DIR/<split>-NNNNN.shard files of the packed splits that this run
 * did not write (left from an earlier, larger pack). */
static void remove_stale(const char *dir, const char *split, json_t *shards) {
    char *pat = xasprintf("%s/%s-[0-9]*.shard", dir, split);
    glob_t g;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *base = strrchr(g.gl_pathv[i], '/') + 1;
            int keep = 0;
            size_t k;
            json_t *v;
            json_array_foreach(shards, k, v) keep |= strcmp(json_string_value(json_object_get(v, "file")), base) == 0;
            if (!keep && unlink(g.gl_pathv[i]) == 0) note(1, "%s: removed (stale)", g.gl_pathv[i]);
        }
        globfree(&g);
    }
    free(pat);
}

/* Manifest entries of splits this run does not rewrite, kept from DIR's old manifest. */
static json_t *kept_entries(const char *mpath, const char *split) {
    json_t *kept = json_array();
    if (access(mpath, F_OK) != 0 || strcmp(split, "all") == 0) return kept;
    json_t *old = json_load_path(mpath);
    json_t *shards = json_object_get(old, "shards");
    size_t i;
    json_t *v;
    json_array_foreach(shards, i, v) {
        const char *s = json_string_value(json_object_get(v, "split"));
        if (s && strcmp(s, split) != 0) json_array_append(kept, v);
    }
    json_decref(old);
    return kept;
}

static int pack(const opts_t *o, const char *dir, int jobs) {
    coco_set_t set = {0};
    load_annotations(o, &set);
    DA(const coco_image_t *) todo = {0};
    for (size_t s = 0; s < ARRAY_LEN(SPLIT_ORDER); s++)
        for (size_t i = 0; i < set.images.n; i++)
            if (strcmp(set.images.v[i].split, SPLIT_ORDER[s]) == 0 &&
                (strcmp(o->split, "all") == 0 || strcmp(o->split, SPLIT_ORDER[s]) == 0))
                da_push(&todo, &set.images.v[i]);
    if (todo.n == 0) die("no images in split '%s'", o->split);

    char *mpath = dir ? path_join(dir, "manifest.json") : NULL;
    out_t out = {.shards = json_array(), .skips = json_array()};
    if (dir) {
        mkdir_p(dir);
        json_array_extend(out.shards, kept_entries(mpath, o->split));
        unlink(mpath); /* the old manifest no longer describes the directory */
    } else if (isatty(1)) {
        usage_die("refusing to write a shard stream to a terminal; use -o DIR or redirect stdout");
    }

    pool_t *pool = pool_new(jobs);
    size_t chunk = 32 * (size_t)pool_size(pool);
    item_t *items = xcalloc(chunk, sizeof *items);
    progress_t pb;
    progress_start(&pb, "packing", todo.n);
    double t0 = now_seconds();
    for (size_t start = 0; start < todo.n; start += chunk) {
        size_t n = todo.n - start < chunk ? todo.n - start : chunk;
        memset(items, 0, n * sizeof *items);
        for (size_t i = 0; i < n; i++) items[i].im = todo.v[start + i];
        chunk_t c = {o, items, &pb};
        pool_for(pool, n, pack_one, &c);
        for (size_t i = 0; i < n; i++) emit_item(&out, o, dir, &items[i]);
    }
    close_shard(&out);
    progress_end(&pb);
    double dt = now_seconds() - t0;

    if (dir) {
        for (size_t s = 0; s < ARRAY_LEN(SPLIT_ORDER); s++)
            if (strcmp(o->split, "all") == 0 || strcmp(o->split, SPLIT_ORDER[s]) == 0)
                remove_stale(dir, SPLIT_ORDER[s], out.shards);
        json_t *args = json_pack("{s:s, s:s, s:i, s:i, s:I, s:b, s:b}", "coco_root", o->root, "split", o->split,
                                 "max_side", o->max_side, "quality", o->quality, "shard_size",
                                 (json_int_t)o->shard_size, "strict", o->strict, "full_check", o->full_check);
        json_t *karp = json_array();
        for (size_t i = 0; i < o->karpathy.n; i++) json_array_append_new(karp, json_string(o->karpathy.v[i]));
        json_object_set_new(args, "karpathy", karp);
        json_int_t records = 0, captions = 0; /* over all listed shards, kept ones included */
        size_t i;
        json_t *v;
        json_array_foreach(out.shards, i, v) {
            records += json_integer_value(json_object_get(v, "records"));
            captions += json_integer_value(json_object_get(v, "captions"));
        }
        json_t *m = json_pack("{s:s, s:i, s:s, s:o, s:I, s:I, s:o, s:o}", "format", "blip-shard", "version",
                              SHARD_VERSION, "created_by", "blip-pack", "args", args, "records", records,
                              "captions", captions, "shards", out.shards, "skipped", out.skips);
        json_write_atomic(mpath, m);
        json_decref(m);
    } else {
        json_decref(out.shards);
        json_decref(out.skips);
    }
    if (out.skipped || verbosity)
        fprintf(stderr, "%s: packed %llu images (%llu captions, %.1f MB) in %.1f s, %.0f images/s; skipped %llu (%llu missing, %llu undecodable)\n",
                prog_name(), (unsigned long long)out.images, (unsigned long long)out.captions, out.bytes / 1e6, dt,
                out.images / (dt > 0 ? dt : 1), (unsigned long long)out.skipped, (unsigned long long)out.missing,
                (unsigned long long)(out.skipped - out.missing));
    free(items);
    pool_free(pool);
    free(todo.v);
    free(mpath);
    coco_free(&set);
    return 0;
}

/* ---- verify and list --------------------------------------------------------- */

/* Check a directory against its manifest: every listed shard complete and
 * matching its recorded hash and counts, and no unlisted shard files. */
static int verify_dir(const char *dir) {
    char *mpath = path_join(dir, "manifest.json");
    if (access(mpath, F_OK) != 0) {
        warn("%s: no manifest.json: not a complete pack (interrupted run?)", dir);
        free(mpath);
        return 1;
    }
    json_t *m = json_load_path(mpath);
    json_t *shards = json_need(m, "shards", JSON_ARRAY, mpath);
    int bad = 0;
    uint64_t records = 0, captions = 0;
    size_t i;
    json_t *v;
    json_array_foreach(shards, i, v) {
        char where[600], err[512];
        snprintf(where, sizeof where, "%s: shards[%zu]", mpath, i);
        char *path = path_join(dir, json_need_str(v, "file", where));
        shard_stats_t st;
        if (shard_verify(path, &st, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s: %s\n", prog_name(), path, err);
            bad = 1;
        } else if (strcmp(st.sha256, json_need_str(v, "sha256", where)) != 0 ||
                   (int64_t)st.records != json_need_int(v, "records", where) ||
                   (int64_t)st.captions != json_need_int(v, "captions", where) ||
                   (int64_t)st.bytes != json_need_int(v, "bytes", where)) {
            fprintf(stderr, "%s: %s: does not match the manifest (hash or counts differ)\n", prog_name(), path);
            bad = 1;
        }
        records += st.records;
        captions += st.captions;
        free(path);
    }
    if (!bad && ((int64_t)records != json_need_int(m, "records", mpath) ||
                 (int64_t)captions != json_need_int(m, "captions", mpath))) {
        fprintf(stderr, "%s: %s: totals do not match its shards\n", prog_name(), mpath);
        bad = 1;
    }
    char *pat = path_join(dir, "*.shard");
    glob_t g;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t k = 0; k < g.gl_pathc; k++) {
            const char *base = strrchr(g.gl_pathv[k], '/') + 1;
            int listed = 0;
            json_array_foreach(shards, i, v) listed |= strcmp(json_string_value(json_object_get(v, "file")), base) == 0;
            if (!listed) {
                fprintf(stderr, "%s: %s: not listed in the manifest\n", prog_name(), g.gl_pathv[k]);
                bad = 1;
            }
        }
        globfree(&g);
    }
    free(pat);
    if (!bad) printf("%s: OK (%llu records, %llu captions, %zu shards)\n", dir, (unsigned long long)records,
                     (unsigned long long)captions, json_array_size(shards));
    json_decref(m);
    free(mpath);
    return bad;
}

static int verify(char **paths, int n) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (is_dir(paths[i])) {
            bad |= verify_dir(paths[i]);
            continue;
        }
        shard_stats_t st;
        char err[512];
        if (strcmp(paths[i], "-") != 0 && access(paths[i], F_OK) != 0) {
            fprintf(stderr, "%s: %s: %s\n", prog_name(), paths[i], strerror(errno));
            bad = 1;
        } else if (shard_verify(paths[i], &st, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s: %s\n", prog_name(), paths[i], err);
            bad = 1;
        } else {
            printf("%s: OK (%llu records, %llu captions)\n", paths[i], (unsigned long long)st.records,
                   (unsigned long long)st.captions);
        }
    }
    return bad;
}

static int list(char **paths, int n) {
    shard_record_t rec = {0};
    for (int i = 0; i < n; i++) {
        shard_set_t *s = shard_open(paths[i]);
        while (shard_next(s, &rec)) {
            json_t *caps = json_array();
            for (uint32_t k = 0; k < rec.ncaps; k++)
                json_array_append_new(caps, json_pack("{s:I, s:s}", "id", (json_int_t)rec.caps[k].id, "caption",
                                                      rec.caps[k].text));
            json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:i, s:s, s:I, s:o}", "image_id", (json_int_t)rec.image_id,
                                  "file_name", rec.file_name, "split", rec.split, "width", (int)rec.width, "height",
                                  (int)rec.height, "format", image_format_name(rec.image_format), "bytes",
                                  (json_int_t)rec.image_len, "captions", caps);
            char *line = json_to_string(o, 0);
            puts(line);
            free(line);
            json_decref(o);
        }
        shard_close(s);
    }
    shard_record_free(&rec);
    if (fflush(stdout) != 0) die("stdout: %s", strerror(errno));
    return 0;
}

/* ---- options ------------------------------------------------------------------ */

static uint64_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1 << 10, end++;
    else if (*end == 'M' || *end == 'm') mul = 1 << 20, end++;
    else if (*end == 'G' || *end == 'g') mul = 1 << 30, end++;
    if (end == s || *end || v <= 0 || v * mul < 4096 || v * mul > 1e15)
        usage_die("--shard-size: expected a size like 64K, 256M or 2G (at least 4K), got '%s'", s);
    return (uint64_t)(v * mul);
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    opts_t o = {.split = "all", .quality = 95, .shard_size = 256u << 20};
    const char *outdir = NULL;
    int jobs = 0, mode = 0; /* 0 pack, 'V' verify, 'L' list */
    enum { OPT_SPLIT = 256, OPT_KARPATHY, OPT_MAXSIDE, OPT_QUALITY, OPT_SHARDSIZE, OPT_STRICT, OPT_FULLCHECK, OPT_VERIFY, OPT_LIST };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},        {"split", required_argument, 0, OPT_SPLIT},
        {"karpathy", required_argument, 0, OPT_KARPATHY}, {"max-side", required_argument, 0, OPT_MAXSIDE},
        {"quality", required_argument, 0, OPT_QUALITY}, {"shard-size", required_argument, 0, OPT_SHARDSIZE},
        {"jobs", required_argument, 0, 'j'},          {"strict", no_argument, 0, OPT_STRICT},
        {"full-check", no_argument, 0, OPT_FULLCHECK},
        {"verify", no_argument, 0, OPT_VERIFY},       {"list", no_argument, 0, OPT_LIST},
        {"verbose", no_argument, 0, 'v'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:j:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': outdir = optarg; break;
        case OPT_SPLIT:
            if (strcmp(optarg, "train") && strcmp(optarg, "val") && strcmp(optarg, "test") && strcmp(optarg, "all"))
                usage_die("--split: expected train, val, test or all, got '%s'", optarg);
            o.split = optarg;
            break;
        case OPT_KARPATHY: da_push(&o.karpathy, optarg); break;
        case OPT_MAXSIDE: o.max_side = (int)opt_long(optarg, "--max-side", 1, 65535); break;
        case OPT_QUALITY: o.quality = (int)opt_long(optarg, "--quality", 1, 100); break;
        case OPT_SHARDSIZE: o.shard_size = parse_size(optarg); break;
        case 'j': jobs = (int)opt_long(optarg, "-j", 1, 1024); break;
        case OPT_STRICT: o.strict = 1; break;
        case OPT_FULLCHECK: o.full_check = 1; break;
        case OPT_VERIFY: mode = 'V'; break;
        case OPT_LIST: mode = 'L'; break;
        case 'v': verbosity++; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: usage_die("unknown option");
        }
    }
    if (mode) {
        if (optind >= argc) usage_die("--%s needs at least one PATH", mode == 'V' ? "verify" : "list");
        return mode == 'V' ? verify(argv + optind, argc - optind) : list(argv + optind, argc - optind);
    }
    if (optind != argc - 1) usage_die("expected one COCO_ROOT");
    o.root = argv[optind];
    if (!is_dir(o.root)) die("%s: not a directory", o.root);
    int rc = pack(&o, outdir, jobs);
    free(o.karpathy.v);
    return rc;
}
