/* blip-score - COCO caption metrics (BLEU-1..4, ROUGE-L, CIDEr-D) identical
 * to pycocoevalcap's COCOEvalCap, from files or a pipe.
 *
 *   blip-score [--json] [--per-image FILE] [--metrics LIST] [--dedup] REFS [RESULTS]
 *
 * REFS is a COCO caption file (captions_val2014.json, BLIP's
 * coco_karpathy_test_gt.json); RESULTS (a file, or - / absent for stdin) is a
 * COCO results array [{"image_id": int, "caption": str}, ...] or JSON lines
 * of the same objects (what blip-gen prints). As COCOEvalCap does, the
 * images with a result are scored in the order of REFS, references and
 * results are PTB-tokenized (ptbtok.h) and scored by metrics.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco.h"
#include "err.h"
#include "fileio.h"
#include "jsontape.h"
#include "metrics.h"
#include "progress.h"

static const char *USAGE =
    "Usage: blip-score [options] REFS [RESULTS]\n"
    "Score captions with BLEU-1..4, ROUGE-L and CIDEr-D exactly as pycocoevalcap.\n"
    "\n"
    "REFS is a COCO caption file (captions_val2014.json, coco_karpathy_test_gt.json).\n"
    "RESULTS is a COCO results JSON array of {\"image_id\", \"caption\"} or JSON lines of\n"
    "the same objects; - or absent reads stdin. The images with a result are scored.\n"
    "      --json            print one JSON object with pycocoevalcap's metric names\n"
    "      --per-image FILE  write each image's scores to FILE (JSON array, - = stdout)\n"
    "      --metrics LIST    comma-separated subset of bleu,rouge,cider (default all)\n"
    "      --dedup           keep the first result of an image given twice\n"
    "                        (default: an error)\n"
    "  -v, --verbose         counts and timings on stderr\n"
    "  -h, --help            this help\n";

typedef struct {
    int64_t id;
    const char *caption;
} result_t;
typedef DA(result_t) results_t;

/* One result object, named in errors by its place (NAME: result [i] in an
 * array, NAME:LINE in JSON lines) and, once known, its image id. */
static void add_result(results_t *rs, const jt_t *obj, const char *name, size_t pos, int lines) {
    result_t r;
    r.id = jt_need_int(obj, "image_id", lines ? "%s:%zu" : "%s: result [%zu]", name, pos);
    r.caption = jt_need_str(obj, "caption", lines ? "%s:%zu (image_id %lld)" : "%s: result [%zu] (image_id %lld)",
                            name, pos, (long long)r.id);
    da_push(rs, r);
}

/* Parses RESULTS (array or JSON lines; named `name` in errors) into doc,
 * which owns the captions. */
static void load_results(const char *path, const char *name, jt_doc_t *doc, results_t *rs) {
    size_t len;
    char *buf = read_file(strcmp(path, "-") ? path : "/dev/stdin", &len);
    size_t first = strspn(buf, " \t\r\n");
    if (buf[first] == '[') {
        const jt_t *arr = jt_load_buf(doc, buf, len, name), *v = jt_first(arr);
        for (size_t i = 0; i < arr->len; i++, v = jt_next(v)) add_result(rs, v, name, i, 0);
    } else {
        DA(size_t) roots = {0}, linenos = {0};
        size_t lineno = 0;
        for (char *line = buf; line < buf + len;) {
            char *nl = memchr(line, '\n', (size_t)(buf + len - line));
            size_t ll = nl ? (size_t)(nl - line) : (size_t)(buf + len - line);
            lineno++;
            if (strspn(line, " \t\r") < ll) {
                jt_error_t e;
                long root = jt_parse(doc, line, ll, 0, &e);
                if (root < 0) die("%s:%zu:%ld: malformed JSON: %s", name, lineno, e.col, e.text);
                da_push(&roots, (size_t)root);
                da_push(&linenos, lineno);
            }
            line += ll + 1;
        }
        for (size_t i = 0; i < roots.n; i++) add_result(rs, &doc->v.v[roots.v[i]], name, linenos.v[i], 1);
        free(roots.v);
        free(linenos.v);
    }
    free(buf);
    if (!rs->n) die("%s: no results", name);
}

static unsigned parse_metrics(const char *list) {
    unsigned m = 0;
    char *s = xstrdup(list), *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcasecmp(t, "bleu")) m |= METRIC_BLEU;
        else if (!strcasecmp(t, "rouge") || !strcasecmp(t, "rouge_l")) m |= METRIC_ROUGE;
        else if (!strcasecmp(t, "cider")) m |= METRIC_CIDER;
        else usage_die("--metrics: unknown metric '%s' (expected bleu, rouge, cider)", t);
    }
    free(s);
    if (!m) usage_die("--metrics: empty list");
    return m;
}

/* Python's repr() of a float: the shortest digits that read back the same,
 * in fixed notation for exponents -4..15, else as 1.5e-05. */
static void fmt_double(char out[32], double v) {
    int p = 1;
    for (;; p++) {
        snprintf(out, 32, "%.*e", p - 1, v);
        if (p == 17 || strtod(out, NULL) == v) break;
    }
    int exp = atoi(strchr(out, 'e') + 1);
    if (exp >= -4 && exp < 16) {
        int decimals = p - 1 - exp > 0 ? p - 1 - exp : 0;
        snprintf(out, 32, "%.*f", decimals, v);
        if (!decimals) strcat(out, ".0");
    }
}

