/* blip-synth - write a small synthetic captioning dataset in the COCO 2014
 * layout: coloured shapes in simple spatial arrangements, 5 captions each in
 * varied wording, learnable from the pixels. Deterministic for a seed.
 *
 *   OUTDIR/annotations/captions_{train,val}2014.json
 *   OUTDIR/{train,val}2014/COCO_{train,val}2014_%012d.jpg
 *
 * Every 25th image is a grayscale JPEG (its captions name no colours) and
 * every 10th other image a progressive JPEG, so readers meet both kinds. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "image.h"
#include "jsonio.h"
#include "pool.h"
#include "progress.h"
#include "rng.h"

static const char *USAGE =
    "Usage: blip-synth [-n TRAIN_IMAGES] [--val N] [--size PX] [--seed S] [--noise A] [-j N] [-v] OUTDIR\n"
    "Write a synthetic COCO-2014-style captioning dataset (shapes and their arrangement).\n"
    "\n"
    "  -n, --train N     training images (default 2000)\n"
    "      --val N       validation images (default 200)\n"
    "      --size PX     image width and height (default 128, at least 32), or WxH\n"
    "      --noise A     per-pixel noise amplitude 0..100 (default 6); large values\n"
    "                    give photo-sized, slow-to-decode JPEGs for benchmarks\n"
    "      --seed S      random seed (default 0); same seed, same bytes\n"
    "  -j, --jobs N      threads (default: all cores)\n"
    "  -v, --verbose     say what is written\n"
    "  -h, --help        this help\n";

typedef struct {
    const char *name;
    uint8_t rgb[3];
} color_t;

static const color_t COLORS[] = {
    {"red", {220, 40, 40}},   {"green", {40, 170, 60}},   {"blue", {40, 80, 220}},
    {"yellow", {235, 210, 40}}, {"purple", {150, 60, 190}},
};
enum { CIRCLE, SQUARE, TRIANGLE, NSHAPES };
static const char *SHAPES[NSHAPES] = {"circle", "square", "triangle"};
enum { LEFT, RIGHT, ABOVE, BELOW };
static const char *REL[] = {"to the left of", "to the right of", "above", "below"};
static const int INVERSE[] = {RIGHT, LEFT, BELOW, ABOVE};

typedef struct {
    int shape, color;
    double cx, cy, r; /* pixels */
    uint8_t rgb[3];
} object_t;

typedef struct {
    object_t obj[2]; /* obj[0] is REL[rel] of obj[1] */
    int rel, gray, progressive;
    uint8_t bg[3];
} scene_t;

