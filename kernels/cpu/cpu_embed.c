/* cpu_embed.c - CPU backend: token + position embeddings for the text
 * decoder, patch extraction and class/position embeddings for the ViT. */
#include "ops.h"

#include "cpu_internal.h"

#include <omp.h>

void cpu_op_text_embed(float *out, const int32_t *ids, const float *wte,
                   const float *wpe, int B, int T, int C, int pos0) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= CPU_PAR_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        const float *e = wte + (size_t)ids[bt] * C, *p = wpe + (size_t)(pos0 + bt % T) * C;
        float *o = out + (size_t)bt * C;
        for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}

/* Rows can share a token id, so each thread owns a column range. */
void cpu_op_text_embed_backward(float *dwte, float *dwpe, const float *dout,
                            const int32_t *ids, int B, int T, int C, int pos0, int pad_id) {
#pragma omp parallel if ((size_t)B * T * C >= CPU_PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int lo = (int)((long)C * id / nt), hi = (int)((long)C * (id + 1) / nt);
        for (int bt = 0; bt < B * T; bt++) {
            const float *d = dout + (size_t)bt * C;
            float *e = dwte + (size_t)ids[bt] * C, *p = dwpe + (size_t)(pos0 + bt % T) * C;
            for (int c = lo; c < hi; c++) p[c] += d[c];
            if (ids[bt] != pad_id)
                for (int c = lo; c < hi; c++) e[c] += d[c];
        }
    }
}

void cpu_op_patchify(float *patches, const float *pixels, int B, int Hi, int Wi, int P) {
    int gh = Hi / P, gw = Wi / P, K = 3 * P * P;
#pragma omp parallel for schedule(static) if ((size_t)B * Hi * Wi * 3 >= CPU_PAR_MIN)
    for (int bp = 0; bp < B * gh * gw; bp++) {
        int b = bp / (gh * gw), py = bp % (gh * gw) / gw, px = bp % gw;
        float *dst = patches + (size_t)bp * K;
        for (int ch = 0; ch < 3; ch++)
            for (int ky = 0; ky < P; ky++) {
                const float *src = pixels + (((size_t)b * 3 + ch) * Hi + (size_t)py * P + ky) * Wi +
                                   (size_t)px * P;
                for (int kx = 0; kx < P; kx++) *dst++ = src[kx];
            }
    }
}

void cpu_op_vit_embed(float *out, const float *patch_out, const float *cls,
                  const float *pos, int B, int NP, int C) {
    int T = NP + 1;
#pragma omp parallel for schedule(static) if ((size_t)B * (NP + 1) * C >= CPU_PAR_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        int b = bt / T, t = bt % T;
        const float *src = t == 0 ? cls : patch_out + ((size_t)b * NP + t - 1) * C;
        const float *p = pos + (size_t)t * C;
        float *o = out + (size_t)bt * C;
        for (int c = 0; c < C; c++) o[c] = src[c] + p[c];
    }
}

void cpu_op_vit_embed_backward(float *dpatch_out, float *dcls, float *dpos,
                           const float *dout, int B, int NP, int C) {
    int T = NP + 1;
    /* dpos[t] and dcls sum over the batch: parallel over positions. */
#pragma omp parallel for schedule(static) if ((size_t)B * (NP + 1) * C >= CPU_PAR_MIN)
    for (int t = 0; t < T; t++) {
        float *dp = dpos + (size_t)t * C;
        for (int b = 0; b < B; b++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *dsrc = t == 0 ? dcls : dpatch_out ? dpatch_out + ((size_t)b * NP + t - 1) * C : NULL;
            for (int c = 0; c < C; c++) dp[c] += d[c];
            if (dsrc)
                for (int c = 0; c < C; c++) dsrc[c] += d[c];
        }
    }
}
