/* augment.c - BLIP's training and test image transforms (see augment.h). */
#include "augment.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "resize.h"

const char *const AUG_NAMES[AUG_NOPS] = {"Identity", "AutoContrast", "Brightness", "Sharpness", "Equalize",
                                         "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"};

static const float MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};
static const uint8_t FILL[3] = {128, 128, 128};

/* ---- RandomResizedCrop ------------------------------------------------------ */

crop_t random_resized_crop(rng_t *r, int W, int H, double smin, double smax, double rmin, double rmax) {
    double area = (double)W * H, lr0 = log(rmin), lr1 = log(rmax);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * rng_range(r, smin, smax);
        double aspect = exp(rng_range(r, lr0, lr1));
        int w = (int)nearbyint(sqrt(target * aspect)); /* Python round(): half to even */
        int h = (int)nearbyint(sqrt(target / aspect));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            int y = (int)rng_below(r, (uint32_t)(H - h + 1));
            int x = (int)rng_below(r, (uint32_t)(W - w + 1));
            return (crop_t){x, y, w, h};
        }
    }
    double in_ratio = (double)W / H;
    int w = W, h = H;
    if (in_ratio < rmin) h = (int)nearbyint(W / rmin);
    else if (in_ratio > rmax) w = (int)nearbyint(H * rmax);
    return (crop_t){(W - w) / 2, (H - h) / 2, w, h};
}

void hflip(image_t *im) {
    for (int y = 0; y < im->h; y++) {
        uint8_t *row = im->px + (size_t)y * im->w * 3;
        for (int a = 0, b = im->w - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = row[3 * a + c];
                row[3 * a + c] = row[3 * b + c];
                row[3 * b + c] = t;
            }
    }
}

/* ---- per-channel lookup tables ------------------------------------------------ */

static void apply_luts(image_t *im, uint8_t lut[3][256]) {
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) im->px[3 * i + c] = lut[c][im->px[3 * i + c]];
}

static void histograms(const image_t *im, uint32_t hist[3][256]) {
    memset(hist, 0, 3 * 256 * sizeof(uint32_t));
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) hist[c][im->px[3 * i + c]]++;
}

