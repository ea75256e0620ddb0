/* shard_format.c - encode and check shard records, index and footer. */
#include "shard_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "crc32c.h"
#include "image.h"

#define META_ZSTD_LEVEL 3

void shard_file_header(uint8_t out[SHARD_HEADER_LEN]) {
    memcpy(out, SHARD_FILE_MAGIC, 8);
    put_u32(out + 8, SHARD_VERSION);
    put_u32(out + 12, crc32c(0, out, 12));
}

int shard_check_file_header(const uint8_t *p, char *err, size_t errlen) {
    if (memcmp(p, SHARD_FILE_MAGIC, 8) != 0) return errf(err, errlen, "not a blip shard (bad magic)");
    if (get_u32(p + 12) != crc32c(0, p, 12)) return errf(err, errlen, "file header checksum mismatch");
    if (get_u32(p + 8) != SHARD_VERSION)
        return errf(err, errlen, "shard format version %u, this build reads %d", get_u32(p + 8), SHARD_VERSION);
    return 0;
}

/* ---- records ----------------------------------------------------------- */

static void append(bytes_t *b, const void *p, size_t n) {
    da_reserve(b, b->n + n);
    memcpy(b->v + b->n, p, n);
    b->n += n;
}

static void append_u16_str(bytes_t *b, const char *s) {
    size_t n = strlen(s);
    if (n > 0xFFFF) die("string too long for a shard record: %.40s...", s);
    uint8_t len[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
    append(b, len, 2);
    append(b, s, n);
}

void shard_encode_record(bytes_t *out, const shard_record_t *rec) {
    bytes_t meta = {0};
    uint8_t tmp[12];
    put_u32(tmp, rec->width);
    put_u32(tmp + 4, rec->height);
    append(&meta, tmp, 8);
    append_u16_str(&meta, rec->split);
    append_u16_str(&meta, rec->file_name);
    for (uint32_t i = 0; i < rec->ncaps; i++) {
        put_u64(tmp, (uint64_t)rec->caps[i].id);
        put_u32(tmp + 8, (uint32_t)strlen(rec->caps[i].text));
        append(&meta, tmp, 12);
        append(&meta, rec->caps[i].text, strlen(rec->caps[i].text));
    }
    size_t bound = ZSTD_compressBound(meta.n);
    size_t total_max = REC_HEADER_LEN + bound + rec->image_len;
    if (rec->image_len > REC_MAX_LEN || total_max > REC_MAX_LEN) die("record for image %lld too large", (long long)rec->image_id);
    out->n = 0;
    da_reserve(out, total_max);
    uint8_t *h = out->v;
    size_t zlen = ZSTD_compress(h + REC_HEADER_LEN, bound, meta.v, meta.n, META_ZSTD_LEVEL);
    if (ZSTD_isError(zlen)) die("zstd: %s", ZSTD_getErrorName(zlen));
    memcpy(h + REC_HEADER_LEN + zlen, rec->image, rec->image_len);
    put_u32(h, REC_MAGIC);
    put_u64(h + 8, (uint64_t)rec->image_id);
    put_u32(h + 16, (uint32_t)zlen);
    put_u32(h + 20, (uint32_t)meta.n);
    put_u32(h + 24, (uint32_t)rec->image_len);
    put_u32(h + 28, rec->ncaps);
    memset(h + 32, 0, 8);
    h[32] = (uint8_t)rec->image_format;
    out->n = REC_HEADER_LEN + zlen + rec->image_len;
    put_u32(h + 4, crc32c(0, h + 8, out->n - 8));
    free(meta.v);
}

int64_t shard_record_len(const uint8_t *p, char *err, size_t errlen) {
    if (get_u32(p) != REC_MAGIC) return errf(err, errlen, "bad record magic");
    uint64_t len = (uint64_t)REC_HEADER_LEN + get_u32(p + 16) + get_u32(p + 24);
    if (len > REC_MAX_LEN) return errf(err, errlen, "record length %llu out of range", (unsigned long long)len);
    return (int64_t)len;
}

/* Grow *buf to at least n bytes. */
static void reserve(uint8_t **buf, size_t *cap, size_t n) {
    if (*cap >= n) return;
    *cap = n + n / 2 + 64;
    *buf = xrealloc(*buf, *cap);
}

/* Read a u16-length string from meta into a NUL-terminated copy in place:
 * the strings are copied to the end of meta_buf's decoded area. */
static int take_str(const uint8_t **p, const uint8_t *end, const char **out, char **dst, char *err, size_t errlen) {
    if (end - *p < 2) return errf(err, errlen, "metadata truncated");
    size_t n = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
    *p += 2;
    if ((size_t)(end - *p) < n) return errf(err, errlen, "metadata truncated");
    memcpy(*dst, *p, n);
    (*dst)[n] = 0;
    *out = *dst;
    *dst += n + 1;
    *p += n;
    return 0;
}

int shard_parse_record(const uint8_t *buf, size_t n, shard_record_t *rec, char *err, size_t errlen) {
    if (n < REC_HEADER_LEN) return errf(err, errlen, "record truncated");
    int64_t len = shard_record_len(buf, err, errlen);
    if (len < 0) return -1;
    if ((size_t)len != n) return errf(err, errlen, "record length %lld does not match %zu", (long long)len, n);
    if (get_u32(buf + 4) != crc32c(0, buf + 8, n - 8)) return errf(err, errlen, "record checksum mismatch");
    uint32_t zlen = get_u32(buf + 16), mlen = get_u32(buf + 20);
    rec->image_id = (int64_t)get_u64(buf + 8);
    rec->image_len = get_u32(buf + 24);
    rec->ncaps = get_u32(buf + 28);
    rec->image_format = buf[32];
    rec->image = buf + REC_HEADER_LEN + zlen;
    if (mlen > REC_MAX_LEN) return errf(err, errlen, "metadata length out of range");
    /* decoded metadata, then room for NUL-terminated copies of its strings */
    size_t need = 2 * (size_t)mlen + 2 + rec->ncaps;
    reserve(&rec->meta_buf, &rec->meta_cap, need);
    size_t got = ZSTD_decompress(rec->meta_buf, mlen, buf + REC_HEADER_LEN, zlen);
    if (ZSTD_isError(got) || got != mlen) return errf(err, errlen, "metadata does not decompress");
    const uint8_t *p = rec->meta_buf, *end = rec->meta_buf + mlen;
    char *dst = (char *)rec->meta_buf + mlen;
    if (mlen < 8) return errf(err, errlen, "metadata truncated");
    rec->width = get_u32(p);
    rec->height = get_u32(p + 4);
    p += 8;
    if (take_str(&p, end, &rec->split, &dst, err, errlen) || take_str(&p, end, &rec->file_name, &dst, err, errlen))
        return -1;
    if (rec->ncaps > mlen / 12) return errf(err, errlen, "caption count %u out of range", rec->ncaps);
    if (rec->caps_cap < rec->ncaps) {
        rec->caps_cap = rec->ncaps;
        rec->caps_buf = xrealloc(rec->caps_buf, rec->caps_cap * sizeof *rec->caps_buf);
    }
    for (uint32_t i = 0; i < rec->ncaps; i++) {
        if (end - p < 12) return errf(err, errlen, "caption %u truncated", i);
        shard_caption_t *c = &rec->caps_buf[i];
        c->id = (int64_t)get_u64(p);
        c->len = get_u32(p + 8);
        p += 12;
        if ((size_t)(end - p) < c->len) return errf(err, errlen, "caption %u truncated", i);
        memcpy(dst, p, c->len);
        dst[c->len] = 0;
        c->text = dst;
        dst += c->len + 1;
        p += c->len;
    }
    if (p != end) return errf(err, errlen, "%zu stray bytes after the captions", (size_t)(end - p));
    rec->caps = rec->caps_buf;
    if (rec->image_format != IMG_JPEG && rec->image_format != IMG_PNG)
        return errf(err, errlen, "unknown image format %d", rec->image_format);
    if (image_format(rec->image, rec->image_len) != rec->image_format)
        return errf(err, errlen, "image bytes are not %s", image_format_name(rec->image_format));
    return 0;
}

void shard_record_free(shard_record_t *rec) {
    free(rec->meta_buf);
    free(rec->image_buf);
    free(rec->caps_buf);
    memset(rec, 0, sizeof *rec);
}

/* ---- index and footer ---------------------------------------------------- */

void shard_encode_index(bytes_t *out, const shard_index_entry_t *e, uint64_t count) {
    size_t raw_len = (size_t)count * IDX_ENTRY_LEN;
    uint8_t *raw = xmalloc(raw_len);
    for (uint64_t i = 0; i < count; i++) {
        uint8_t *p = raw + i * IDX_ENTRY_LEN;
        put_u64(p, e[i].offset);
        put_u64(p + 8, (uint64_t)e[i].image_id);
        put_u32(p + 16, e[i].record_len);
        put_u32(p + 20, e[i].ncaps);
    }
    size_t bound = ZSTD_compressBound(raw_len);
    out->n = 0;
    da_reserve(out, IDX_HEADER_LEN + bound);
    size_t zlen = ZSTD_compress(out->v + IDX_HEADER_LEN, bound, raw, raw_len, META_ZSTD_LEVEL);
    if (ZSTD_isError(zlen)) die("zstd: %s", ZSTD_getErrorName(zlen));
    if (raw_len > UINT32_MAX || zlen > UINT32_MAX) die("shard index too large (%llu records)", (unsigned long long)count);
    uint8_t *h = out->v;
    put_u32(h, IDX_MAGIC);
    put_u64(h + 8, count);
    put_u32(h + 16, (uint32_t)zlen);
    put_u32(h + 20, (uint32_t)raw_len);
    put_u64(h + 24, 0);
    out->n = IDX_HEADER_LEN + zlen;
    put_u32(h + 4, crc32c(0, h + 8, out->n - 8));
    free(raw);
}

int64_t shard_index_len(const uint8_t *p, char *err, size_t errlen) {
    if (get_u32(p) != IDX_MAGIC) return errf(err, errlen, "bad index magic");
    return (int64_t)IDX_HEADER_LEN + get_u32(p + 16);
}

int shard_parse_index(const uint8_t *buf, size_t n, shard_index_entry_t **entries, uint64_t *count, char *err,
                      size_t errlen) {
    *entries = NULL;
    if (n < IDX_HEADER_LEN || shard_index_len(buf, err, errlen) != (int64_t)n)
        return errf(err, errlen, "index truncated or malformed");
    if (get_u32(buf + 4) != crc32c(0, buf + 8, n - 8)) return errf(err, errlen, "index checksum mismatch");
    uint64_t cnt = get_u64(buf + 8);
    uint32_t raw_len = get_u32(buf + 20);
    if (cnt * IDX_ENTRY_LEN != raw_len) return errf(err, errlen, "index size does not match its count");
    uint8_t *raw = xmalloc(raw_len);
    size_t got = ZSTD_decompress(raw, raw_len, buf + IDX_HEADER_LEN, n - IDX_HEADER_LEN);
    if (ZSTD_isError(got) || got != raw_len) {
        free(raw);
        return errf(err, errlen, "index does not decompress");
    }
    shard_index_entry_t *e = xmalloc((cnt ? cnt : 1) * sizeof *e);
    for (uint64_t i = 0; i < cnt; i++) {
        const uint8_t *p = raw + i * IDX_ENTRY_LEN;
        e[i].offset = get_u64(p);
        e[i].image_id = (int64_t)get_u64(p + 8);
        e[i].record_len = get_u32(p + 16);
        e[i].ncaps = get_u32(p + 20);
    }
    free(raw);
    *entries = e;
    *count = cnt;
    return 0;
}

void shard_encode_footer(uint8_t out[FOOTER_LEN], uint64_t index_offset, uint64_t records, uint64_t captions) {
    put_u64(out, index_offset);
    put_u64(out + 8, records);
    put_u64(out + 16, captions);
    put_u32(out + 24, crc32c(0, out, 24));
    put_u32(out + 28, END_MAGIC);
}

int shard_parse_footer(const uint8_t *p, uint64_t *index_offset, uint64_t *records, uint64_t *captions, char *err,
                       size_t errlen) {
    if (get_u32(p + 28) != END_MAGIC) return errf(err, errlen, "no footer (file truncated?)");
    if (get_u32(p + 24) != crc32c(0, p, 24)) return errf(err, errlen, "footer checksum mismatch");
    *index_offset = get_u64(p);
    *records = get_u64(p + 8);
    *captions = get_u64(p + 16);
    return 0;
}
