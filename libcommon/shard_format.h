/* shard_format.h - byte-level pieces of the shard format shared by the shard
 * writer and reader (internal to libcommon; see man/blip-shard.5). All
 * integers are little-endian. */
#ifndef BLIP_SHARD_FORMAT_H
#define BLIP_SHARD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "shard.h"

#define SHARD_FILE_MAGIC "BLIPSHRD"
#define SHARD_HEADER_LEN 16
#define REC_MAGIC 0x43455242u  /* "BREC" */
#define REC_HEADER_LEN 40
#define IDX_MAGIC 0x58444942u  /* "BIDX" */
#define IDX_HEADER_LEN 32
#define IDX_ENTRY_LEN 24
#define END_MAGIC 0x444E4542u  /* "BEND" */
#define FOOTER_LEN 32
#define REC_MAX_LEN (1u << 30)  /* sanity bound on one record */

typedef struct {
    uint64_t offset;
    int64_t image_id;
    uint32_t record_len, ncaps;
} shard_index_entry_t;

static inline void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

void shard_file_header(uint8_t out[SHARD_HEADER_LEN]);
int shard_check_file_header(const uint8_t *p, char *err, size_t errlen);

/* Total length of the record whose 40-byte header is at p, or -1 with err. */
int64_t shard_record_len(const uint8_t *p, char *err, size_t errlen);
/* Check (CRC, sizes, metadata) and decode the whole record buf[0..n) into
 * rec; rec->image points into buf. Returns 0 or -1 with err. */
int shard_parse_record(const uint8_t *buf, size_t n, shard_record_t *rec, char *err, size_t errlen);

/* Index block (header + zstd payload) for entries; replaces out's contents. */
void shard_encode_index(bytes_t *out, const shard_index_entry_t *e, uint64_t count);
/* Length of the index block whose header is at p, or -1 with err. */
int64_t shard_index_len(const uint8_t *p, char *err, size_t errlen);
/* Check and decode a whole index block; *entries is malloc'd. */
int shard_parse_index(const uint8_t *buf, size_t n, shard_index_entry_t **entries, uint64_t *count, char *err,
                      size_t errlen);

void shard_encode_footer(uint8_t out[FOOTER_LEN], uint64_t index_offset, uint64_t records, uint64_t captions);
int shard_parse_footer(const uint8_t *p, uint64_t *index_offset, uint64_t *records, uint64_t *captions, char *err,
                       size_t errlen);

#endif
