/* model_decode.h - incremental decoding for caption generation (greedy,
 * beam search, sampling): the text decoder over a self-attention KV cache,
 * with each layer's cross-attention keys/values computed once per image and
 * shared by that image's rows (beams).
 *
 *   blip_encode_image(m, pixels, n_images);      image embeddings
 *   kv = blip_kv_new(m, n_images * beams, max_len);
 *   blip_kv_start(kv, n_images, beams);           rows = n_images * beams,
 *                                                 image-major (row r -> image r / beams)
 *   blip_kv_step(kv, prompt_ids, 4, logits);      [DEC] a picture of -> logits [rows, V]
 *   loop: choose tokens; blip_kv_keep(kv, images, n) when images are done
 *         (their rows and cross-attention K/V leave, so later steps skip
 *         them); blip_kv_reorder(kv, src) when beams are re-ranked (src rows
 *         must belong to the same image); blip_kv_step(kv, ids, 1, logits)
 *
 * Logits equal a full forward over the same tokens (no padding inside a row).
 * Dropout is never applied. All buffers are allocated by blip_kv_new(). */
#ifndef BLIP_MODEL_DECODE_H
#define BLIP_MODEL_DECODE_H

#include <stdint.h>

#include "model.h"

typedef struct blip_kv blip_kv_t;

/* A cache for up to max_rows rows of up to max_len tokens (<= max_pos) and
 * up to max_rows images. */
blip_kv_t *blip_kv_new(blip_model_t *m, int max_rows, int max_len);
void blip_kv_free(blip_kv_t *kv);
/* Empty the cache and compute the cross-attention K/V of the n_images image
 * embeddings of the last blip_encode_image(); rows = n_images * beams. */
void blip_kv_start(blip_kv_t *kv, int n_images, int beams);
/* Append n tokens to every row (ids [rows, n], host) and write the logits of
 * each row's last new token to logits [rows, V] (host). */
void blip_kv_step(blip_kv_t *kv, const int32_t *ids, int n, float *logits);
/* Re-rank rows: new row r continues old row src[r] (same image group). */
void blip_kv_reorder(blip_kv_t *kv, const int32_t *src);
/* Keep images images[0..n) (increasing, n >= 1) and drop the others: new
 * image j is old image images[j], with its `beams` rows and cross-attention
 * K/V; rows = n * beams afterwards. */
void blip_kv_keep(blip_kv_t *kv, const int32_t *images, int n);
/* Tokens cached per row so far. */
int blip_kv_len(const blip_kv_t *kv);
/* Decoder work since blip_kv_new(): token positions fed (rows x tokens,
 * summed over steps). */
long blip_kv_fed(const blip_kv_t *kv);

#endif
