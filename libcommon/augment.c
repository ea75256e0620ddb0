/* augment.c - BLIP's training and test image transforms (see augment.h). */
#include "augment.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pixel_simd.h"
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

/* ---- per-channel lookup tables ------------------------------------------------ */

static void apply_luts(image_t *im, uint8_t lut[3][256]) {
    int identity = 1;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 256; i++) identity &= lut[c][i] == i;
    if (identity) return; /* e.g. Brightness at BLIP's M = 5: factor 1 */
    size_t n = (size_t)im->w * im->h;
    uint8_t *p = im->px;
    for (size_t i = 0; i < n; i++, p += 3) {
        p[0] = lut[0][p[0]];
        p[1] = lut[1][p[1]];
        p[2] = lut[2][p[2]];
    }
}

/* Two sets of counts for even and odd pixels, so that runs of one value
 * (flat areas) do not wait on their own previous increment. */
static void histograms(const image_t *im, uint32_t hist[3][256]) {
    uint32_t h2[2][3][256] = {{{0}}};
    size_t n = (size_t)im->w * im->h;
    const uint8_t *p = im->px;
    size_t i = 0;
    for (; i + 1 < n; i += 2, p += 6) {
        h2[0][0][p[0]]++, h2[0][1][p[1]]++, h2[0][2][p[2]]++;
        h2[1][0][p[3]]++, h2[1][1][p[4]]++, h2[1][2][p[5]]++;
    }
    if (i < n) h2[0][0][p[0]]++, h2[0][1][p[1]]++, h2[0][2][p[2]]++;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) hist[c][v] = h2[0][c][v] + h2[1][c][v];
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

