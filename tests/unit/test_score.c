/* test_score.c - the PTB tokenizer and the caption metrics against
 * pycocoevalcap: tests/fixtures/score/ (made by tests/ref/make_score_fixtures.py)
 * and the shared coco-caption demo (../shared/data/coco-caption-demo). */
#include "test.h"

#include "coco.h"
#include "err.h"
#include "jsonio.h"
#include "metrics.h"
#include "metrics_internal.h"
#include "ptbtok.h"

#define FIX "tests/fixtures/score/"

static char *demo_path(const char *name) {
    return xasprintf("%s/data/coco-caption-demo/%s", test_shared_dir(), name);
}

TEST(ptb_matches_java_tokenizer) {
    json_t *root = json_load_path(FIX "ptb.json");
    json_t *groups = json_need(root, "groups", JSON_ARRAY, "ptb.json");
    size_t gi, total = 0, bad = 0;
    json_t *g;
    json_array_foreach(groups, gi, g) {
        json_t *caps = json_need(g, "captions", JSON_ARRAY, "group");
        json_t *want = json_need(g, "tokenized", JSON_ARRAY, "group");
        size_t n = json_array_size(caps);
        const char **c = xmalloc(n * sizeof *c);
        for (size_t i = 0; i < n; i++) c[i] = json_string_value(json_array_get(caps, i));
        char **got = ptb_tokenize_captions(c, n);
        for (size_t i = 0; i < n; i++, total++) {
            const char *w = json_string_value(json_array_get(want, i));
            if ((w == NULL) != (got[i] == NULL) || (w && strcmp(w, got[i]))) {
                if (bad++ < 10)
                    CHECK_MSG(0, "group %zu caption %zu \"%s\": got \"%s\", want \"%s\"", gi, i, c[i],
                              got[i] ? got[i] : "(none)", w ? w : "(none)");
            }
        }
        ptb_free_captions(got, n);
        free(c);
    }
    CHECK(total >= 2000);
    CHECK_EQ_INT(bad, 0);
    json_decref(root);
}

TEST(ptb_java_output_shape) {
    const char *in = "A man's dog. He said \"hi\" -- ok...\nEtc. Etc.\r\nB\xc2\x85" "C 1 1/2";
    char *out = ptb_tokenize(in, strlen(in), NULL);
    CHECK_STR(out, "a man 's dog . he said `` hi '' -- ok ...\netc. . etc. .\nb ... c 1\xc2\xa0" "1/2");
    free(out);
}

/* Long inputs are tokenized in parallel chunks cut at line breaks; the
 * result must be the one-pass result, also when a token spans a cut (an SGML
 * attribute value with a line break), which falls back to one pass. */
TEST(ptb_chunked_equals_one_pass) {
    const char *units[2] = {"A man's dog, etc. at 10:30 (U.S.) \"hi\" -- ok...\n", "<a b='x\ny'> w\n"};
    for (int u = 0; u < 2; u++) {
        size_t ul = strlen(units[u]), reps = 200000 / ul, one_len;
        char *one = ptb_tokenize(units[u], ul, &one_len);
        char *big = xmalloc(ul * reps + 1);
        for (size_t i = 0; i < reps; i++) memcpy(big + i * ul, units[u], ul);
        size_t out_len;
        char *out = ptb_tokenize(big, ul * reps, &out_len);
        CHECK_EQ_INT(out_len, one_len * reps);
        int same = out_len == one_len * reps;
        for (size_t i = 0; same && i < reps; i++) same = !memcmp(out + i * one_len, one, one_len);
        CHECK_MSG(same, "unit %d: chunked output differs from the one-pass output", u);
        free(one);
        free(big);
        free(out);
    }
}

/* A COCO caption set and its results: cands[k] is the result of image k. */
typedef struct {
    coco_set_t refs;
    const char **cands;
    json_t *results;
} evalset_t;

