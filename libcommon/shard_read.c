/* shard_read.c - open shard files (memory-mapped, indexed) or shard streams
 * (sequential, fully checked as they arrive), iterate and fetch records. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "jsonio.h"
#include "sha256.h"
#include "shard_format.h"

typedef struct {
    char *path;
    const uint8_t *map;
    size_t size;
    shard_index_entry_t *index;
    uint64_t count;
} shard_file_t;

/* Sequential reader state for a stream of one or more concatenated shards. */
typedef struct {
    FILE *f;
    const char *name;
    uint64_t pos;                   /* offset within the current shard */
    uint64_t captions;              /* in the current shard */
    DA(shard_index_entry_t) seen;   /* records of the current shard so far */
    int in_shard, shards_done;
    uint64_t total, bytes;          /* records and bytes read in all */
    sha256_t sha;                   /* of all bytes read (for verification) */
    bytes_t buf;
} stream_t;

struct shard_set {
    DA(shard_file_t) files;
    size_t *first; /* [files.n + 1] prefix sums of record counts */
    size_t cursor;
    stream_t *stream;
};

/* ---- streams --------------------------------------------------------------- */

/* Read exactly n bytes; returns n, 0 at a clean EOF before any byte, -1 if cut short. */
static long read_exact(stream_t *st, void *p, size_t n) {
    size_t got = fread(p, 1, n, st->f);
    sha256_update(&st->sha, p, got);
    st->bytes += got;
    if (got == n) return (long)n;
    return got == 0 && !ferror(st->f) ? 0 : -1;
}

static uint8_t *stream_buf(stream_t *st, size_t n) {
    da_reserve(&st->buf, n);
    return st->buf.v;
}

/* Header of the next shard; returns 1, 0 at the end of input, -1 on error. */
static int stream_open_shard(stream_t *st, char *err, size_t errlen) {
    uint8_t h[SHARD_HEADER_LEN];
    long got = read_exact(st, h, sizeof h);
    if (got == 0) {
        if (st->shards_done == 0) return errf(err, errlen, "empty input, not a shard");
        return 0;
    }
    if (got < 0) return errf(err, errlen, "truncated file header");
    if (shard_check_file_header(h, err, errlen)) return -1;
    st->pos = SHARD_HEADER_LEN;
    st->captions = 0;
    st->seen.n = 0;
    st->in_shard = 1;
    return 1;
}

static int stream_index_and_footer(stream_t *st, const uint8_t *head4, char *err, size_t errlen) {
    uint8_t *b = stream_buf(st, IDX_HEADER_LEN);
    memcpy(b, head4, 4);
    if (read_exact(st, b + 4, IDX_HEADER_LEN - 4) <= 0) return errf(err, errlen, "index (offset %llu) truncated", (unsigned long long)st->pos);
    int64_t len = shard_index_len(b, err, errlen);
    if (len < 0) return -1;
    b = stream_buf(st, (size_t)len + FOOTER_LEN);
    if (read_exact(st, b + IDX_HEADER_LEN, (size_t)len - IDX_HEADER_LEN + FOOTER_LEN) <= 0)
        return errf(err, errlen, "index or footer truncated");
    shard_index_entry_t *e;
    uint64_t count, index_offset, records, captions;
    if (shard_parse_index(b, (size_t)len, &e, &count, err, errlen)) return -1;
    int rc = 0;
    if (count != st->seen.n) {
        rc = errf(err, errlen, "index lists %llu records, the shard has %zu", (unsigned long long)count, st->seen.n);
    } else {
        for (uint64_t i = 0; i < count && !rc; i++)
            if (memcmp(&e[i], &st->seen.v[i], sizeof e[i]) != 0)
                rc = errf(err, errlen, "index entry %llu does not match record %llu", (unsigned long long)i, (unsigned long long)i);
    }
    free(e);
    if (rc) return -1;
    if (shard_parse_footer(b + len, &index_offset, &records, &captions, err, errlen)) return -1;
    if (index_offset != st->pos || records != count || captions != st->captions)
        return errf(err, errlen, "footer counts or index offset do not match the shard");
    st->in_shard = 0;
    st->shards_done++;
    return 0;
}

