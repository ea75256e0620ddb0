/* cuda_embed.cu - CUDA backend: token + position embeddings for the text
 * decoder (the backward a deterministic scatter-add: one thread owns each
 * gradient element and adds its inputs in row order, like the CPU backend,
 * kernels/cpu/cpu_embed.c), patch extraction (im2col) and the class/position
 * embeddings of the ViT. */
#include "cuda_internal.h"

/* Kernels run one block per row, its threads over the row's columns. */
#define THREADS 256

/* ---- text ------------------------------------------------------------- */

/* Row bt of out[B*T, C] = wte[ids[bt]] + wpe[pos0 + bt % T]. */
__global__ void text_embed_kernel(float *out, const int32_t *ids, const float *wte,
                                  const float *wpe, int T, int C, int pos0) {
    int bt = blockIdx.x;
    const float *e = wte + (size_t)ids[bt] * C, *p = wpe + (size_t)(pos0 + bt % T) * C;
    float *o = out + (size_t)bt * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = e[c] + p[c];
}

void cuda_op_text_embed(float *out, const int32_t *ids, const float *wte, const float *wpe,
                        int B, int T, int C, int pos0) {
    if (!B || !T || !C) return;
    text_embed_kernel<<<B * T, THREADS, 0, cuda.stream>>>(out, ids, wte, wpe, T, C, pos0);
    CHECK_LAUNCH();
}

/* dwpe[pos0 + t, c] += dout[b, t, c] for b = 0.. in order (block t). */
__global__ void wpe_backward_kernel(float *dwpe, const float *dout, int B, int T, int C,
                                    int pos0) {
    int t = blockIdx.x;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float *p = dwpe + (size_t)(pos0 + t) * C + c;
        float acc = *p;
        for (int b = 0; b < B; b++) acc += dout[((size_t)b * T + t) * C + c];
        *p = acc;
    }
}

/* dwte[id] += dout rows with that id, in row order. Block bt handles the
 * token of row bt when bt is its first row (and the id is not pad_id): its
 * threads own the columns of dwte[id] and sum the rows bt.. holding the id. */
__global__ void wte_backward_kernel(float *dwte, const float *dout, const int32_t *ids, int BT,
                                    int C, int pad_id) {
    int bt = blockIdx.x, id = ids[bt];
    if (id == pad_id) return;
    int earlier = 0;
    for (int j = threadIdx.x; j < bt; j += blockDim.x) earlier |= ids[j] == id;
    if (__syncthreads_or(earlier)) return;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float *e = dwte + (size_t)id * C + c;
        float acc = *e;
        for (int j = bt; j < BT; j++)
            if (ids[j] == id) acc += dout[(size_t)j * C + c];
        *e = acc;
    }
}

void cuda_op_text_embed_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids,
                                 int B, int T, int C, int pos0, int pad_id) {
    if (!B || !T || !C) return;
    wpe_backward_kernel<<<T, THREADS, 0, cuda.stream>>>(dwpe, dout, B, T, C, pos0);
    CHECK_LAUNCH();
    wte_backward_kernel<<<B * T, THREADS, 0, cuda.stream>>>(dwte, dout, ids, B * T, C, pad_id);
    CHECK_LAUNCH();
}

/* ---- vision ------------------------------------------------------------ */

/* Patch bp (block) of patches[B, gh*gw, 3*P*P] from pixels[B, 3, Hi, Wi],
 * in (channel, ky, kx) order. */
__global__ void patchify_kernel(float *patches, const float *pixels, int Hi, int Wi, int P) {
    int gw = Wi / P, np = Hi / P * gw, bp = blockIdx.x;
    int b = bp / np, py = bp % np / gw, px = bp % gw;
    float *dst = patches + (size_t)bp * 3 * P * P;
    for (int k = threadIdx.x; k < 3 * P * P; k += blockDim.x) {
        int ch = k / (P * P), ky = k / P % P, kx = k % P;
        size_t y = (size_t)py * P + ky, x = (size_t)px * P + kx;
        dst[k] = pixels[(((size_t)b * 3 + ch) * Hi + y) * Wi + x];
    }
}

void cuda_op_patchify(float *patches, const float *pixels, int B, int Hi, int Wi, int P) {
    int patches_n = B * (Hi / P) * (Wi / P);
    if (!patches_n) return;
    patchify_kernel<<<patches_n, THREADS, 0, cuda.stream>>>(patches, pixels, Hi, Wi, P);
    CHECK_LAUNCH();
}

/* Row bt = (b, t) of out[B, 1+NP, C]: t = 0: cls + pos[0], else
 * patch_out[b, t-1] + pos[t]. */
__global__ void vit_embed_kernel(float *out, const float *patch_out, const float *cls,
                                 const float *pos, int NP, int C) {
    int b = blockIdx.x / (NP + 1), t = blockIdx.x % (NP + 1);
    const float *src = t == 0 ? cls : patch_out + ((size_t)b * NP + t - 1) * C;
    const float *p = pos + (size_t)t * C;
    float *o = out + (size_t)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = src[c] + p[c];
}

void cuda_op_vit_embed(float *out, const float *patch_out, const float *cls, const float *pos,
                       int B, int NP, int C) {
    if (!B || !C) return;
    vit_embed_kernel<<<B * (NP + 1), THREADS, 0, cuda.stream>>>(out, patch_out, cls, pos, NP, C);
    CHECK_LAUNCH();
}

/* Block t, a thread per column c: dpos[t, c] (and dcls[c] for t = 0) sum
 * over the batch in order; dpatch_out (NULL to skip) gets each row of dout. */
__global__ void vit_embed_backward_kernel(float *dpatch_out, float *dcls, float *dpos,
                                          const float *dout, int B, int NP, int C) {
    size_t T = (size_t)NP + 1, t = blockIdx.x;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        size_t i = t * C + c;
        float dp = dpos[i], dc = t == 0 ? dcls[c] : 0.0f;
        for (int b = 0; b < B; b++) {
            float d = dout[((size_t)b * T + t) * C + c];
            dp += d;
            if (t == 0)
                dc += d;
            else if (dpatch_out)
                dpatch_out[((size_t)b * NP + t - 1) * C + c] += d;
        }
        dpos[i] = dp;
        if (t == 0) dcls[c] = dc;
    }
}

void cuda_op_vit_embed_backward(float *dpatch_out, float *dcls, float *dpos, const float *dout,
                                int B, int NP, int C) {
    if (!B || !C) return;
    vit_embed_backward_kernel<<<NP + 1, THREADS, 0, cuda.stream>>>(dpatch_out, dcls, dpos, dout,
                                                                    B, NP, C);
    CHECK_LAUNCH();
}