static void evalset_load(evalset_t *e, const char *refs, const char *results) {
    memset(e, 0, sizeof *e);
    coco_load_captions(&e->refs, refs, NULL, NULL);
    e->results = json_load_path(results);
    e->cands = xcalloc(e->refs.images.n, sizeof *e->cands);
    size_t i;
    json_t *r;
    json_array_foreach(e->results, i, r) {
        long k = coco_find(&e->refs, json_need_int(r, "image_id", results));
        CHECK(k >= 0);
        if (k >= 0) e->cands[k] = json_need_str(r, "caption", results);
    }
}

static void evalset_free(evalset_t *e) {
    free(e->cands);
    json_decref(e->results);
    coco_free(&e->refs);
}

static const char *const NAMES[6] = {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"};

static double get(const scores_t *s, int m) { return m < 4 ? s->bleu[m] : m == 4 ? s->rouge_l : s->cider; }

/* Every per-image and corpus score bit-identical to pycocoevalcap's. */
static void check_scores(const evalset_t *e, const char *expected_path, size_t want_n) {
    scores_t corpus, *per;
    int64_t *ids;
    size_t n = score_coco(&e->refs, e->cands, METRIC_ALL, &corpus, &ids, &per, NULL);
    CHECK_EQ_INT(n, want_n);
    json_t *x = json_load_path(expected_path);
    json_t *want_corpus = json_need(x, "corpus", JSON_OBJECT, expected_path);
    json_t *want_per = json_need(x, "per_image", JSON_ARRAY, expected_path);
    CHECK_EQ_INT(json_array_size(want_per), n);
    for (int m = 0; m < 6; m++) {
        double w = json_real_value(json_object_get(want_corpus, NAMES[m]));
        CHECK_MSG(get(&corpus, m) == w, "%s corpus %s: %.17g != %.17g", expected_path, NAMES[m], get(&corpus, m), w);
    }
    size_t bad = 0;
    for (size_t i = 0; i < n && i < json_array_size(want_per); i++) {
        json_t *w = json_array_get(want_per, i);
        CHECK_EQ_INT(json_integer_value(json_object_get(w, "image_id")), ids[i]);
        for (int m = 0; m < 6; m++) {
            double want = json_number_value(json_object_get(w, NAMES[m]));
            if (get(&per[i], m) != want && bad++ < 5)
                CHECK_MSG(0, "image %lld %s: %.17g != %.17g", (long long)ids[i], NAMES[m], get(&per[i], m), want);
        }
    }
    CHECK_EQ_INT(bad, 0);
    json_decref(x);
    free(per);
    free(ids);
}

TEST(demo_scores_equal_pycocoevalcap_per_image) {
    evalset_t e;
    char *refs = demo_path("refs.json"), *res = demo_path("results.json");
    evalset_load(&e, refs, res);
    check_scores(&e, FIX "demo_scores.json", 1000);
    evalset_free(&e);
    free(refs);
    free(res);
}

TEST(synthetic_raw_captions_equal_pycocoevalcap) {
    evalset_t e;
    evalset_load(&e, FIX "synth_refs.json", FIX "synth_results.json");
    check_scores(&e, FIX "synth_scores.json", 270);
    evalset_free(&e);
}

TEST(edge_captions_equal_pycocoevalcap) {
    evalset_t e;
    evalset_load(&e, FIX "edge_refs.json", FIX "edge_results.json");
    check_scores(&e, FIX "edge_scores.json", 6);
    evalset_free(&e);
}

/* expected.json's full-precision values are pycocoevalcap's scorers run on
 * the demo files as given (their references are already tokenized), and its
 * BLEU totals are what the demo printed. */
TEST(demo_scorers_equal_expected_json) {
    evalset_t e;
    char *refs = demo_path("refs.json"), *res = demo_path("results.json"), *exp = demo_path("expected.json");
    evalset_load(&e, refs, res);
    size_t nimg = e.refs.images.n, n = 0, nrefs = 0;
    for (size_t k = 0; k < nimg; k++) nrefs += e.refs.images.v[k].caps.n;
    score_item_t *items = xmalloc(nimg * sizeof *items);
    const char **refv = xmalloc(nrefs * sizeof *refv), **r = refv;
    for (size_t k = 0; k < nimg; k++) {
        coco_image_t *im = &e.refs.images.v[k];
        if (!e.cands[k]) continue;
        items[n++] = (score_item_t){e.cands[k], r, im->caps.n};
        for (size_t j = 0; j < im->caps.n; j++) *r++ = im->caps.v[j].text;
    }
    CHECK_EQ_INT(n, 1000);
    scores_t corpus;
    bleu_totals_t t;
    score_corpus(items, n, METRIC_ALL, &corpus, NULL, &t);
    json_t *x = json_load_path(exp);
    json_t *full = json_need(x, "full_precision_reference_implementation", JSON_OBJECT, exp);
    for (int m = 0; m < 6; m++) {
        double w = json_real_value(json_object_get(full, NAMES[m]));
        CHECK_MSG(fabs(get(&corpus, m) - w) <= 1e-12 * fabs(w), "%s: %.17g != %.17g", NAMES[m], get(&corpus, m), w);
    }
    json_t *bt = json_need(x, "bleu_totals_in_demo", JSON_OBJECT, exp);
    CHECK_EQ_INT(t.reflen, json_integer_value(json_object_get(bt, "reflen")));
    CHECK_EQ_INT(t.testlen, json_integer_value(json_object_get(bt, "testlen")));
    for (int k = 0; k < 4; k++) {
        CHECK_EQ_INT(t.guess[k], json_integer_value(json_array_get(json_object_get(bt, "guess"), k)));
        CHECK_EQ_INT(t.correct[k], json_integer_value(json_array_get(json_object_get(bt, "correct"), k)));
    }
    json_decref(x);
    free(items);
    free(refv);
    evalset_free(&e);
    free(refs);
    free(res);
    free(exp);
}

/* Hand-checked small cases: a perfect match, an empty candidate. */
TEST(metrics_small_cases) {
    const char *refs[2] = {"a cat on a mat", "the cat sat"};
    score_item_t it[2] = {{"a cat on a mat", refs, 2}, {"", refs, 2}};
    scores_t c, per[2];
    bleu_totals_t t;
    score_corpus(it, 2, METRIC_ALL, &c, per, &t);
    CHECK_NEAR(per[0].bleu[3], 1.0, 1e-8);
    CHECK_NEAR(per[0].rouge_l, 1.0, 1e-15);
    CHECK_EQ_INT(t.testlen, 5);
    CHECK_EQ_INT(t.reflen, 8); /* closest: 5 for the first, 3 (shorter tie) for "" */
    CHECK_NEAR(per[1].bleu[0], 0.0, 1e-12);
    CHECK_NEAR(per[1].rouge_l, 0.0, 0);
    CHECK_NEAR(per[1].cider, 0.0, 0);
    score_corpus(it, 2, METRIC_ROUGE, &c, NULL, NULL);
    CHECK_NEAR(c.bleu[0], 0.0, 0);
    CHECK_NEAR(c.rouge_l, 0.5, 1e-15);
}

TEST(np_mean_is_pairwise) {
    double v[300];
    for (int i = 0; i < 300; i++) v[i] = 1.0 / (i + 3);
    double naive = 0;
    for (int i = 0; i < 300; i++) naive += v[i];
    CHECK_NEAR(np_mean(v, 300), naive / 300, 1e-15);
    CHECK_NEAR(np_mean(v, 5), (v[0] + v[1] + v[2] + v[3] + v[4]) / 5, 0);
}

/* Images scored in parallel slices give the one-slice results to the bit
 * (slice n-gram ids merged for CIDEr's document frequencies). */
TEST(sliced_scoring_equals_one_slice) {
    evalset_t e;
    char *refs = demo_path("refs.json"), *res = demo_path("results.json");
    evalset_load(&e, refs, res);
    size_t nimg = e.refs.images.n, n = 0, nrefs = 0;
    for (size_t k = 0; k < nimg; k++) nrefs += e.refs.images.v[k].caps.n;
    const char **cand = xmalloc(nimg * sizeof *cand), **flat = xmalloc(nrefs * sizeof *flat);
    size_t *nr = xmalloc(nimg * sizeof *nr), nflat = 0;
    for (size_t k = 0; k < nimg; k++) {
        if (!e.cands[k]) continue;
        cand[n] = e.cands[k];
        nr[n++] = e.refs.images.v[k].caps.n;
        for (size_t j = 0; j < e.refs.images.v[k].caps.n; j++) flat[nflat++] = e.refs.images.v[k].caps.v[j].text;
    }
    char **tc = ptb_tokenize_captions(cand, n), **tr = ptb_tokenize_captions(flat, nflat);
    score_item_t *items = xmalloc(n * sizeof *items);
    for (size_t i = 0, k = 0; i < n; k += nr[i++]) items[i] = (score_item_t){tc[i], (const char *const *)tr + k, nr[i]};
    scores_t one, *one_per = xmalloc(n * sizeof *one_per), got, *per = xmalloc(n * sizeof *per);
    bleu_totals_t one_t, t;
    score_corpus_parts(items, n, METRIC_ALL, &one, one_per, &one_t, 1);
    static const size_t PARTS[] = {2, 3, 7, 1000};
    for (size_t p = 0; p < ARRAY_LEN(PARTS); p++) {
        score_corpus_parts(items, n, METRIC_ALL, &got, per, &t, PARTS[p]);
        CHECK_MSG(!memcmp(&got, &one, sizeof got), "%zu slices: corpus scores differ", PARTS[p]);
        CHECK_MSG(!memcmp(per, one_per, n * sizeof *per), "%zu slices: per-image scores differ", PARTS[p]);
        CHECK_MSG(!memcmp(&t, &one_t, sizeof t), "%zu slices: BLEU totals differ", PARTS[p]);
    }
    score_corpus_parts(items, n, METRIC_CIDER, &got, NULL, NULL, 3);
    CHECK(got.cider == one.cider && got.bleu[0] == 0 && got.rouge_l == 0);
    free(items);
    free(one_per);
    free(per);
    ptb_free_captions(tc, n);
    ptb_free_captions(tr, nflat);
    free(cand);
    free(flat);
    free(nr);
    evalset_free(&e);
    free(refs);
    free(res);
}

/* ROUGE-L splits on ' ' (empty words kept), BLEU and CIDEr on any
 * whitespace: a no-break space or a double space tells them apart (ROUGE-L
 * values from pycocoevalcap's formula on the str.split(" ") words). */
TEST(metrics_split_rules) {
    const char *r1[1] = {"a b c"}, *r2[1] = {"a b"};
    score_item_t it[2] = {{"a\xc2\xa0" "b c", r1, 1}, {"a  b", r2, 1}};
    scores_t c, per[2];
    bleu_totals_t t;
    score_corpus(it, 2, METRIC_ALL, &c, per, &t);
    CHECK_EQ_INT(t.testlen, 5);
    CHECK_EQ_INT(t.correct[0], 5);
    CHECK_EQ_INT(t.correct[1], 3);
    CHECK_MSG(per[0].rouge_l == 0.3860759493670886, "%.17g", per[0].rouge_l);
    CHECK_MSG(per[1].rouge_l == 0.8299319727891156, "%.17g", per[1].rouge_l);
    score_corpus(it, 2, METRIC_ROUGE, &c, NULL, NULL);
    CHECK(c.rouge_l == (0.3860759493670886 + 0.8299319727891156) / 2);
}
