/* posembed.c - bicubic position-embedding resampling with PyTorch's
 * upsample_bicubic2d arithmetic (A = -0.75, source index
 * (dst + 0.5) * in/out - 0.5, taps clamped to the border). */
#include "posembed.h"

#include <math.h>
#include <string.h>

static void cubic_weights(float t, float w[4]) {
    const float A = -0.75f;
    float x1 = t + 1.0f, x2 = t, x3 = 1.0f - t, x4 = 2.0f - t;
    w[0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
    w[1] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[2] = ((A + 2.0f) * x3 - (A + 3.0f)) * x3 * x3 + 1.0f;
    w[3] = ((A * x4 - 5.0f * A) * x4 + 8.0f * A) * x4 - 4.0f * A;
}

static int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

void posembed_resize(float *dst, const float *src, int g_old, int g_new, int C) {
    memcpy(dst, src, (size_t)C * sizeof *dst); /* class entry */
    const float *grid = src + C;
    float scale = (float)g_old / (float)g_new;
    for (int oy = 0; oy < g_new; oy++) {
        float sy = ((float)oy + 0.5f) * scale - 0.5f;
        int iy = (int)floorf(sy);
        float wy[4];
        cubic_weights(sy - (float)iy, wy);
        for (int ox = 0; ox < g_new; ox++) {
            float sx = ((float)ox + 0.5f) * scale - 0.5f;
            int ix = (int)floorf(sx);
            float wx[4];
            cubic_weights(sx - (float)ix, wx);
            float *o = dst + (size_t)(1 + oy * g_new + ox) * C;
            for (int c = 0; c < C; c++) {
                float acc = 0.0f;
                for (int ky = 0; ky < 4; ky++) {
                    int y = clampi(iy - 1 + ky, g_old - 1);
                    float row = 0.0f;
                    for (int kx = 0; kx < 4; kx++) {
                        int x = clampi(ix - 1 + kx, g_old - 1);
                        row += wx[kx] * grid[(size_t)(y * g_old + x) * C + c];
                    }
                    acc += wy[ky] * row;
                }
                o[c] = acc;
            }
        }
    }
}