/* BLIP autocontrast_func(cutoff=0), with numpy's uint8 wrap of -low. */
static void autocontrast(image_t *im) {
    uint32_t hist[3][256];
    uint8_t lut[3][256];
    histograms(im, hist);
    for (int c = 0; c < 3; c++) {
        int low = 0, high = 255;
        while (low < 255 && !hist[c][low]) low++;
        while (high > 0 && !hist[c][high]) high--;
        for (int i = 0; i < 256; i++) lut[c][i] = (uint8_t)i;
        if (high <= low) continue;
        double scale = 255.0 / (high - low);
        double offset = (double)((256 - low) & 255) * scale; /* -np.uint8(low) */
        for (int i = 0; i < 256; i++) {
            double v = i * scale + offset;
            lut[c][i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    apply_luts(im, lut);
}

/* BLIP equalize_func (Pillow's ImageOps.equalize rule). */
static void equalize(image_t *im) {
    uint32_t hist[3][256];
    uint8_t lut[3][256];
    histograms(im, hist);
    for (int c = 0; c < 3; c++) {
        uint64_t total = 0, last = 0;
        for (int i = 0; i < 256; i++)
            if (hist[c][i]) total += hist[c][i], last = hist[c][i];
        uint64_t step = (total - last) / 255; /* all non-zero bins but the last */
        for (int i = 0; i < 256; i++) lut[c][i] = (uint8_t)i;
        if (step == 0) continue;
        uint64_t acc = step / 2;
        for (int i = 0; i < 256; i++) {
            uint64_t v = acc / step;
            lut[c][i] = (uint8_t)(v > 255 ? 255 : v);
            acc += hist[c][i];
        }
    }
    apply_luts(im, lut);
}

/* float32 -> uint8 as numpy's astype on x86: through int32, keep the low byte. */
static uint8_t f32_to_u8(float v) { return (uint8_t)(int32_t)v; }

static void brightness(image_t *im, double factor) {
    uint8_t lut[3][256];
    for (int i = 0; i < 256; i++) {
        float v = (float)i * (float)factor;
        lut[0][i] = lut[1][i] = lut[2][i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    apply_luts(im, lut);
}

/* BLIP sharpness_func: blend with cv2.filter2D(img, [[1,1,1],[1,5,1],[1,1,1]]/13)
 * inside the 1-pixel border. */
static void sharpness(image_t *im, double factor) {
    if (factor == 1.0) return;
    int W = im->w, H = im->h;
    uint8_t *deg = xmalloc((size_t)W * H * 3);
    const float k = 1.0f / 13.0f, kc = 5.0f / 13.0f;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                float s = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) { /* BORDER_REFLECT_101 */
                        int yy = y + dy, xx = x + dx;
                        yy = yy < 0 ? -yy : yy >= H ? 2 * H - 2 - yy : yy;
                        xx = xx < 0 ? -xx : xx >= W ? 2 * W - 2 - xx : xx;
                        s += im->px[((size_t)yy * W + xx) * 3 + c] * (dx || dy ? k : kc);
                    }
                int v = (int)nearbyintf(s);
                deg[((size_t)y * W + x) * 3 + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    if (factor == 0.0) {
        memcpy(im->px, deg, (size_t)W * H * 3);
    } else {
        float f = (float)factor;
        for (int y = 1; y < H - 1; y++)
            for (int x = 1; x < W - 1; x++)
                for (int c = 0; c < 3; c++) {
                    size_t i = ((size_t)y * W + x) * 3 + c;
                    float d = deg[i];
                    im->px[i] = f32_to_u8(d + f * ((float)im->px[i] - d));
                }
    }
    free(deg);
}

/* ---- cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT) ------------------------------ */

/* OpenCV >= 4.11 warps in float32: the inverse map rounded to float, source
 * coordinates and bilinear blends by fused multiply-adds, results rounded
 * half to even; neighbours outside the image take the fill value. */
static uint8_t cv_sat_round(float v) {
    int i = (int)lrintf(v);
    return (uint8_t)(i < 0 ? 0 : i > 255 ? 255 : i);
}

/* The warp of image src into dst by the inverse map iM (float32). Inlined
 * into a baseline and an FMA build; fmaf is exact in both. */
static inline __attribute__((always_inline)) void warp_rows(const uint8_t *src, uint8_t *dst, int W, int H,
                                                             const float iM[6]) {
    for (int y = 0; y < H; y++) {
        float Mx = (float)y * iM[1] + iM[2], My = (float)y * iM[4] + iM[5];
        for (int x = 0; x < W; x++) {
            float sx = fmaf(iM[0], (float)x, Mx), sy = fmaf(iM[3], (float)x, My);
            int ix = (int)floorf(sx), iy = (int)floorf(sy);
            float a = sx - (float)ix, b = sy - (float)iy;
            uint8_t *d = dst + ((size_t)y * W + x) * 3;
            if ((unsigned)(ix + 1) >= (unsigned)(W + 1) || (unsigned)(iy + 1) >= (unsigned)(H + 1)) {
                memcpy(d, FILL, 3);
                continue;
            }
            const uint8_t *p[4];
            for (int k = 0; k < 4; k++) {
                int xx = ix + (k & 1), yy = iy + (k >> 1);
                p[k] = xx >= 0 && xx < W && yy >= 0 && yy < H ? src + ((size_t)yy * W + xx) * 3 : FILL;
            }
            for (int c = 0; c < 3; c++) {
                float f00 = p[0][c], f01 = p[1][c], f10 = p[2][c], f11 = p[3][c];
                float t = fmaf(a, f01 - f00, f00), u = fmaf(a, f11 - f10, f10);
                d[c] = cv_sat_round(fmaf(b, u - t, t));
            }
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void warp_rows_fma(const uint8_t *src, uint8_t *dst, int W, int H,
                                                               const float iM[6]) {
    warp_rows(src, dst, W, H, iM);
}
#endif

static void warp_rows_base(const uint8_t *src, uint8_t *dst, int W, int H, const float iM[6]) {
    warp_rows(src, dst, W, H, iM);
}

/* A translation by whole pixels: the bilinear weights are 0, so warp_rows
 * gives each source pixel unchanged, or the fill where it falls outside.
 * Rows are copied instead; returns 0 for any other map. */
static int shift_whole_pixels(image_t *im, const double M[6]) {
    if (M[0] != 1 || M[1] != 0 || M[3] != 0 || M[4] != 1 || M[2] != floor(M[2]) || M[5] != floor(M[5]))
        return 0;
    int W = im->w, H = im->h;
    double tx = M[2], ty = M[5];
    int x0 = tx > 0 ? (tx < W ? (int)tx : W) : 0;         /* first dst column with a source */
    int x1 = tx < 0 ? (-tx < W ? W + (int)tx : 0) : W;   /* end of those columns */
    uint8_t *dst = xmalloc((size_t)W * H * 3);
    for (size_t i = 0; i < (size_t)W * H; i++) memcpy(dst + 3 * i, FILL, 3);
    for (int y = 0; y < H; y++) {
        double sy = y - ty;
        if (sy < 0 || sy >= H || x0 >= x1) continue;
        memcpy(dst + ((size_t)y * W + x0) * 3, im->px + ((size_t)sy * W + (x0 - (int)tx)) * 3,
               (size_t)(x1 - x0) * 3);
    }
    memcpy(im->px, dst, (size_t)W * H * 3);
    free(dst);
    return 1;
}

/* dst = src warped by the forward map M (dst point = M * src point). */
static void warp_affine(image_t *im, const double M[6]) {
    if (shift_whole_pixels(im, M)) return;
    int W = im->w, H = im->h;
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0 ? 1.0 / D : 0;
    double A11 = M[4] * D, A22 = M[0] * D, A12 = -M[1] * D, A21 = -M[3] * D;
    float iM[6] = {(float)A11, (float)A12, (float)(-A11 * M[2] - A12 * M[5]),
                   (float)A21, (float)A22, (float)(-A21 * M[2] - A22 * M[5])};
    uint8_t *dst = xmalloc((size_t)W * H * 3);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) warp_rows_fma(im->px, dst, W, H, iM);
    else
#endif
        warp_rows_base(im->px, dst, W, H, iM);
    memcpy(im->px, dst, (size_t)W * H * 3);
    free(dst);
}

/* cv2.getRotationMatrix2D((W/2, H/2), degrees, 1) */
static void rotation_matrix(double M[6], int W, int H, double degrees) {
    double a = degrees * M_PI / 180, alpha = cos(a), beta = sin(a);
    double cx = (float)(W / 2.0), cy = (float)(H / 2.0);
    M[0] = alpha, M[1] = beta, M[2] = (1 - alpha) * cx - beta * cy;
    M[3] = -beta, M[4] = alpha, M[5] = beta * cx + (1 - alpha) * cy;
}

void aug_apply(image_t *im, aug_op_t op, double arg) {
    double M[6] = {1, 0, 0, 0, 1, 0};
    double f32 = (float)arg; /* BLIP builds shear/translate matrices as float32 */
    switch (op) {
    case AUG_IDENTITY: return;
    case AUG_AUTOCONTRAST: autocontrast(im); return;
    case AUG_EQUALIZE: equalize(im); return;
    case AUG_BRIGHTNESS: brightness(im, arg); return;
    case AUG_SHARPNESS: sharpness(im, arg); return;
    case AUG_SHEAR_X: M[1] = f32; break;
    case AUG_SHEAR_Y: M[3] = f32; break;
    case AUG_TRANSLATE_X: M[2] = -f32; break;
    case AUG_TRANSLATE_Y: M[5] = -f32; break;
    case AUG_ROTATE: rotation_matrix(M, im->w, im->h, arg); break;
    default: die("unknown augmentation op %d", op);
    }
    warp_affine(im, M);
}

/* BLIP's level_to_args for magnitude M of 10; draws the sign where BLIP does. */
static double op_arg(aug_op_t op, int M, rng_t *r) {
    double level = M / 10.0;
    switch (op) {
    case AUG_BRIGHTNESS:
    case AUG_SHARPNESS: return level * 1.8 + 0.1;
    case AUG_SHEAR_X:
    case AUG_SHEAR_Y: return rng_double(r) > 0.5 ? -level * 0.3 : level * 0.3;
    case AUG_TRANSLATE_X:
    case AUG_TRANSLATE_Y: return rng_double(r) > 0.5 ? -level * 10 : level * 10;
    case AUG_ROTATE: return rng_double(r) < 0.5 ? -level * 30 : level * 30;
    default: return 0;
    }
}

void rand_augment(image_t *im, rng_t *r, int N, int M) {
    aug_op_t ops[16];
    if (N > 16) N = 16;
    for (int i = 0; i < N; i++) ops[i] = (aug_op_t)rng_below(r, AUG_NOPS);
    for (int i = 0; i < N; i++) {
        if (rng_double(r) > 0.5) continue;
        aug_apply(im, ops[i], op_arg(ops[i], M, r));
    }
}

crop_t crop_rescale(crop_t c, int W, int H, const image_t *im) {
    if (im->w == W && im->h == H) return c;
    double sx = (double)im->w / W, sy = (double)im->h / H;
    crop_t o = {(int)(c.x * sx), (int)(c.y * sy), (int)lround(c.w * sx), (int)lround(c.h * sy)};
    o.w = o.w < 1 ? 1 : o.x + o.w > im->w ? im->w - o.x : o.w;
    o.h = o.h < 1 ? 1 : o.y + o.h > im->h ? im->h - o.y : o.h;
    return o;
}

void train_transform(const image_t *src, crop_t c, int size, const train_aug_t *a, rng_t *r, image_t *out) {
    image_alloc(out, size, size);
    resize_rgb8(src, c.x, c.y, c.w, c.h, out, RESAMPLE_BICUBIC);
    if (rng_double(r) < 0.5 && a->hflip) hflip(out); /* drawn either way: same stream */
    rand_augment(out, r, a->randaug_n, a->randaug_m);
}

/* ToTensor + Normalize per byte value, computed once (float32 as torchvision). */
static float g_norm[3][256];
static pthread_once_t g_norm_once = PTHREAD_ONCE_INIT;

static void init_norm(void) {
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) g_norm[c][v] = ((float)v / 255.0f - MEAN[c]) / STD[c];
}

void normalize_chw(const image_t *im, float *out) {
    pthread_once(&g_norm_once, init_norm);
    size_t n = (size_t)im->w * im->h;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++) out[c * n + i] = g_norm[c][im->px[3 * i + c]];
}
