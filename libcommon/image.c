/* image.c - decode JPEG (libjpeg-turbo's libjpeg API, whole or a window) and
 * PNG into RGB8 like PIL's convert('RGB'); encode JPEG (TurboJPEG). */
#include "image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <turbojpeg.h>

#include "err.h"

static const uint8_t PNG_SIG[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int image_format(const void *buf, size_t n) {
    const uint8_t *p = buf;
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return IMG_JPEG;
    if (n >= 8 && memcmp(p, PNG_SIG, 8) == 0) return IMG_PNG;
    return IMG_UNKNOWN;
}

const char *image_format_name(int fmt) {
    return fmt == IMG_JPEG ? "jpeg" : fmt == IMG_PNG ? "png" : "unknown";
}

void image_alloc(image_t *im, int w, int h) {
    im->w = w;
    im->h = h;
    im->px = xmalloc((size_t)w * (size_t)h * 3 + IMAGE_SLACK);
}

void image_free(image_t *im) {
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
}

/* ---- JPEG decode (libjpeg API of libjpeg-turbo) ---------------------------- */

/* Columns dropped at a cropped decode's left and right edges: libjpeg
 * upsamples the chroma of a cropped row's outermost pixels as at an image
 * edge (with 2x fancy upsampling the outer pixel takes only its own chroma
 * sample), so they may differ from a whole decode's; further in they match
 * (tests/unit/test_image.c checks random windows). One column differs with
 * libjpeg-turbo 2.1; two leave room. */
#define JPEG_CROP_EDGE 2

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_errors;

static void jpeg_on_error(j_common_ptr ci) {
    jpeg_errors *e = (jpeg_errors *)ci->err;
    ci->err->format_message(ci, e->msg);
    longjmp(e->jmp, 1);
}

/* Warnings (corrupt entropy data that libjpeg decodes around, as PIL does)
 * and trace messages stay quiet. */
static void jpeg_on_message(j_common_ptr ci, int level) { UNUSED(ci); UNUSED(level); }

/* A complete JPEG ends with EOI (FF D9), possibly followed by padding. */
static int jpeg_has_eoi(const uint8_t *p, size_t n) {
    size_t end = n;
    while (end > 2 && (p[end - 1] == 0 || p[end - 1] == '\n' || p[end - 1] == '\r')) end--;
    for (size_t i = end; i >= 2 && i + 64 >= end; i--)
        if (p[i - 2] == 0xFF && p[i - 1] == 0xD9) return 1;
    return 0;
}

/* PIL's cmyk2rgb on Adobe-inverted samples (s = 255 - ink):
 * out = nk - nk*(255-s)/255 with nk = s_k, using PIL's MULDIV255 rounding. */
static uint8_t cmyk_channel(int s, int s_k) {
    int t = (255 - s) * s_k + 128;
    int v = s_k - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Output size for a decode at scale num/8 (libjpeg rounds up). */
static int scaled(int v, int num) { return (v * num + 7) / 8; }

/* The span [*a, *b) of a length-`to` axis that covers [lo, lo + len) of the
 * same axis at length `from` however the scaling rounds (the start scaled
 * down, the end up, and one more pixel at each end: crop_rescale's floating
 * point can land one below the integer floor), widened by `margin` and
 * clamped. */
static void scale_span(int lo, int len, int from, int to, int margin, int *a, int *b) {
    int64_t s = (int64_t)lo * to / from - 1, e = ((int64_t)(lo + len) * to + from - 1) / from + 1;
    *a = (int)(s - margin < 0 ? 0 : s - margin);
    *b = (int)(e + margin > to ? to : e + margin);
}

enum { JPEG_STRIP = 16 }; /* rows asked of libjpeg at a time */

/* Rows [y0, y1) of the started decode into im, [y1 - y0, im->w, 3]: RGB
 * rows decoded in place, CMYK rows through `strip` (JPEG_STRIP rows of
 * im->w x 4). */
static void jpeg_read_rows(struct jpeg_decompress_struct *ci, int y0, int y1, uint8_t *strip, image_t *im) {
    if (y0 > 0) jpeg_skip_scanlines(ci, (JDIMENSION)y0);
    int w = im->w;
    JSAMPROW rows[JPEG_STRIP];
    while ((int)ci->output_scanline < y1) {
        int y = (int)ci->output_scanline - y0, k = 0;
        for (; k < JPEG_STRIP && y + k < y1 - y0; k++)
            rows[k] = strip ? strip + (size_t)k * w * 4 : im->px + (size_t)(y + k) * w * 3;
        int got = (int)jpeg_read_scanlines(ci, rows, (JDIMENSION)k);
        for (int j = 0; j < got && strip; j++) {
            const uint8_t *src = rows[j];
            uint8_t *dst = im->px + (size_t)(y + j) * w * 3;
            for (int i = 0; i < w; i++)
                for (int c = 0; c < 3; c++) dst[3 * i + c] = cmyk_channel(src[4 * i + c], src[4 * i + 3]);
        }
    }
}

/* Decode (see image_decode_part); header_only: only out->full_w/h, at full
 * size. Only the rows down to the window's last are entropy-decoded, so a
 * cropped decode does not see corrupt data below the window. */
static int decode_jpeg(const uint8_t *buf, size_t n, int min_w, int min_h, const image_rect_t *win, int header_only,
                       image_part_t *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct ci;
    jpeg_errors je;
    uint8_t *volatile cmyk = NULL; /* CMYK rows; survives longjmp */
    ci.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_on_error;
    je.mgr.emit_message = jpeg_on_message;
    if (setjmp(je.jmp)) {
        jpeg_destroy_decompress(&ci);
        free(cmyk);
        image_free(&out->im);
        return errf(err, errlen, "bad JPEG: %s", je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)n);
    jpeg_read_header(&ci, TRUE);
    int W = (int)ci.image_width, H = (int)ci.image_height;
    out->full_w = W;
    out->full_h = H;
    int complete = jpeg_has_eoi(buf, n);
    if (!complete || header_only) {
        jpeg_destroy_decompress(&ci);
        return complete ? 0 : errf(err, errlen, "truncated JPEG (no end-of-image marker)");
    }
    int num = 1;
    while (num < 8 && (scaled(W, num) < min_w || scaled(H, num) < min_h)) num *= 2;
    ci.scale_num = (unsigned)num;
    ci.scale_denom = 8;
    int four = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
    ci.out_color_space = four ? JCS_CMYK : JCS_EXT_RGB;
    jpeg_start_decompress(&ci);
    int sw = (int)ci.output_width, sh = (int)ci.output_height, x0 = 0, x1 = sw, y0 = 0, y1 = sh;
    if (win) {
        scale_span(win->x, win->w, W, sw, JPEG_CROP_EDGE, &x0, &x1);
        scale_span(win->y, win->h, H, sh, 0, &y0, &y1);
    }
    JDIMENSION cx = (JDIMENSION)x0, cw = (JDIMENSION)(x1 - x0);
    if (x1 - x0 < sw) jpeg_crop_scanline(&ci, &cx, &cw); /* moves cx left to an iMCU boundary */
    *out = (image_part_t){.x = (int)cx, .y = y0, .full_w = sw, .full_h = sh,
                          .lo = cx > 0 ? JPEG_CROP_EDGE : 0, .hi = (int)(cx + cw) < sw ? JPEG_CROP_EDGE : 0};
    image_alloc(&out->im, (int)cw, y1 - y0);
    if (four) cmyk = xmalloc((size_t)JPEG_STRIP * cw * 4);
    jpeg_read_rows(&ci, y0, y1, cmyk, &out->im);
    if (y1 == sh) jpeg_finish_decompress(&ci); /* the rest of the stream, as a whole decode reads it */
    jpeg_destroy_decompress(&ci);
    free(cmyk);
    return 0;
}

/* ---- JPEG encode (TurboJPEG) ---------------------------------------------- */

uint8_t *image_encode_jpeg(const image_t *im, int quality, int flags, size_t *len) {
    tjhandle tj = tjInitCompress();
    if (!tj) die("cannot start the JPEG encoder");
    const uint8_t *src = im->px;
    uint8_t *gray = NULL;
    int pf = TJPF_RGB, samp = flags & JPEG_444 ? TJSAMP_444 : TJSAMP_420;
    if (flags & JPEG_GRAY) {
        size_t np = (size_t)im->w * im->h;
        gray = xmalloc(np);
        for (size_t i = 0; i < np; i++) /* ITU-R 601 luma, as PIL's convert('L') */
            gray[i] = (uint8_t)((src[3 * i] * 19595 + src[3 * i + 1] * 38470 + src[3 * i + 2] * 7471 + 0x8000) >> 16);
        src = gray;
        pf = TJPF_GRAY;
        samp = TJSAMP_GRAY;
    }
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    int tjflags = flags & JPEG_PROGRESSIVE ? TJFLAG_PROGRESSIVE : 0;
    if (tjCompress2(tj, src, im->w, 0, im->h, pf, &jpeg, &jlen, samp, quality, tjflags) != 0)
        die("JPEG encode failed: %s", tjGetErrorStr2(tj));
    uint8_t *copy = xmalloc(jlen);
    memcpy(copy, jpeg, jlen);
    tjFree(jpeg);
    tjDestroy(tj);
    free(gray);
    *len = jlen;
    return copy;
}

/* ---- PNG ----------------------------------------------------------------- */

typedef struct {
    const uint8_t *buf;
    size_t n, pos;
    char msg[200];
    jmp_buf jmp;
} png_src;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    longjmp(s->jmp, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { UNUSED(png); UNUSED(msg); }

static void png_read_mem(png_structp png, png_bytep data, png_size_t len) {
    png_src *s = png_get_io_ptr(png);
    if (len > s->n - s->pos) png_error(png, "truncated PNG");
    memcpy(data, s->buf + s->pos, len);
    s->pos += len;
}

static int decode_png(const uint8_t *buf, size_t n, image_t *out, int header_only, char *err, size_t errlen) {
    png_src src = {.buf = buf, .n = n};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return errf(err, errlen, "cannot start the PNG decoder");
    }
    png_bytep *volatile rows = NULL; /* survives longjmp */
    if (setjmp(src.jmp)) {
        free(rows);
        image_free(out);
        png_destroy_read_struct(&png, &info, NULL);
        return errf(err, errlen, "bad PNG: %s", src.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    out->w = (int)png_get_image_width(png, info);
    out->h = (int)png_get_image_height(png, info);
    if (header_only) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    int ct = png_get_color_type(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png); /* also drops alpha expanded from tRNS */
    png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)out->w * 3) png_error(png, "unexpected row layout");
    image_alloc(out, out->w, out->h);
    rows = xmalloc((size_t)out->h * sizeof *rows);
    for (int y = 0; y < out->h; y++) rows[y] = out->px + (size_t)y * out->w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

int image_decode_part(const void *buf, size_t n, int min_w, int min_h, const image_rect_t *win, image_part_t *out,
                      char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int rc;
    switch (image_format(buf, n)) {
    case IMG_JPEG: return decode_jpeg(buf, n, min_w, min_h, win, 0, out, err, errlen);
    case IMG_PNG: rc = decode_png(buf, n, &out->im, 0, err, errlen); break;
    default: return errf(err, errlen, "not a JPEG or PNG image");
    }
    out->full_w = out->im.w;
    out->full_h = out->im.h;
    return rc;
}

int image_decode_scaled(const void *buf, size_t n, int min_w, int min_h, image_t *out, char *err, size_t errlen) {
    image_part_t p;
    int rc = image_decode_part(buf, n, min_w, min_h, NULL, &p, err, errlen);
    *out = p.im;
    return rc;
}

int image_decode(const void *buf, size_t n, image_t *out, char *err, size_t errlen) {
    return image_decode_scaled(buf, n, INT32_MAX, INT32_MAX, out, err, errlen);
}

int image_probe(const void *buf, size_t n, int *w, int *h, char *err, size_t errlen) {
    image_part_t p = {0};
    int rc;
    switch (image_format(buf, n)) {
    case IMG_JPEG: rc = decode_jpeg(buf, n, 0, 0, NULL, 1, &p, err, errlen); break;
    case IMG_PNG:
        rc = decode_png(buf, n, &p.im, 1, err, errlen);
        p.full_w = p.im.w;
        p.full_h = p.im.h;
        break;
    default: rc = errf(err, errlen, "not a JPEG or PNG image");
    }
    *w = p.full_w;
    *h = p.full_h;
    return rc;
}