static void sample_scene(scene_t *sc, rng_t *r, int w, int h, int gray) {
    sc->gray = gray;
    sc->rel = (int)rng_below(r, 4);
    do {
        for (int k = 0; k < 2; k++) {
            sc->obj[k].shape = (int)rng_below(r, NSHAPES);
            sc->obj[k].color = (int)rng_below(r, ARRAY_LEN(COLORS));
        }
    } while (sc->obj[0].shape == sc->obj[1].shape && (gray || sc->obj[0].color == sc->obj[1].color));
    int g = 100 + (int)rng_below(r, 90);
    for (int c = 0; c < 3; c++) sc->bg[c] = (uint8_t)(g + (int)rng_below(r, 31) - 15);
    /* near and far positions along the relation's axis, free on the other */
    double near = rng_range(r, 0.2, 0.35), far = rng_range(r, 0.65, 0.8);
    for (int k = 0; k < 2; k++) {
        object_t *o = &sc->obj[k];
        int first = (k == 0) == (sc->rel == LEFT || sc->rel == ABOVE);
        double along = first ? near : far, across = rng_range(r, 0.3, 0.7);
        int horizontal = sc->rel == LEFT || sc->rel == RIGHT;
        o->cx = (horizontal ? along : across) * w;
        o->cy = (horizontal ? across : along) * h;
        o->r = rng_range(r, 0.11, 0.16) * (w < h ? w : h);
        for (int c = 0; c < 3; c++) {
            int v = COLORS[o->color].rgb[c] + (int)rng_below(r, 31) - 15;
            o->rgb[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        if (gray) /* colour is lost: make shapes stand out by brightness */
            memset(o->rgb, k == 0 ? 30 + (int)rng_below(r, 40) : 225 + (int)rng_below(r, 30), 3);
    }
}

static int inside(const object_t *o, double x, double y) {
    double dx = x - o->cx, dy = y - o->cy;
    switch (o->shape) {
    case CIRCLE: return dx * dx + dy * dy <= o->r * o->r;
    case SQUARE: return fabs(dx) <= 0.85 * o->r && fabs(dy) <= 0.85 * o->r;
    default: /* upward triangle: apex at -r, base at +0.8r */
        if (dy < -o->r || dy > 0.8 * o->r) return 0;
        return fabs(dx) <= (dy + o->r) / 1.8; /* half-width r at the base */
    }
}

/* Render with 2x2 supersampling and per-pixel noise of amplitude `noise`. */
static void render(const scene_t *sc, image_t *im, int noise_amp, rng_t *r) {
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++) {
            double acc[3] = {0, 0, 0};
            for (int s = 0; s < 4; s++) {
                double px = x + 0.25 + 0.5 * (s & 1), py = y + 0.25 + 0.5 * (s >> 1);
                const uint8_t *c = sc->bg;
                for (int k = 0; k < 2; k++)
                    if (inside(&sc->obj[k], px, py)) c = sc->obj[k].rgb;
                for (int ch = 0; ch < 3; ch++) acc[ch] += c[ch];
            }
            uint8_t *p = im->px + ((size_t)y * im->w + x) * 3;
            int noise = (int)rng_below(r, 2 * (uint32_t)noise_amp + 1) - noise_amp;
            for (int ch = 0; ch < 3; ch++) {
                int v = (int)lround(acc[ch] / 4) + noise;
                p[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

/* "red circle", or "circle" for grayscale images. */
static void describe(const scene_t *sc, int k, char *buf, size_t n) {
    const object_t *o = &sc->obj[k];
    if (sc->gray) snprintf(buf, n, "%s", SHAPES[o->shape]);
    else snprintf(buf, n, "%s %s", COLORS[o->color].name, SHAPES[o->shape]);
}

static void captions(const scene_t *sc, char out[5][256]) {
    char a[40], b[40];
    describe(sc, 0, a, sizeof a);
    describe(sc, 1, b, sizeof b);
    const char *rel = REL[sc->rel], *inv = REL[INVERSE[sc->rel]];
    const char *inv_word = INVERSE[sc->rel] == BELOW ? "under" : inv;
    snprintf(out[0], 256, "a %s %s a %s", a, rel, b);
    snprintf(out[1], 256, "A %s %s a %s.", b, inv, a);
    snprintf(out[2], 256, "there is a %s %s a %s", b, inv_word, a);
    snprintf(out[3], 256, "a %s and a %s, the %s is %s the %s", a, b, a, rel, b);
    snprintf(out[4], 256, "A %s %s a %s on a plain background", a, rel, b);
}

typedef struct {
    const char *outdir, *split;
    int w, h, n, noise;
    uint64_t seed;
    int64_t first_id;
    scene_t *scenes;
    progress_t *pb;
} job_t;

static char *image_name(const job_t *j, int64_t id) {
    return xasprintf("%s2014/COCO_%s2014_%012lld.jpg", j->split, j->split, (long long)id);
}

static void make_image(void *ctx, size_t i, int worker) {
    UNUSED(worker);
    job_t *j = ctx;
    rng_t r;
    rng_init(&r, j->seed, rng_mix(j->first_id, i));
    scene_t *sc = &j->scenes[i];
    sample_scene(sc, &r, j->w, j->h, i % 25 == 24);
    sc->progressive = !sc->gray && i % 10 == 3;
    image_t im;
    image_alloc(&im, j->w, j->h);
    render(sc, &im, j->noise, &r);
    size_t len;
    int flags = (sc->gray ? JPEG_GRAY : 0) | (sc->progressive ? JPEG_PROGRESSIVE : 0);
    uint8_t *jpg = image_encode_jpeg(&im, 90, flags, &len);
    char *rel = image_name(j, j->first_id + (int64_t)i), *path = path_join(j->outdir, rel);
    write_file_atomic(path, jpg, len);
    free(path);
    free(rel);
    free(jpg);
    image_free(&im);
    progress_add(j->pb, 1);
}

static void write_split(job_t j, int64_t first_ann, pool_t *pool) {
    const char *outdir = j.outdir, *split = j.split;
    int n = j.n;
    char *dir = xasprintf("%s/%s2014", outdir, split);
    mkdir_p(dir);
    j.scenes = xcalloc((size_t)n ? (size_t)n : 1, sizeof(scene_t));
    progress_t pb;
    progress_start(&pb, split, (uint64_t)n);
    j.pb = &pb;
    pool_for(pool, (size_t)n, make_image, &j);
    progress_end(&pb);

    json_t *root = json_object(), *images = json_array(), *anns = json_array();
    json_object_set_new(root, "info", json_pack("{s:s, s:s, s:I}", "description",
                                                "blip-synth: coloured shapes and their arrangement", "version", "1",
                                                "seed", (json_int_t)j.seed));
    json_object_set_new(root, "licenses", json_array());
    int64_t ann = first_ann;
    for (int i = 0; i < n; i++) {
        int64_t id = j.first_id + i;
        char *rel = image_name(&j, id);
        const char *base = strrchr(rel, '/') + 1;
        json_array_append_new(images, json_pack("{s:I, s:s, s:i, s:i}", "id", (json_int_t)id, "file_name", base,
                                                "width", j.w, "height", j.h));
        char caps[5][256];
        captions(&j.scenes[i], caps);
        for (int c = 0; c < 5; c++)
            json_array_append_new(anns, json_pack("{s:I, s:I, s:s}", "image_id", (json_int_t)id, "id",
                                                  (json_int_t)ann++, "caption", caps[c]));
        free(rel);
    }
    json_object_set_new(root, "images", images);
    json_object_set_new(root, "annotations", anns);
    char *ann_path = xasprintf("%s/annotations/captions_%s2014.json", outdir, split);
    json_write_atomic(ann_path, root);
    note(1, "%s: %d images, %d captions", ann_path, n, 5 * n);
    json_decref(root);
    free(ann_path);
    free(j.scenes);
    free(dir);
}

/* "PX" or "WxH", each in [32, 8192]. */
static void parse_size(const char *s, int *w, int *h) {
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (*end == 'x') b = strtol(end + 1, &end, 10);
    if (end == s || *end || a < 32 || b < 32 || a > 8192 || b > 8192)
        usage_die("--size: expected PX or WxH with sides in [32, 8192], got '%s'", s);
    *w = (int)a;
    *h = (int)b;
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    int n_train = 2000, n_val = 200, w = 128, h = 128, noise = 6, jobs = 0;
    uint64_t seed = 0;
    static const struct option opts[] = {
        {"train", required_argument, 0, 'n'}, {"val", required_argument, 0, 'V'},
        {"size", required_argument, 0, 's'},  {"seed", required_argument, 0, 'S'},
        {"jobs", required_argument, 0, 'j'},  {"verbose", no_argument, 0, 'v'},
        {"noise", required_argument, 0, 'N'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:j:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': n_train = (int)opt_long(optarg, "-n", 0, 499999); break;
        case 'V': n_val = (int)opt_long(optarg, "--val", 0, 499999); break;
        case 's': parse_size(optarg, &w, &h); break;
        case 'N': noise = (int)opt_long(optarg, "--noise", 0, 100); break;
        case 'S': seed = (uint64_t)opt_long(optarg, "--seed", 0, 0x7fffffffL); break;
        case 'j': jobs = (int)opt_long(optarg, "-j", 1, 1024); break;
        case 'v': verbosity++; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: usage_die("unknown option");
        }
    }
    if (optind != argc - 1) usage_die("expected one OUTDIR");
    const char *out = argv[optind];
    char *ann_dir = path_join(out, "annotations");
    mkdir_p(ann_dir);
    free(ann_dir);
    pool_t *pool = pool_new(jobs);
    job_t train = {.outdir = out, .split = "train", .w = w, .h = h, .n = n_train, .noise = noise, .seed = seed, .first_id = 1};
    job_t val = train;
    val.split = "val";
    val.n = n_val;
    val.first_id = 500001;
    write_split(train, 1, pool);
    write_split(val, 5000001, pool);
    pool_free(pool);
    return 0;
}
