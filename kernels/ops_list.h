/* ops_list.h - the list of backend operations (an X-macro list).
 *
 * Each entry is BLIP_OP(name, (parameters), (arguments)); every op returns
 * void. ops.h expands the list into the function declarations the model
 * calls and into the backend_t table each backend fills; kernels/dispatch.c
 * expands it into the functions that forward to the selected backend. The
 * conventions (row-major fp32, accumulating backward ops, asynchrony) are
 * in ops.h. No include guard: include it only with BLIP_OP defined. */

/* ---- memory ----------------------------------------------------------- */

/* Free a buffer from be_alloc() (NULL is ignored). */
BLIP_OP(be_free, (void *dev), (dev))
/* Copy host <-> device and device -> device. */
BLIP_OP(be_upload, (void *dev, const void *host, size_t bytes), (dev, host, bytes))
BLIP_OP(be_download, (void *host, const void *dev, size_t bytes), (host, dev, bytes))
BLIP_OP(be_copy,
        (void *dst_dev, const void *src_dev, size_t bytes),
        (dst_dev, src_dev, bytes))
/* Wait until every queued op has finished. */
BLIP_OP(be_sync, (void), ())

/* ---- elementwise and reductions -------------------------------------- */

BLIP_OP(op_zero, (float *x, size_t n), (x, n))
/* y += x */
BLIP_OP(op_add_inplace, (float *y, const float *x, size_t n), (y, x, n))
/* out = a + b */
BLIP_OP(op_add, (float *out, const float *a, const float *b, size_t n), (out, a, b, n))
BLIP_OP(op_scale, (float *x, float s, size_t n), (x, s, n))
/* *out = sum of x[i]^2 (one float, device). */
BLIP_OP(op_sumsq, (float *out, const float *x, size_t n), (out, x, n))
/* *out = sum of x[i] (one float, device). */
BLIP_OP(op_sum, (float *out, const float *x, size_t n), (out, x, n))

/* ---- linear layers ---------------------------------------------------- */

/* out[N, OC] = inp[N, C] @ w[OC, C]^T + bias[OC] (bias may be NULL). */
BLIP_OP(op_matmul,
        (float *out, const float *inp, const float *w, const float *bias, int N, int C,
         int OC),
        (out, inp, w, bias, N, C, OC))
/* dinp[N, C] += dout @ w; dw[OC, C] += dout^T @ inp; dbias[OC] += column
 * sums of dout. Any of dinp, dw, dbias may be NULL to skip it. */
BLIP_OP(op_matmul_backward,
        (float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
         const float *w, int N, int C, int OC),
        (dinp, dw, dbias, dout, inp, w, N, C, OC))

/* ---- normalization and activations ------------------------------------ */

/* out[N, C] = (inp - mean) * rstd * w + b per row; saves mean[N], rstd[N]. */
BLIP_OP(op_layernorm,
        (float *out, float *mean, float *rstd, const float *inp, const float *w,
         const float *b, int N, int C, float eps),
        (out, mean, rstd, inp, w, b, N, C, eps))
BLIP_OP(op_layernorm_backward,
        (float *dinp, float *dw, float *db, const float *dout, const float *inp,
         const float *w, const float *mean, const float *rstd, int N, int C),
        (dinp, dw, db, dout, inp, w, mean, rstd, N, C))
/* Exact GELU: out = x * 0.5 * (1 + erf(x / sqrt 2)). */
BLIP_OP(op_gelu, (float *out, const float *inp, size_t n), (out, inp, n))
BLIP_OP(op_gelu_backward,
        (float *dinp, const float *inp, const float *dout, size_t n),
        (dinp, inp, dout, n))
/* In place: x[i] = keep(i) ? x[i] / (1 - p) : 0. No-op when p == 0. */
BLIP_OP(op_dropout,
        (float *x, size_t n, float p, uint64_t seed, uint64_t stream),
        (x, n, p, seed, stream))
/* Same mask applied to a gradient (in place). */
BLIP_OP(op_dropout_backward,
        (float *dx, size_t n, float p, uint64_t seed, uint64_t stream),
        (dx, n, p, seed, stream))

/* ---- attention -------------------------------------------------------- */

