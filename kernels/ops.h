/* ops.h - the compute backend interface: every op the BLIP model and its
 * optimizer need, forward and backward.
 *
 * Buffers are device memory owned by the backend: the model allocates them
 * once up front with be_alloc(), moves data with be_upload()/be_download(),
 * and passes device pointers (and offsets into them) to ops; only the backend
 * dereferences them. The CPU backend (kernels/cpu/) uses host memory, BLAS
 * and OpenMP; a CUDA backend implements the same functions on the GPU.
 *
 * Conventions
 *   - Tensors are row-major fp32. "[N, C]" means N rows of C floats.
 *   - Linear weights have PyTorch's layout [OC, C] (out = inp @ w^T + b).
 *   - Backward ops ACCUMULATE (+=) into every gradient they write, parameter
 *     and activation gradients alike; callers zero gradients before a pass.
 *   - Ops are asynchronous with respect to the host on devices that can be;
 *     be_download() and be_sync() wait for all previous work.
 *   - Integer inputs (token ids, targets, masks) are int32 device buffers.
 *   - Dropout draws from Philox4x32-10 (rng.h) keyed by (seed, stream) and
 *     counted by element index, so the backward pass regenerates the same
 *     mask without storing it and results never depend on thread count. */
#ifndef BLIP_OPS_H
#define BLIP_OPS_H

#include <stddef.h>
#include <stdint.h>

/* ---- memory ----------------------------------------------------------- */

/* Allocate / free device memory (bytes); contents of a new buffer are zero. */
void *be_alloc(size_t bytes);
void be_free(void *dev);
/* Copy host <-> device and device -> device. */
void be_upload(void *dev, const void *host, size_t bytes);
void be_download(void *host, const void *dev, size_t bytes);
void be_copy(void *dst_dev, const void *src_dev, size_t bytes);
/* Wait until every queued op has finished. */
void be_sync(void);
/* Short description of the backend ("cpu: openblas, 2 threads"). */
const char *be_name(void);

/* ---- elementwise and reductions -------------------------------------- */

void op_zero(float *x, size_t n);
/* y += x */
void op_add_inplace(float *y, const float *x, size_t n);
/* out = a + b */
void op_add(float *out, const float *a, const float *b, size_t n);
void op_scale(float *x, float s, size_t n);
/* *out = sum of x[i]^2 (one float, device). */
void op_sumsq(float *out, const float *x, size_t n);
/* *out = sum of x[i] (one float, device). */
void op_sum(float *out, const float *x, size_t n);

/* ---- linear layers ---------------------------------------------------- */

/* out[N, OC] = inp[N, C] @ w[OC, C]^T + bias[OC] (bias may be NULL). */
void op_matmul(float *out, const float *inp, const float *w, const float *bias,
               int N, int C, int OC);
/* dinp[N, C] += dout @ w; dw[OC, C] += dout^T @ inp; dbias[OC] += column
 * sums of dout. Any of dinp, dw, dbias may be NULL to skip it. */
void op_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int N, int C, int OC);

/* ---- normalization and activations ------------------------------------ */

/* out[N, C] = (inp - mean) * rstd * w + b per row; saves mean[N], rstd[N]. */
void op_layernorm(float *out, float *mean, float *rstd, const float *inp,
                  const float *w, const float *b, int N, int C, float eps);
void op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int N, int C);
/* Exact GELU: out = x * 0.5 * (1 + erf(x / sqrt 2)). */
void op_gelu(float *out, const float *inp, size_t n);
void op_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* In place: x[i] = keep(i) ? x[i] / (1 - p) : 0. No-op when p == 0. */
void op_dropout(float *x, size_t n, float p, uint64_t seed, uint64_t stream);
/* Same mask applied to a gradient (in place). */
void op_dropout_backward(float *dx, size_t n, float p, uint64_t seed, uint64_t stream);

/* ---- attention -------------------------------------------------------- */