/* One destination pixel d from source point (sx, sy). src is W x H. */
static inline __attribute__((always_inline)) void warp_pixel(const uint8_t *src, uint8_t *d, int W, int H, float sx,
                                                              float sy) {
    int ix = (int)floorf(sx), iy = (int)floorf(sy);
    float a = sx - (float)ix, b = sy - (float)iy;
    if ((unsigned)(ix + 1) >= (unsigned)(W + 1) || (unsigned)(iy + 1) >= (unsigned)(H + 1)) {
        memcpy(d, FILL, 3);
        return;
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

/* The warp of image src into dst by the inverse map iM (float32), one pixel
 * at a time. */
static void warp_rows_scalar(const uint8_t *src, uint8_t *dst, int W, int H, const float iM[6]) {
    for (int y = 0; y < H; y++) {
        float Mx = (float)y * iM[1] + iM[2], My = (float)y * iM[4] + iM[5];
        for (int x = 0; x < W; x++)
            warp_pixel(src, dst + ((size_t)y * W + x) * 3, W, H, fmaf(iM[0], (float)x, Mx), fmaf(iM[3], (float)x, My));
    }
}

#if PIXEL_SIMD_X86
/* The same warp 8 pixels at a time: source points, floors and the bilinear
 * fused multiply-adds are the scalar code's IEEE operations lane by lane,
 * cvtps rounds half to even as lrintf does, and packing saturates as
 * cv_sat_round clips. Blocks whose 4 neighbours all lie inside the image
 * gather them; other blocks go through warp_pixel. src must have 1 readable
 * byte past its last pixel (a gather reads 4 bytes per pixel): IMAGE_SLACK. */
PIXEL_AVX2 static void warp_rows_avx2(const uint8_t *src, uint8_t *dst, int W, int H, const float iM[6]) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), byte = _mm256_set1_epi32(0xff);
    const __m256i compact = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, /**/
                                             0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    const __m256i wm1 = _mm256_set1_epi32(W - 1), hm1 = _mm256_set1_epi32(H - 1), stride = _mm256_set1_epi32(3 * W);
    const __m256 m0 = _mm256_set1_ps(iM[0]), m3 = _mm256_set1_ps(iM[3]);
    for (int y = 0; y < H; y++) {
        float Mx = (float)y * iM[1] + iM[2], My = (float)y * iM[4] + iM[5];
        uint8_t *drow = dst + (size_t)y * W * 3;
        int x = 0;
        for (; x + 8 <= W; x += 8) {
            __m256 xf = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(x), lane));
            __m256 sx = _mm256_fmadd_ps(m0, xf, _mm256_set1_ps(Mx)), sy = _mm256_fmadd_ps(m3, xf, _mm256_set1_ps(My));
            __m256i ix = _mm256_cvttps_epi32(_mm256_floor_ps(sx)), iy = _mm256_cvttps_epi32(_mm256_floor_ps(sy));
            /* inside: 0 <= ix < W - 1 and 0 <= iy < H - 1, as unsigned compares */
            __m256i out = _mm256_or_si256(
                _mm256_cmpeq_epi32(_mm256_max_epu32(ix, wm1), ix), _mm256_cmpeq_epi32(_mm256_max_epu32(iy, hm1), iy));
            if (!_mm256_testz_si256(out, out)) {
                float fx[8], fy[8];
                _mm256_storeu_ps(fx, sx);
                _mm256_storeu_ps(fy, sy);
                for (int i = 0; i < 8; i++) warp_pixel(src, drow + (size_t)(x + i) * 3, W, H, fx[i], fy[i]);
                continue;
            }
            __m256 a = _mm256_sub_ps(sx, _mm256_cvtepi32_ps(ix)), b = _mm256_sub_ps(sy, _mm256_cvtepi32_ps(iy));
            __m256i o00 = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(iy, _mm256_set1_epi32(W)), ix),
                                             _mm256_set1_epi32(3));
            __m256i o10 = _mm256_add_epi32(o00, stride);
            const int *base = (const int *)(const void *)src;
            __m256i g00 = _mm256_i32gather_epi32(base, o00, 1), g01 = _mm256_i32gather_epi32(base, _mm256_add_epi32(o00, _mm256_set1_epi32(3)), 1);
            __m256i g10 = _mm256_i32gather_epi32(base, o10, 1), g11 = _mm256_i32gather_epi32(base, _mm256_add_epi32(o10, _mm256_set1_epi32(3)), 1);
            __m256i rgb = _mm256_setzero_si256();
            for (int c = 0; c < 3; c++) {
                __m256 f00 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g00, 8 * c), byte));
                __m256 f01 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g01, 8 * c), byte));
                __m256 f10 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g10, 8 * c), byte));
                __m256 f11 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(g11, 8 * c), byte));
                __m256 t = _mm256_fmadd_ps(a, _mm256_sub_ps(f01, f00), f00);
                __m256 u = _mm256_fmadd_ps(a, _mm256_sub_ps(f11, f10), f10);
                __m256i v = _mm256_cvtps_epi32(_mm256_fmadd_ps(b, _mm256_sub_ps(u, t), t));
                v = _mm256_min_epi32(_mm256_max_epi32(v, _mm256_setzero_si256()), byte);
                rgb = _mm256_or_si256(rgb, _mm256_slli_epi32(v, 8 * c));
            }
            rgb = _mm256_shuffle_epi8(rgb, compact); /* 12 bytes per lane */
            uint8_t *d = drow + (size_t)x * 3;
            _mm_storeu_si128((void *)d, _mm256_castsi256_si128(rgb)); /* its last 4 bytes: rewritten next */
            uint8_t hi[16];
            _mm_storeu_si128((void *)hi, _mm256_extracti128_si256(rgb, 1));
            memcpy(d + 12, hi, 12);
        }
        for (; x < W; x++)
            warp_pixel(src, drow + (size_t)x * 3, W, H, fmaf(iM[0], (float)x, Mx), fmaf(iM[3], (float)x, My));
    }
}
#endif

/* A translation by whole pixels: the bilinear weights are 0, so warp_rows
 * gives each source pixel unchanged, or the fill where it falls outside.
 * Rows are copied instead (src -> dst, both W x H); returns 0 for any other
 * map. */
static int shift_whole_pixels(const uint8_t *src, uint8_t *dst, int W, int H, const double M[6]) {
    if (M[0] != 1 || M[1] != 0 || M[3] != 0 || M[4] != 1 || M[2] != floor(M[2]) || M[5] != floor(M[5]))
        return 0;
    double tx = M[2], ty = M[5];
    int x0 = tx > 0 ? (tx < W ? (int)tx : W) : 0;         /* first dst column with a source */
    int x1 = tx < 0 ? (-tx < W ? W + (int)tx : 0) : W;   /* end of those columns */
    for (size_t i = 0; i < (size_t)W * H; i++) memcpy(dst + 3 * i, FILL, 3);
    for (int y = 0; y < H; y++) {
        double sy = y - ty;
        if (sy < 0 || sy >= H || x0 >= x1) continue;
        memcpy(dst + ((size_t)y * W + x0) * 3, src + ((size_t)sy * W + (x0 - (int)tx)) * 3, (size_t)(x1 - x0) * 3);
    }
    return 1;
}

