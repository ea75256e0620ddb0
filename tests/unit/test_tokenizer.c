/* test_tokenizer.c - the BERT tokenizer and BLIP's caption rules against
 * fixtures made by HF's BertTokenizer and BLIP's Python code
 * (tests/ref/make_tokenizer_fixtures.py; formats described there). */
#include <unistd.h>
#include <zstd.h>

#include "caption.h"
#include "fileio.h"
#include "test.h"
#include "tokenizer.h"
#include "unicode.h"

#define FIXTURES "tests/fixtures/tokenizer/"

static tokenizer_t *vocab(void) {
    static tokenizer_t *t;
    if (!t) {
        char *path = xasprintf("%s/data/bert-base-uncased-vocab.txt", test_shared_dir());
        t = tok_load(path);
        free(path);
    }
    return t;
}

/* Fixture lines, each split at TABs into fields (in place). */
typedef struct {
    char *text;
    DA(char *) lines;
} fixture_t;

static fixture_t load_fixture(const char *name) {
    fixture_t f = {0};
    size_t zn;
    char *z = read_file(name, &zn);
    unsigned long long n = ZSTD_getFrameContentSize(z, zn);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) die("%s: not a sized zstd frame", name);
    f.text = xmalloc(n + 1);
    size_t got = ZSTD_decompress(f.text, n, z, zn);
    if (ZSTD_isError(got) || got != n) die("%s: %s", name, ZSTD_getErrorName(got));
    f.text[n] = '\0';
    free(z);
    for (char *s = f.text, *e; *s; s = e + 1) {
        e = strchr(s, '\n');
        *e = '\0';
        if (*s != '#') da_push(&f.lines, s);
    }
    return f;
}

static void free_fixture(fixture_t *f) {
    free(f->text);
    free(f->lines.v);
}

/* Field k (0-based) of a line, NUL-terminated in a copy. */
static char *field(const char *line, int k) {
    for (; k > 0; k--) line = strchr(line, '\t') + 1;
    const char *e = strchr(line, '\t');
    return e ? strndup(line, (size_t)(e - line)) : xstrdup(line);
}