/* Next record: 1 with rec filled, 0 at the end, -1 with err. */
static int stream_step(stream_t *st, shard_record_t *rec, char *err, size_t errlen) {
    for (;;) {
        if (!st->in_shard) {
            int rc = stream_open_shard(st, err, errlen);
            if (rc <= 0) return rc;
        }
        uint8_t head[REC_HEADER_LEN];
        uint64_t at = st->pos;
        unsigned long long recno = st->total;
        if (read_exact(st, head, 4) <= 0)
            return errf(err, errlen, "truncated after record %llu (offset %llu): no index or footer", recno, (unsigned long long)at);
        if (get_u32(head) == IDX_MAGIC) {
            if (stream_index_and_footer(st, head, err, errlen)) return -1;
            continue;
        }
        if (read_exact(st, head + 4, REC_HEADER_LEN - 4) <= 0)
            return errf(err, errlen, "record %llu (offset %llu): truncated", recno, (unsigned long long)at);
        char why[200];
        int64_t len = shard_record_len(head, why, sizeof why);
        if (len < 0) return errf(err, errlen, "record %llu (offset %llu): %s", recno, (unsigned long long)at, why);
        /* the record buffer becomes the record's image storage */
        if (rec->image_cap < (size_t)len) {
            rec->image_cap = (size_t)len;
            rec->image_buf = xrealloc(rec->image_buf, rec->image_cap);
        }
        memcpy(rec->image_buf, head, REC_HEADER_LEN);
        if (read_exact(st, rec->image_buf + REC_HEADER_LEN, (size_t)len - REC_HEADER_LEN) <= 0)
            return errf(err, errlen, "record %llu (offset %llu): truncated", recno, (unsigned long long)at);
        if (shard_parse_record(rec->image_buf, (size_t)len, rec, why, sizeof why))
            return errf(err, errlen, "record %llu (offset %llu, image %lld): %s", recno, (unsigned long long)at,
                        (long long)(int64_t)get_u64(head + 8), why);
        shard_index_entry_t e = {at, rec->image_id, (uint32_t)len, rec->ncaps};
        da_push(&st->seen, e);
        st->pos += (uint64_t)len;
        st->captions += rec->ncaps;
        st->total++;
        return 1;
    }
}

/* ---- files ----------------------------------------------------------------- */

static int map_file(shard_file_t *sf, const char *path, char *err, size_t errlen) {
    memset(sf, 0, sizeof *sf);
    sf->path = xstrdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errf(err, errlen, "%s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return errf(err, errlen, "not a regular file");
    }
    sf->size = (size_t)st.st_size;
    if (sf->size < SHARD_HEADER_LEN + IDX_HEADER_LEN + FOOTER_LEN) {
        close(fd);
        return errf(err, errlen, "too short for a shard (%zu bytes): truncated?", sf->size);
    }
    void *m = mmap(NULL, sf->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return errf(err, errlen, "mmap: %s", strerror(errno));
    sf->map = m;
    uint64_t index_offset, records, captions;
    if (shard_check_file_header(sf->map, err, errlen) ||
        shard_parse_footer(sf->map + sf->size - FOOTER_LEN, &index_offset, &records, &captions, err, errlen))
        return -1;
    if (index_offset < SHARD_HEADER_LEN || index_offset + IDX_HEADER_LEN + FOOTER_LEN > sf->size)
        return errf(err, errlen, "index offset %llu out of range", (unsigned long long)index_offset);
    int64_t ilen = shard_index_len(sf->map + index_offset, err, errlen);
    if (ilen < 0) return -1;
    if (index_offset + (uint64_t)ilen + FOOTER_LEN != sf->size)
        return errf(err, errlen, "index does not end at the footer");
    if (shard_parse_index(sf->map + index_offset, (size_t)ilen, &sf->index, &sf->count, err, errlen)) return -1;
    if (sf->count != records) return errf(err, errlen, "footer and index disagree on the record count");
    for (uint64_t i = 0; i < sf->count; i++) {
        const shard_index_entry_t *e = &sf->index[i];
        if (e->offset < SHARD_HEADER_LEN || e->offset + e->record_len > index_offset)
            return errf(err, errlen, "index entry %llu out of range", (unsigned long long)i);
    }
    return 0;
}

static void unmap_file(shard_file_t *sf) {
    if (sf->map) munmap((void *)sf->map, sf->size);
    free(sf->index);
    free(sf->path);
}

static void add_file(shard_set_t *s, const char *path) {
    shard_file_t sf;
    char err[256];
    if (map_file(&sf, path, err, sizeof err)) die("%s: %s", path, err);
    da_push(&s->files, sf);
}

/* Shard files listed by DIR/manifest.json, in its order. */
static int add_manifest(shard_set_t *s, const char *dir) {
    char *mpath = path_join(dir, "manifest.json");
    if (access(mpath, F_OK) != 0) {
        free(mpath);
        return 0;
    }
    json_t *m = json_load_path(mpath);
    json_t *shards = json_need(m, "shards", JSON_ARRAY, mpath);
    size_t i;
    json_t *v;
    json_array_foreach(shards, i, v) {
        char where[600];
        snprintf(where, sizeof where, "%s: shards[%zu]", mpath, i);
        char *p = path_join(dir, json_need_str(v, "file", where));
        add_file(s, p);
        free(p);
    }
    json_decref(m);
    free(mpath);
    return 1;
}

static int add_glob(shard_set_t *s, const char *pattern) {
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0) return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) add_file(s, g.gl_pathv[i]);
    globfree(&g);
    return 1;
}

static int is_stream_path(const char *path) {
    struct stat st;
    if (strcmp(path, "-") == 0) return 1;
    return stat(path, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode));
}