/* Multi-head scaled dot-product attention for B sequences, H heads of size
 * hd. q rows are Tq long, k/v rows Tk long; row i of q for batch b starts at
 * q + b*q_bstride + i*q_stride and holds H*hd values (head h at h*hd); k, v
 * likewise with kv_bstride, kv_stride (so fused qkv buffers and KV caches
 * need no copy; a zero batch stride means Tq*q_stride resp. Tk*kv_stride).
 * With kv_group g > 1, query batch b reads key/value batch b / g (beams of
 * one image share its cross-attention K/V, like repeat_interleave).
 * out is [B, Tq, H*hd]; state keeps what the backward needs, in a layout
 * the backend chooses: be_attn_state_floats(s) floats, never more than
 * B*H*Tq*Tk (the CPU and the GEMM paths keep the probabilities [B, H, Tq,
 * Tk], undropped; CUDA's fused bf16 kernels keep one log-sum-exp per query
 * row, [B, H, Tq]).
 * The queries are the last Tq of the Tk positions: key j is visible to
 * query i when (!causal || j <= i + Tk - Tq) and (key_mask == NULL ||
 * key_mask[b*Tk + j] != 0); hidden keys get probability exactly 0 (the same
 * result as adding -10000 or finfo.min to the score). Attention dropout with
 * probability p_drop (seeded, stream per call) applies to the probabilities
 * used for out. (attn_shape_t is in ops.h.) */
BLIP_OP(op_attention,
        (float *out, float *state, const float *q, const float *k, const float *v,
         const attn_shape_t *s),
        (out, state, q, k, v, s))
/* dq, dk, dv (same strides as q, k, v) += gradients from dout [B, Tq, H*hd],
 * given the forward call's out and state (same shape s, kv_group <= 1). */
BLIP_OP(op_attention_backward,
        (float *dq, float *dk, float *dv, const float *dout, const float *out,
         const float *state, const float *q, const float *k, const float *v,
         const attn_shape_t *s),
        (dq, dk, dv, dout, out, state, q, k, v, s))

/* ---- embeddings ------------------------------------------------------- */

/* Text: out[B, T, C] = wte[ids[b, t]] + wpe[pos0 + t]. */
BLIP_OP(op_text_embed,
        (float *out, const int32_t *ids, const float *wte, const float *wpe, int B,
         int T, int C, int pos0),
        (out, ids, wte, wpe, B, T, C, pos0))
/* Rows whose id is pad_id add nothing to dwte (nn.Embedding(padding_idx)). */
BLIP_OP(op_text_embed_backward,
        (float *dwte, float *dwpe, const float *dout, const int32_t *ids, int B, int T,
         int C, int pos0, int pad_id),
        (dwte, dwpe, dout, ids, B, T, C, pos0, pad_id))
/* Vision patches (im2col for a conv with kernel = stride = P):
 * pixels[B, 3, Hi, Wi] -> patches[B, gh*gw, 3*P*P] in (channel, ky, kx)
 * order, matching a Conv2d weight [C, 3, P, P] flattened. */
BLIP_OP(op_patchify,
        (float *patches, const float *pixels, int B, int Hi, int Wi, int P),
        (patches, pixels, B, Hi, Wi, P))
/* out[B, 1+NP, C]: row 0 = cls + pos[0], row 1+p = patch_out[b, p] + pos[1+p]. */
BLIP_OP(op_vit_embed,
        (float *out, const float *patch_out, const float *cls, const float *pos, int B,
         int NP, int C),
        (out, patch_out, cls, pos, B, NP, C))
BLIP_OP(op_vit_embed_backward,
        (float *dpatch_out, float *dcls, float *dpos, const float *dout, int B, int NP,
         int C),
        (dpatch_out, dcls, dpos, dout, B, NP, C))

/* ---- loss ------------------------------------------------------------- */

/* Cross-entropy with label smoothing eps (PyTorch's formula) over logits
 * [N, V] with targets[N] (-100 = ignored):
 *   loss_i = (1 - eps) * -logp[t_i] + eps * mean_j(-logp[j]),
 * losses[i] = loss_i / n_count (0 for ignored rows), so summing losses gives
 * the mean over counted rows. When dlogits is non-NULL it receives (=, not +=)
 * the gradient of that mean times dscale. */
BLIP_OP(op_crossentropy,
        (float *losses, float *dlogits, const float *logits, const int32_t *targets,
         int N, int V, float eps, int n_count, float dscale),
        (losses, dlogits, logits, targets, N, V, eps, n_count, dscale))

/* ---- optimizer -------------------------------------------------------- */

/* AdamW with decoupled weight decay on n parameters, step t >= 1:
 *   p -= lr * wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * grad is multiplied by gscale first (clipping, accumulation averaging); adamw_args_t is in ops.h. */
BLIP_OP(op_adamw,
        (float *param, const float *grad, float *m, float *v, size_t n,
         const adamw_args_t *a),
        (param, grad, m, v, n, a))
