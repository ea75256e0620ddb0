/* shard_write.c - append encoded records to a shard file or stream, then
 * write the index and footer and commit the file atomically. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "sha256.h"
#include "shard_format.h"

struct shard_writer {
    afile_t out;
    sha256_t sha;
    uint64_t pos, captions;
    DA(shard_index_entry_t) index;
};

static void emit(shard_writer_t *w, const void *p, size_t n) {
    afile_write(&w->out, p, n);
    sha256_update(&w->sha, p, n);
    w->pos += n;
}

shard_writer_t *shard_writer_open(const char *path) {
    shard_writer_t *w = xcalloc(1, sizeof *w);
    afile_open(&w->out, path);
    sha256_init(&w->sha);
    uint8_t h[SHARD_HEADER_LEN];
    shard_file_header(h);
    emit(w, h, sizeof h);
    return w;
}

void shard_writer_add(shard_writer_t *w, const uint8_t *rec, size_t len) {
    shard_index_entry_t e = {
        .offset = w->pos,
        .image_id = (int64_t)get_u64(rec + 8),
        .record_len = (uint32_t)len,
        .ncaps = get_u32(rec + 28),
    };
    da_push(&w->index, e);
    w->captions += e.ncaps;
    emit(w, rec, len);
}

uint64_t shard_writer_bytes(const shard_writer_t *w) { return w->pos; }
uint64_t shard_writer_records(const shard_writer_t *w) { return w->index.n; }

void shard_writer_close(shard_writer_t *w, shard_stats_t *st) {
    uint64_t index_offset = w->pos;
    bytes_t idx = {0};
    shard_encode_index(&idx, w->index.v, w->index.n);
    emit(w, idx.v, idx.n);
    uint8_t foot[FOOTER_LEN];
    shard_encode_footer(foot, index_offset, w->index.n, w->captions);
    emit(w, foot, sizeof foot);
    afile_commit(&w->out);
    if (st) {
        uint8_t d[32];
        sha256_final(&w->sha, d);
        sha256_hex(d, st->sha256);
        st->records = w->index.n;
        st->captions = w->captions;
        st->bytes = w->pos;
    }
    free(idx.v);
    free(w->index.v);
    free(w);
}