/* Multi-head scaled dot-product attention for B sequences, H heads of size
 * hd. q rows are Tq long, k/v rows Tk long; row i of q for batch b starts at
 * q + b*q_bstride + i*q_stride and holds H*hd values (head h at h*hd); k, v
 * likewise with kv_bstride, kv_stride (so fused qkv buffers and KV caches
 * need no copy; a zero batch stride means Tq*q_stride resp. Tk*kv_stride).
 * With kv_group g > 1, query batch b reads key/value batch b / g (beams of
 * one image share its cross-attention K/V, like repeat_interleave).
 * out is [B, Tq, H*hd]; probs [B, H, Tq, Tk] keeps the softmax for backward.
 * The queries are the last Tq of the Tk positions: key j is visible to
 * query i when (!causal || j <= i + Tk - Tq) and (key_mask == NULL ||
 * key_mask[b*Tk + j] != 0); hidden keys get probability exactly 0 (the same
 * result as adding -10000 or finfo.min to the score). Attention dropout with
 * probability p_drop (seeded, stream per call) applies to the probabilities
 * used for out; probs keeps them undropped. */
typedef struct {
    int B, H, Tq, Tk, hd;
    int q_stride, kv_stride;
    size_t q_bstride, kv_bstride;
    int kv_group;            /* query batches per key/value batch; 0 = 1 (>1: forward only) */
    int causal;
    const int32_t *key_mask; /* [B, Tk] or NULL */
    float p_drop;
    uint64_t seed, stream;
} attn_shape_t;

void op_attention(float *out, float *probs, const float *q, const float *k,
                  const float *v, const attn_shape_t *s);
/* dq, dk, dv (same strides as q, k, v) += gradients from dout [B, Tq, H*hd]. */
void op_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                           const float *probs, const float *q, const float *k,
                           const float *v, const attn_shape_t *s);

/* ---- embeddings ------------------------------------------------------- */

/* Text: out[B, T, C] = wte[ids[b, t]] + wpe[pos0 + t]. */
void op_text_embed(float *out, const int32_t *ids, const float *wte,
                   const float *wpe, int B, int T, int C, int pos0);
/* Rows whose id is pad_id add nothing to dwte (nn.Embedding(padding_idx)). */
void op_text_embed_backward(float *dwte, float *dwpe, const float *dout,
                            const int32_t *ids, int B, int T, int C, int pos0, int pad_id);
/* Vision patches (im2col for a conv with kernel = stride = P):
 * pixels[B, 3, Hi, Wi] -> patches[B, gh*gw, 3*P*P] in (channel, ky, kx)
 * order, matching a Conv2d weight [C, 3, P, P] flattened. */
void op_patchify(float *patches, const float *pixels, int B, int Hi, int Wi, int P);
/* out[B, 1+NP, C]: row 0 = cls + pos[0], row 1+p = patch_out[b, p] + pos[1+p]. */
void op_vit_embed(float *out, const float *patch_out, const float *cls,
                  const float *pos, int B, int NP, int C);
void op_vit_embed_backward(float *dpatch_out, float *dcls, float *dpos,
                           const float *dout, int B, int NP, int C);

/* ---- loss ------------------------------------------------------------- */

/* Cross-entropy with label smoothing eps (PyTorch's formula) over logits
 * [N, V] with targets[N] (-100 = ignored):
 *   loss_i = (1 - eps) * -logp[t_i] + eps * mean_j(-logp[j]),
 * losses[i] = loss_i / n_count (0 for ignored rows), so summing losses gives
 * the mean over counted rows. When dlogits is non-NULL it receives (=, not +=)
 * the gradient of that mean times dscale. */
void op_crossentropy(float *losses, float *dlogits, const float *logits,
                     const int32_t *targets, int N, int V, float eps,
                     int n_count, float dscale);

/* ---- optimizer -------------------------------------------------------- */

/* AdamW with decoupled weight decay on n parameters, step t >= 1:
 *   p -= lr * wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * grad is multiplied by gscale first (clipping, accumulation averaging). */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay, gscale;
    int t;
} adamw_args_t;

void op_adamw(float *param, const float *grad, float *m, float *v, size_t n,
              const adamw_args_t *a);

#endif