/* im warped by the forward map M (dst point = M * src point) into a new
 * image that replaces it. */
static void warp_affine(image_t *im, const double M[6]) {
    int W = im->w, H = im->h;
    image_t out;
    image_alloc(&out, W, H);
    if (!shift_whole_pixels(im->px, out.px, W, H, M)) {
        double D = M[0] * M[4] - M[1] * M[3];
        D = D != 0 ? 1.0 / D : 0;
        double A11 = M[4] * D, A22 = M[0] * D, A12 = -M[1] * D, A21 = -M[3] * D;
        float iM[6] = {(float)A11, (float)A12, (float)(-A11 * M[2] - A12 * M[5]),
                       (float)A21, (float)A22, (float)(-A21 * M[2] - A22 * M[5])};
#if PIXEL_SIMD_X86
        if (pixel_simd_active()) warp_rows_avx2(im->px, out.px, W, H, iM); /* reads into IMAGE_SLACK */
        else
#endif
            warp_rows_scalar(im->px, out.px, W, H, iM);
    }
    image_free(im);
    *im = out;
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
    int flip = rng_double(r) < 0.5 && a->hflip; /* drawn either way: same stream */
    resize_rgb8_mirror(src, c.x, c.y, c.w, c.h, out, RESAMPLE_BICUBIC, flip);
    rand_augment(out, r, a->randaug_n, a->randaug_m);
}

/* ToTensor + Normalize per byte value, computed once (float32 as torchvision). */
static float g_norm[3][256];
static pthread_once_t g_norm_once = PTHREAD_ONCE_INIT;

static void init_norm(void) {
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) g_norm[c][v] = ((float)v / 255.0f - MEAN[c]) / STD[c];
}

#if PIXEL_SIMD_X86
/* Pixels [0, n) but the last few: init_norm's float operations on 8 pixels
 * at a time (deinterleaved from two 16-byte loads of 4 pixels each).
 * Returns the pixels done. */
PIXEL_AVX2 static size_t normalize_avx2(const uint8_t *p, size_t n, float *out) {
    const __m128i planar = _mm_setr_epi8(0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11, -1, -1, -1, -1);
    const __m256 k255 = _mm256_set1_ps(255.0f);
    const __m256 mean[3] = {_mm256_set1_ps(MEAN[0]), _mm256_set1_ps(MEAN[1]), _mm256_set1_ps(MEAN[2])};
    const __m256 std[3] = {_mm256_set1_ps(STD[0]), _mm256_set1_ps(STD[1]), _mm256_set1_ps(STD[2])};
    size_t i = 0;
    for (; i + 10 <= n; i += 8, p += 24) { /* the second load reads 4 bytes past pixel i + 7 */
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const void *)p), planar);        /* R0-3 G0-3 B0-3 */
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const void *)(p + 12)), planar); /* R4-7 G4-7 B4-7 */
        __m128i rg = _mm_unpacklo_epi32(a, b), bx = _mm_unpackhi_epi32(a, b);
        __m128i ch[3] = {rg, _mm_srli_si128(rg, 8), bx};
        for (int c = 0; c < 3; c++) {
            __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(ch[c]));
            v = _mm256_div_ps(_mm256_sub_ps(_mm256_div_ps(v, k255), mean[c]), std[c]);
            _mm256_storeu_ps(out + c * n + i, v);
        }
    }
    return i;
}
#endif

void normalize_chw(const image_t *im, float *out) {
    pthread_once(&g_norm_once, init_norm);
    size_t n = (size_t)im->w * im->h, i = 0;
#if PIXEL_SIMD_X86
    if (pixel_simd_active()) i = normalize_avx2(im->px, n, out);
#endif
    const uint8_t *p = im->px + 3 * i;
    for (; i < n; i++, p += 3) {
        out[i] = g_norm[0][p[0]];
        out[n + i] = g_norm[1][p[1]];
        out[2 * n + i] = g_norm[2][p[2]];
    }
}

int test_transform(const void *buf, size_t n, int size, float *out, char *err, size_t errlen) {
    image_t src, im;
    if (image_decode(buf, n, &src, err, errlen) != 0) return -1;
    image_alloc(&im, size, size);
    resize_rgb8(&src, 0, 0, src.w, src.h, &im, RESAMPLE_BICUBIC);
    normalize_chw(&im, out);
    image_free(&src);
    image_free(&im);
    return 0;
}