static FILE *open_stream_file(const char *path) {
    if (strcmp(path, "-") == 0) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) die("%s: %s", path, strerror(errno));
    return f;
}

/* Append the shard files that `path` names (a file, directory or prefix). */
static void add_path(shard_set_t *s, const char *path) {
    size_t before = s->files.n;
    if (is_dir(path)) {
        if (!add_manifest(s, path)) {
            char *pat = path_join(path, "*.shard");
            add_glob(s, pat);
            free(pat);
        }
        if (s->files.n == before) die("%s: no shards in this directory", path);
    } else if (access(path, F_OK) == 0) {
        add_file(s, path);
    } else {
        char *pat = xasprintf("%s-[0-9]*.shard", path);
        add_glob(s, pat);
        free(pat);
        if (s->files.n == before) die("%s: no such shard file, directory or prefix", path);
    }
}

shard_set_t *shard_open(const char *path) {
    if (!is_stream_path(path)) return shard_open_list(&path, 1);
    shard_set_t *s = xcalloc(1, sizeof *s);
    s->stream = xcalloc(1, sizeof *s->stream);
    sha256_init(&s->stream->sha);
    s->stream->f = open_stream_file(path);
    s->stream->name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    return s;
}

shard_set_t *shard_open_list(const char *const *paths, size_t n) {
    if (n == 0) die("no shard paths given");
    shard_set_t *s = xcalloc(1, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        if (is_stream_path(paths[i])) die("%s: a list of shard paths takes files, directories or prefixes, not streams", paths[i]);
        add_path(s, paths[i]);
    }
    s->first = xmalloc((s->files.n + 1) * sizeof *s->first);
    s->first[0] = 0;
    for (size_t i = 0; i < s->files.n; i++) s->first[i + 1] = s->first[i] + s->files.v[i].count;
    return s;
}

size_t shard_count(const shard_set_t *s) { return s->stream ? s->stream->total : s->first[s->files.n]; }

int shard_is_stream(const shard_set_t *s) { return s->stream != NULL; }

/* The file holding global record i, and i's position in it. */
static shard_file_t *locate(const shard_set_t *s, size_t i, size_t *k) {
    if (s->stream) die("%s: random access needs a shard file, not a stream", s->stream->name);
    if (i >= s->first[s->files.n]) die("record %zu out of range (%zu records)", i, s->first[s->files.n]);
    size_t lo = 0, hi = s->files.n; /* file lo with first[lo] <= i < first[lo+1] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->first[mid] <= i) lo = mid;
        else hi = mid;
    }
    *k = i - s->first[lo];
    return &s->files.v[lo];
}

uint32_t shard_ncaps(const shard_set_t *s, size_t i) {
    size_t k;
    return locate(s, i, &k)->index[k].ncaps;
}

void shard_get(shard_set_t *s, size_t i, shard_record_t *rec) {
    size_t k;
    shard_file_t *sf = locate(s, i, &k);
    const shard_index_entry_t *e = &sf->index[k];
    char err[256];
    if (shard_parse_record(sf->map + e->offset, e->record_len, rec, err, sizeof err))
        die("%s: record %zu (offset %llu): %s", sf->path, k, (unsigned long long)e->offset, err);
    if (rec->image_id != e->image_id || rec->ncaps != e->ncaps)
        die("%s: record %zu (offset %llu): does not match its index entry", sf->path, k, (unsigned long long)e->offset);
}

int shard_next(shard_set_t *s, shard_record_t *rec) {
    if (s->stream) {
        char err[512];
        int rc = stream_step(s->stream, rec, err, sizeof err);
        if (rc < 0) die("%s: %s", s->stream->name, err);
        return rc;
    }
    if (s->cursor >= s->first[s->files.n]) return 0;
    shard_get(s, s->cursor++, rec);
    return 1;
}

void shard_close(shard_set_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->files.n; i++) unmap_file(&s->files.v[i]);
    free(s->files.v);
    free(s->first);
    if (s->stream) {
        if (s->stream->f != stdin) fclose(s->stream->f);
        free(s->stream->seen.v);
        free(s->stream->buf.v);
        free(s->stream);
    }
    free(s);
}

int shard_verify(const char *path, shard_stats_t *st, char *err, size_t errlen) {
    stream_t sm = {.f = open_stream_file(path), .name = path};
    sha256_init(&sm.sha);
    shard_record_t rec = {0};
    int rc;
    uint64_t captions = 0;
    while ((rc = stream_step(&sm, &rec, err, errlen)) == 1) captions += rec.ncaps;
    if (rc == 0) {
        uint8_t d[32];
        sha256_final(&sm.sha, d);
        sha256_hex(d, st->sha256);
        st->records = sm.total;
        st->captions = captions;
        st->bytes = sm.bytes;
    }
    shard_record_free(&rec);
    if (sm.f != stdin) fclose(sm.f);
    free(sm.seen.v);
    free(sm.buf.v);
    return rc;
}
