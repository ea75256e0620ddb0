/* image.c - decode JPEG/PNG into RGB8 like PIL's convert('RGB'); encode JPEG. */
#include "image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    im->px = xmalloc((size_t)w * (size_t)h * 3);
}

void image_free(image_t *im) {
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
}

/* ---- JPEG ---------------------------------------------------------------- */

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

/* Output size for a decode at scale num/8 (TurboJPEG rounds up). */
static int scaled(int v, int num) { return (v * num + 7) / 8; }

static int decode_jpeg(const uint8_t *buf, size_t n, int min_w, int min_h, image_t *out, char *err, size_t errlen) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return errf(err, errlen, "cannot start the JPEG decoder");
    int w, h, subsamp, cs, rc = -1;
    if (tjDecompressHeader3(tj, buf, (unsigned long)n, &w, &h, &subsamp, &cs) != 0) {
        errf(err, errlen, "bad JPEG: %s", tjGetErrorStr2(tj));
        goto done;
    }
    if (!jpeg_has_eoi(buf, n)) {
        errf(err, errlen, "truncated JPEG (no end-of-image marker)");
        goto done;
    }
    int num = 1;
    while (num < 8 && (scaled(w, num) < min_w || scaled(h, num) < min_h)) num++;
    w = scaled(w, num);
    h = scaled(h, num);
    image_alloc(out, w, h);
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    uint8_t *dst = cmyk ? xmalloc((size_t)w * h * 4) : out->px;
    if (tjDecompress2(tj, buf, (unsigned long)n, dst, w, 0, h, cmyk ? TJPF_CMYK : TJPF_RGB, 0) != 0 &&
        tjGetErrorCode(tj) == TJERR_FATAL) {
        errf(err, errlen, "bad JPEG: %s", tjGetErrorStr2(tj));
        if (cmyk) free(dst);
        image_free(out);
        goto done;
    }
    if (cmyk) {
        for (size_t i = 0, np = (size_t)w * h; i < np; i++)
            for (int c = 0; c < 3; c++) out->px[3 * i + c] = cmyk_channel(dst[4 * i + c], dst[4 * i + 3]);
        free(dst);
    }
    rc = 0;
done:
    tjDestroy(tj);
    return rc;
}

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

int image_decode_scaled(const void *buf, size_t n, int min_w, int min_h, image_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    switch (image_format(buf, n)) {
    case IMG_JPEG: return decode_jpeg(buf, n, min_w, min_h, out, err, errlen);
    case IMG_PNG: return decode_png(buf, n, out, 0, err, errlen);
    default: return errf(err, errlen, "not a JPEG or PNG image");
    }
}

int image_decode(const void *buf, size_t n, image_t *out, char *err, size_t errlen) {
    return image_decode_scaled(buf, n, INT32_MAX, INT32_MAX, out, err, errlen);
}

int image_probe(const void *buf, size_t n, int *w, int *h, char *err, size_t errlen) {
    image_t im = {0};
    int rc;
    switch (image_format(buf, n)) {
    case IMG_JPEG: {
        tjhandle tj = tjInitDecompress();
        int subsamp, cs;
        rc = tjDecompressHeader3(tj, buf, (unsigned long)n, &im.w, &im.h, &subsamp, &cs);
        if (rc != 0) errf(err, errlen, "bad JPEG: %s", tjGetErrorStr2(tj));
        else if (!jpeg_has_eoi(buf, n)) rc = errf(err, errlen, "truncated JPEG (no end-of-image marker)");
        tjDestroy(tj);
        break;
    }
    case IMG_PNG: rc = decode_png(buf, n, &im, 1, err, errlen); break;
    default: rc = errf(err, errlen, "not a JPEG or PNG image");
    }
    *w = im.w;
    *h = im.h;
    return rc;
}
