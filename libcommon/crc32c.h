/* crc32c.h - CRC-32C (Castagnoli), the checksum of shard records and indexes.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, else slicing-by-8. */
#ifndef BLIP_CRC32C_H
#define BLIP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: crc32c(0, buf, n) starts one; feeding pieces in order gives
 * the same value as feeding their concatenation. crc32c(0, "123456789", 9)
 * is 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);

#endif