static const char *const NAMES[6] = {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"};

static int shown(unsigned metrics, int m) {
    return metrics & (m < 4 ? METRIC_BLEU : m == 4 ? METRIC_ROUGE : METRIC_CIDER);
}
static double value(const scores_t *s, int m) { return m < 4 ? s->bleu[m] : m == 4 ? s->rouge_l : s->cider; }

/* {"Bleu_1": ..., ...} of the selected metrics, after `prefix`. */
static void write_object(FILE *f, const char *prefix, const scores_t *s, unsigned metrics) {
    fprintf(f, "{%s", prefix);
    int first = !*prefix;
    for (int m = 0; m < 6; m++) {
        if (!shown(metrics, m)) continue;
        char d[32];
        fmt_double(d, value(s, m));
        fprintf(f, "%s\"%s\": %s", first ? "" : ", ", NAMES[m], d);
        first = 0;
    }
    fputc('}', f);
}

static void write_per_image(const char *path, const int64_t *ids, const scores_t *per, size_t n, unsigned metrics) {
    afile_t a;
    afile_open(&a, path);
    fputs("[\n", a.f);
    for (size_t i = 0; i < n; i++) {
        char prefix[48];
        snprintf(prefix, sizeof prefix, "\"image_id\": %lld", (long long)ids[i]);
        write_object(a.f, prefix, &per[i], metrics);
        fputs(i + 1 < n ? ",\n" : "\n", a.f);
    }
    fputs("]\n", a.f);
    afile_commit(&a);
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    int json = 0, dedup = 0;
    const char *per_image = NULL;
    unsigned metrics = METRIC_ALL;
    enum { OPT_JSON = 256, OPT_PER_IMAGE, OPT_METRICS, OPT_DEDUP };
    static const struct option opts[] = {
        {"json", no_argument, 0, OPT_JSON},       {"per-image", required_argument, 0, OPT_PER_IMAGE},
        {"metrics", required_argument, 0, OPT_METRICS}, {"dedup", no_argument, 0, OPT_DEDUP},
        {"verbose", no_argument, 0, 'v'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_PER_IMAGE: per_image = optarg; break;
        case OPT_METRICS: metrics = parse_metrics(optarg); break;
        case OPT_DEDUP: dedup = 1; break;
        case 'v': verbosity++; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: usage_die("unknown option (see --help)");
        }
    }
    if (optind >= argc || argc - optind > 2) usage_die("expected REFS [RESULTS] (see --help)");
    const char *refs_path = argv[optind], *res_path = optind + 1 < argc ? argv[optind + 1] : "-";
    double t0 = now_seconds();

    coco_set_t set = {0};
    coco_load_captions(&set, refs_path, NULL, NULL);
    results_t rs = {0};
    jt_doc_t res_doc = {0};
    const char *res_name = strcmp(res_path, "-") ? res_path : "<stdin>";
    load_results(res_path, res_name, &res_doc, &rs);

    /* Each result to its image; REFS order is the evaluation order. */
    size_t nimg = set.images.n;
    const char **cand = xcalloc(nimg ? nimg : 1, sizeof *cand);
    size_t dropped = 0;
    for (size_t i = 0; i < rs.n; i++) {
        long k = coco_find(&set, rs.v[i].id);
        if (k < 0) die("%s: result %zu: image_id %lld is not in %s", res_name, i + 1, (long long)rs.v[i].id, refs_path);
        if (cand[k]) {
            if (!dedup)
                die("%s: image_id %lld has more than one result (--dedup keeps the first)", res_name,
                    (long long)rs.v[i].id);
            dropped++;
            continue;
        }
        cand[k] = rs.v[i].caption;
    }
    double t1 = now_seconds();

    scores_t corpus, *per = NULL;
    bleu_totals_t tot;
    int64_t *ids;
    size_t n = score_coco(&set, cand, metrics, &corpus, &ids, per_image ? &per : NULL, &tot);
    double t2 = now_seconds();
    note(1, "%zu images scored (%zu results, %zu duplicates dropped), %zu in %s", n, rs.n, dropped, nimg, refs_path);
    if (metrics & METRIC_BLEU)
        note(1, "BLEU totals: reflen %lld, testlen %lld, guess %lld %lld %lld %lld, correct %lld %lld %lld %lld",
             tot.reflen, tot.testlen, tot.guess[0], tot.guess[1], tot.guess[2], tot.guess[3], tot.correct[0],
             tot.correct[1], tot.correct[2], tot.correct[3]);
    note(1, "load %.3f s, tokenize and score %.3f s", t1 - t0, t2 - t1);

    if (per_image) write_per_image(per_image, ids, per, n, metrics);
    if (json) {
        write_object(stdout, "", &corpus, metrics);
        fputc('\n', stdout);
    } else {
        for (int m = 0; m < 6; m++)
            if (shown(metrics, m)) printf("%-8s %.4f\n", NAMES[m], value(&corpus, m));
    }
    if (fflush(stdout) || ferror(stdout)) die("stdout: write error");

    free(ids);
    free(cand);
    free(per);
    free(rs.v);
    jt_free(&res_doc);
    coco_free(&set);
    return 0;
}
