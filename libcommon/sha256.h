/* sha256.h - SHA-256 (FIPS 180-4), for the file hashes in shard manifests so
 * they can be checked with sha256sum. */
#ifndef BLIP_SHA256_H
#define BLIP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;     /* bytes hashed so far */
    uint8_t buf[64];  /* pending partial block */
} sha256_t;

void sha256_init(sha256_t *s);
void sha256_update(sha256_t *s, const void *data, size_t n);
void sha256_final(sha256_t *s, uint8_t out[32]);
/* Lowercase hex of a digest into hex[65]. */
void sha256_hex(const uint8_t digest[32], char hex[65]);

#endif