/* Undo the fixture escaping (\\ and \xHH) in place; returns the length. */
static size_t unescape(char *s) {
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1] == 'x') {
            s[o++] = (char)strtol((char[]){s[i + 2], s[i + 3], 0}, NULL, 16);
            i += 3;
        } else if (s[i] == '\\') {
            s[o++] = s[++i];
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

static void parse_ids(const char *s, tok_ids_t *out) {
    out->n = 0;
    for (char *e; *s; s = e) {
        long v = strtol(s, &e, 10);
        if (e == s) break;
        da_push(out, (int32_t)v);
    }
}

static char *ids_str(const int32_t *v, size_t n) {
    DA(char) s = {0};
    for (size_t i = 0; i < n; i++) {
        char b[16];
        int k = snprintf(b, sizeof b, i ? " %d" : "%d", v[i]);
        da_reserve(&s, s.n + k + 1);
        memcpy(s.v + s.n, b, k + 1);
        s.n += k;
    }
    return s.n ? s.v : xstrdup("");
}

TEST(known_caption_ids) {
    const char *s = "a picture of a woman sitting on the beach with her dog";
    tok_ids_t ids = {0};
    tok_encode(vocab(), s, strlen(s), &ids);
    char *got = ids_str(ids.v, ids.n);
    CHECK_STR(got, "1037 3861 1997 1037 2450 3564 2006 1996 3509 2007 2014 3899");
    free(got);
    free(ids.v);
}

TEST(special_ids) {
    const tokenizer_t *t = vocab();
    CHECK_EQ_INT(t->n_vocab, 30524);
    CHECK_EQ_INT(t->id.pad, 0);
    CHECK_EQ_INT(t->id.unk, 100);
    CHECK_EQ_INT(t->id.cls, 101);
    CHECK_EQ_INT(t->id.sep, 102);
    CHECK_EQ_INT(t->id.mask, 103);
    CHECK_EQ_INT(t->id.bos, 30522);
    CHECK_EQ_INT(t->id.enc, 30523);
    CHECK_STR(tok_token(t, 30522), "[DEC]");
    CHECK_EQ_INT(tok_lookup(t, "##ing", 5), 2075);
    CHECK_EQ_INT(tok_lookup(t, "no-such-token", 13), -1);
    CHECK(tok_token(t, 30524) == NULL && tok_token(t, -1) == NULL);
}

/* Every E line: ids of the input and the decoded text; every R line: decode. */
TEST(hf_fixture) {
    const tokenizer_t *t = vocab();
    fixture_t f = load_fixture(FIXTURES "tokenizer.txt.zst");
    tok_ids_t ids = {0}, want = {0};
    int n_enc = 0, n_dec = 0, bad = 0;
    for (size_t i = 0; i < f.lines.n; i++) {
        const char *line = f.lines.v[i];
        int enc = line[0] == 'E';
        char *in = field(line, 1), *wid = field(line, enc ? 2 : 1), *wdec = field(line, enc ? 3 : 2);
        unescape(wdec);
        parse_ids(wid, &want);
        if (enc) {
            size_t n = unescape(in);
            ids.n = 0;
            tok_encode(t, in, n, &ids);
            char *got = ids_str(ids.v, ids.n);
            if (strcmp(got, wid) != 0 && bad++ < 10)
                CHECK_MSG(0, "line %zu: encode: got [%s]: %s", i + 2, got, line);
            free(got);
            n_enc++;
        }
        char *dec = tok_decode(t, want.v, want.n);
        if (strcmp(dec, wdec) != 0 && bad++ < 10)
            CHECK_MSG(0, "line %zu: decode [%s]: got \"%s\" want \"%s\"", i + 2, wid, dec, wdec);
        n_dec++;
        free(dec);
        free(in);
        free(wid);
        free(wdec);
    }
    CHECK_MSG(n_enc >= 3000 && n_dec > n_enc, "only %d encode / %d decode cases", n_enc, n_dec);
    CHECK_EQ_INT(bad, 0);
    free(ids.v);
    free(want.v);
    free_fixture(&f);
}

/* P lines (pre_caption), G (generation prompt), B/C (training batches), S (caption of generated ids). */
TEST(blip_caption_fixture) {
    const tokenizer_t *t = vocab();
    fixture_t f = load_fixture(FIXTURES "caption.txt.zst");
    tok_ids_t want = {0};
    int counts[128] = {0}, bad = 0;
    CHECK_EQ_INT(caption_prompt_length(t), 4);
    for (size_t i = 0; i < f.lines.n; i++) {
        const char *line = f.lines.v[i];
        char kind = line[0];
        counts[(unsigned char)kind]++;
        if (kind == 'P') {
            char *raw = field(line, 1), *mw = field(line, 2), *wpre = field(line, 3);
            size_t n = unescape(raw), pn;
            unescape(wpre);
            char *pre = pre_caption(raw, n, atoi(mw), &pn);
            if (strcmp(pre, wpre) != 0 && bad++ < 10)
                CHECK_MSG(0, "line %zu: pre_caption: got [%s]: %s", i + 2, pre, line);
            free(pre); free(raw); free(mw); free(wpre);
        } else if (kind == 'G') {
            tok_ids_t g = {0};
            caption_prompt_ids(t, &g);
            char *got = ids_str(g.v, g.n);
            CHECK_STR(got, line + 2);
            free(got);
            free(g.v);
        } else if (kind == 'B') {
            int B = atoi(line + 2);
            const char **caps = xcalloc(B, sizeof *caps);
            char **raws = xcalloc(B, sizeof *raws);
            for (int b = 0; b < B; b++) {
                raws[b] = field(f.lines.v[i + 1 + b], 1);
                unescape(raws[b]);
                caps[b] = raws[b];
            }
            caption_batch_t batch;
            caption_batch(t, caps, B, &batch);
            for (int b = 0; b < B; b++) {
                const char *row = f.lines.v[i + 1 + b];
                int32_t *arrays[3] = {batch.ids, batch.mask, batch.labels};
                for (int a = 0; a < 3; a++) {
                    char *w = field(row, 2 + a);
                    parse_ids(w, &want);
                    char *got = ids_str(arrays[a] + (size_t)b * batch.T, batch.T);
                    if ((want.n != (size_t)batch.T || strcmp(got, w) != 0) && bad++ < 10)
                        CHECK_MSG(0, "line %zu: array %d: got [%s] want [%s]", i + 2 + b, a, got, w);
                    free(got);
                    free(w);
                }
                free(raws[b]);
            }
            caption_batch_free(&batch);
            free(caps);
            free(raws);
        } else if (kind == 'S') {
            char *wid = field(line, 1), *wcap = field(line, 2);
            unescape(wcap);
            parse_ids(wid, &want);
            char *cap = caption_from_ids(t, want.v, want.n);
            if (strcmp(cap, wcap) != 0 && bad++ < 10)
                CHECK_MSG(0, "line %zu: caption of [%s]: got [%s] want [%s]", i + 2, wid, cap, wcap);
            free(cap); free(wid); free(wcap);
        }
    }
    CHECK_MSG(counts['P'] >= 300 && counts['G'] == 1 && counts['B'] >= 50 && counts['C'] >= 300 &&
              counts['S'] >= 100, "fixture too small: P %d G %d B %d C %d S %d",
              counts['P'], counts['G'], counts['B'], counts['C'], counts['S']);
    CHECK_EQ_INT(bad, 0);
    free(want.v);
    free_fixture(&f);
}

/* Invalid UTF-8 reads as U+FFFD, which BERT's cleaning drops. */
TEST(invalid_utf8_dropped) {
    const char *s = "caf\xc3 \xff\xfe d\xe2\x82og \xed\xa0\x80x";
    tok_ids_t a = {0}, b = {0};
    tok_encode(vocab(), s, strlen(s), &a);
    tok_encode(vocab(), "caf  dog x", 10, &b);
    char *ga = ids_str(a.v, a.n), *gb = ids_str(b.v, b.n);
    CHECK_STR(ga, gb);
    free(ga); free(gb); free(a.v); free(b.v);
    size_t i = 0;
    CHECK_EQ_U64(u8_decode("\xc0\xaf", 2, &i), UNI_REPLACEMENT);
    CHECK_EQ_INT(i, 1);
}

TEST(caption_batch_shapes) {
    const char *caps[3] = {"A dog.", "", "two  cats on a couch!"};
    caption_batch_t b;
    caption_batch(vocab(), caps, 3, &b);
    CHECK_EQ_INT(b.B, 3);
    CHECK_EQ_INT(b.T, 10);   /* [DEC] a picture of two cats on a couch [SEP] */
    CHECK_EQ_INT(b.ids[1 * b.T + 4], 102);   /* empty caption: prompt then [SEP] */
    CHECK_EQ_INT(b.mask[1 * b.T + 5], 0);
    CHECK_EQ_INT(b.labels[1 * b.T + 4], 102);
    CHECK_EQ_INT(b.labels[1 * b.T + 5], CAPTION_IGNORE);
    caption_batch_free(&b);
}

/* A vocabulary that already has [DEC], repeats a token (the later line wins,
 * as in Python's dict) and mixes LF, CRLF and CR line ends. */
TEST(custom_vocab) {
    char path[] = "/tmp/test_tokenizer_vocab_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *v = "[PAD]\n[UNK]\r\n[CLS]\r[SEP]\n[MASK]\n[DEC]\nhello\n##s\nhello\n[unused0]";
    CHECK_EQ_INT(write(fd, v, strlen(v)), (long long)strlen(v));
    close(fd);
    tokenizer_t *t = tok_load(path);
    unlink(path);
    CHECK_EQ_INT(t->n_vocab, 11);
    CHECK_EQ_INT(t->id.bos, 5);
    CHECK_EQ_INT(t->id.enc, 10);
    CHECK_STR(tok_token(t, 9), "[unused0]");
    tok_ids_t ids = {0};
    const char *s = "Hellos[DEC] hello [ENC]x";
    tok_encode(t, s, strlen(s), &ids);
    char *got = ids_str(ids.v, ids.n);
    CHECK_STR(got, "8 7 5 8 10 1");
    char *dec = tok_decode(t, ids.v, ids.n);
    CHECK_STR(dec, "hellos hello");
    free(dec);
    free(got);
    free(ids.v);
    tok_free(t);
}
