/* shard.h - the blip shard format: packed COCO records (image bytes, size,
 * split, file name, captions) with an index for random access and CRC32C on
 * every record and on the index. The byte layout is in man/blip-shard.5.
 *
 * Writing: encode records (thread-safe, e.g. on pool workers) with
 * shard_encode_record(), append them in order with shard_writer_add(), and
 * shard_writer_close() writes index and footer and renames the file into
 * place (a shard on disk is always complete). Writing to "-" streams to stdout.
 *
 * Reading: shard_open() takes a shard file, a directory of shards (its
 * manifest.json order, else sorted *.shard), a prefix ("shards/val" for
 * shards/val-00000.shard ...), or "-" for a stream on stdin (one shard or
 * several concatenated). shard_next() iterates; shard_get() fetches record i
 * (files only; thread-safe with one shard_record_t per thread). Corrupt
 * input dies naming the file, record and offset. */
#ifndef BLIP_SHARD_H
#define BLIP_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHARD_VERSION 1

typedef struct {
    int64_t id;       /* annotation id */
    const char *text; /* UTF-8, NUL-terminated */
    uint32_t len;
} shard_caption_t;

/* One image with its captions. When read, the strings, captions and image
 * point into buffers owned by the record (or into the mapped file), valid
 * until the next read into the same record or shard_record_free(). */
typedef struct {
    int64_t image_id;
    uint32_t width, height; /* of the stored image */
    const char *split;      /* "train", "val", "test", ... */
    const char *file_name;  /* as in the annotations, relative to the COCO root */
    int image_format;       /* IMG_JPEG or IMG_PNG (image.h) */
    const uint8_t *image;
    size_t image_len;
    uint32_t ncaps;
    const shard_caption_t *caps;
    /* reader-owned storage */
    uint8_t *meta_buf, *image_buf;
    size_t meta_cap, image_cap;
    shard_caption_t *caps_buf;
    size_t caps_cap;
} shard_record_t;

typedef DA(uint8_t) bytes_t;

/* Serialize one record (header, zstd metadata, image bytes) into out
 * (replacing its contents). */
void shard_encode_record(bytes_t *out, const shard_record_t *rec);
void shard_record_free(shard_record_t *rec);

/* ---- writing ------------------------------------------------------------- */

typedef struct shard_writer shard_writer_t;

typedef struct {
    uint64_t records, captions, bytes;
    char sha256[65]; /* of the whole file, hex */
} shard_stats_t;

shard_writer_t *shard_writer_open(const char *path);
void shard_writer_add(shard_writer_t *w, const uint8_t *rec, size_t len);
uint64_t shard_writer_bytes(const shard_writer_t *w);
uint64_t shard_writer_records(const shard_writer_t *w);
void shard_writer_close(shard_writer_t *w, shard_stats_t *st);

/* ---- reading ------------------------------------------------------------- */

typedef struct shard_set shard_set_t;

shard_set_t *shard_open(const char *path);
/* Several file, directory or prefix paths (no streams) as one set, their
 * records concatenated in argument order. */
shard_set_t *shard_open_list(const char *const *paths, size_t n);
/* Records in all files (streams: counted so far). */
size_t shard_count(const shard_set_t *s);
int shard_is_stream(const shard_set_t *s);
/* Next record in order; returns 0 at the end. */
int shard_next(shard_set_t *s, shard_record_t *rec);
/* Record i of a set of files (not streams). */
void shard_get(shard_set_t *s, size_t i, shard_record_t *rec);
/* Caption count of record i, from the index (files only). */
uint32_t shard_ncaps(const shard_set_t *s, size_t i);
void shard_close(shard_set_t *s);

/* Check one shard file or stream completely: header, every record's
 * checksum and metadata, index checksum and entries, footer and counts.
 * Returns 0, or -1 with the first problem (naming the record) in err. */
int shard_verify(const char *path, shard_stats_t *st, char *err, size_t errlen);

#endif
