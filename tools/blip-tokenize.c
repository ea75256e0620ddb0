/* blip-tokenize - text lines to BERT token ids and back, as BLIP's tokenizer
 * (HF BertTokenizer, bert-base-uncased + [DEC] + [ENC]) does it.
 *
 *   blip-tokenize --vocab vocab.txt < captions.txt > ids.txt
 *   blip-tokenize --model DIR --caption < captions.txt     training framing
 *   blip-tokenize --model DIR --decode < ids.txt           ids back to text
 *
 * One output line per input line. Encoding prints the ids of the text without
 * [CLS]/[SEP]; --caption prints BLIP's training row [DEC] a picture of
 * <pre_caption(line)> [SEP] (at most 40 ids). --decode reads space-separated
 * ids and prints decode(ids, skip_special_tokens=True); with --caption it
 * also drops the prompt, as BLIP's generate() does. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption.h"
#include "err.h"
#include "fileio.h"
#include "progress.h"
#include "tokenizer.h"

static void usage(void) {
    printf("Usage: %s (--vocab FILE | --model DIR) [--caption] [--decode] [-v] [FILE...]\n"
           "Turn text lines into BERT token ids (bert-base-uncased as BLIP uses it:\n"
           "HuggingFace BertTokenizer plus [DEC] and [ENC]) or ids back into text.\n"
           "Reads the FILEs, or standard input; one output line per input line.\n"
           "\n"
           "  --vocab FILE   BERT vocab.txt, one token per line\n"
           "  --model DIR    use DIR/vocab.txt\n"
           "  --caption      BLIP's caption framing: [DEC] a picture of <pre_caption(line)> [SEP],\n"
           "                 at most 40 ids; with --decode, drop the prompt from the text\n"
           "  --decode       read space-separated ids, print the text (special tokens skipped)\n"
           "  -v, --verbose  report the vocabulary and the throughput on stderr\n"
           "  -h, --help     show this help\n"
           "\n"
           "Invalid UTF-8 bytes are dropped, as HF drops the U+FFFD Python reads them as.\n",
           prog_name());
}

/* Decimal digits of v at p; returns the length. */
static int fmt_id(char *p, int32_t v) {
    char tmp[12];
    int n = 0, k = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do tmp[n++] = (char)('0' + u % 10); while (u /= 10);
    if (v < 0) p[k++] = '-';
    while (n) p[k++] = tmp[--n];
    return k;
}

/* One line of space-separated ids. */
static void put_ids(FILE *out, const int32_t *ids, size_t n) {
    char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > sizeof buf - 16) {
            fwrite(buf, 1, k, out);
            k = 0;
        }
        if (i) buf[k++] = ' ';
        k += fmt_id(buf + k, ids[i]);
    }
    buf[k++] = '\n';
    fwrite(buf, 1, k, out);
}

static void parse_ids(const char *name, size_t lineno, char *line, tok_ids_t *ids) {
    ids->n = 0;
    for (char *s = line, *e;; s = e) {
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (!*s) break;
        long long v = strtoll(s, &e, 10);
        if (e == s || (*e && *e != ' ' && *e != '\t' && *e != '\r') || v < INT32_MIN || v > INT32_MAX) {
            size_t w = strcspn(s, " \t\r");
            die("%s:%zu: not a token id: '%.*s'", name, lineno, (int)(w > 40 ? 40 : w), s);
        }
        da_push(ids, (int32_t)v);
    }
}

typedef struct {
    const tokenizer_t *tok;
    int caption, decode;
    size_t lines;
} job_t;

static void run_file(job_t *job, const char *name, FILE *in, FILE *out) {
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    tok_ids_t ids = {0};
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
        if (job->decode) {
            if (memchr(line, '\0', (size_t)n)) die("%s:%zu: NUL byte in an id line", name, lineno);
            parse_ids(name, lineno, line, &ids);
            char *text = job->caption ? caption_from_ids(job->tok, ids.v, ids.n) : tok_decode(job->tok, ids.v, ids.n);
            fputs(text, out);
            fputc('\n', out);
            free(text);
        } else {
            ids.n = 0;
            if (job->caption) caption_train_ids(job->tok, line, (size_t)n, &ids);
            else tok_encode(job->tok, line, (size_t)n, &ids);
            put_ids(out, ids.v, ids.n);
        }
    }
    if (ferror(in)) die("%s: read error", name);
    job->lines += lineno;
    free(line);
    free(ids.v);
}

int main(int argc, char **argv) {
    err_init(argv[0]);
    static const struct option opts[] = {
        {"vocab", required_argument, 0, 'V'}, {"model", required_argument, 0, 'm'},
        {"caption", no_argument, 0, 'c'},     {"decode", no_argument, 0, 'd'},
        {"verbose", no_argument, 0, 'v'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *vocab = NULL, *model = NULL;
    job_t job = {0};
    int c;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'V': vocab = optarg; break;
        case 'm': model = optarg; break;
        case 'c': job.caption = 1; break;
        case 'd': job.decode = 1; break;
        case 'v': verbosity++; break;
        case 'h': usage(); return 0;
        default: usage_die("unknown option");
        }
    }
    if (!vocab && !model) usage_die("give --vocab FILE or --model DIR");
    if (vocab && model) usage_die("give only one of --vocab and --model");
    char *path = vocab ? xstrdup(vocab) : path_join(model, "vocab.txt");
    tokenizer_t *tok = tok_load(path);
    job.tok = tok;
    double t0 = now_seconds();
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    if (optind == argc) run_file(&job, "stdin", stdin, stdout);
    for (int i = optind; i < argc; i++) {
        int is_stdin = strcmp(argv[i], "-") == 0;
        FILE *in = is_stdin ? stdin : fopen(argv[i], "rb");
        if (!in) die("%s: %s", argv[i], strerror(errno));
        run_file(&job, is_stdin ? "stdin" : argv[i], in, stdout);
        if (!is_stdin) fclose(in);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) die("stdout: write error");
    double dt = now_seconds() - t0;
    note(1, "%zu lines in %.3f s (%.0f lines/s)", job.lines, dt, dt > 0 ? job.lines / dt : 0.0);
    tok_free(tok);
    free(path);
    return 0;
}
