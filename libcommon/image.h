/* image.h - image decode to RGB8 (libjpeg-turbo, libpng) and JPEG encode.
 *
 * Every input becomes interleaved 8-bit RGB, as PIL's Image.convert('RGB')
 * gives it (what BLIP's data loaders do):
 *   JPEG: baseline and progressive, grayscale, RGB/YCbCr, CMYK/YCCK (Adobe
 *         inverted convention, converted with PIL's cmyk2rgb arithmetic);
 *         decoded with the accurate integer DCT and fancy upsampling.
 *   PNG:  palette (transparency ignored), gray 1/2/4/8/16-bit, gray+alpha,
 *         RGB/RGBA 8/16-bit, interlaced; alpha is dropped (not composited),
 *         16-bit samples keep their high byte.
 * EXIF orientation is not applied (neither does PIL's open/convert). */
#ifndef BLIP_IMAGE_H
#define BLIP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *px; /* [h, w, 3] RGB, row-major */
} image_t;

enum { IMG_UNKNOWN = 0, IMG_JPEG = 1, IMG_PNG = 2 };

/* Sniff the format from the first bytes. */
int image_format(const void *buf, size_t n);
const char *image_format_name(int fmt);

/* Decode into out (px allocated). Returns 0, or -1 with a one-line reason in
 * err. A JPEG without its end-of-image marker is reported as truncated. */
int image_decode(const void *buf, size_t n, image_t *out, char *err, size_t errlen);
/* Decode a JPEG at the smallest DCT scaling factor of 1/8, 2/8, 4/8 or 8/8
 * whose output is at least min_w x min_h; other formats decode at full
 * size. (libjpeg-turbo 2.1 decodes 640x480 at 5/8..7/8 in 3.5-4.5 ms, slower
 * than the 2.9 ms of a full decode, and at 3/8 slower than at 4/8, so those
 * factors are never used.) Returns 0 or -1 with err. */
int image_decode_scaled(const void *buf, size_t n, int min_w, int min_h, image_t *out, char *err, size_t errlen);
/* A rectangle of an image, in its pixels. */
typedef struct {
    int x, y, w, h;
} image_rect_t;

/* Part of a decoded image: im holds columns [x, x + im.w) and rows
 * [y, y + im.h) of the image decoded at full_w x full_h. Its first lo and
 * last hi columns (where the part is cut from a wider row) may differ from
 * the whole decode's; every other pixel equals it. */
typedef struct {
    image_t im;
    int x, y, full_w, full_h, lo, hi;
} image_part_t;

/* Decode at the scale image_decode_scaled picks for min_w x min_h, and of a
 * JPEG only the part that covers the window win (in full-size pixels; NULL:
 * the whole image) however it maps onto the scaled image (the scaled start
 * rounded down, the end up, and one more pixel) inside its exact columns
 * [x + lo, x + im.w - hi). Other formats decode whole. Returns 0, or -1 with
 * err. */
int image_decode_part(const void *buf, size_t n, int min_w, int min_h, const image_rect_t *win, image_part_t *out,
                      char *err, size_t errlen);
/* Width and height from the header only (all markers up to the first scan
 * parsed; a JPEG must also end with its end-of-image marker). Returns 0 or
 * -1 with err. */
int image_probe(const void *buf, size_t n, int *w, int *h, char *err, size_t errlen);

enum { JPEG_PROGRESSIVE = 1, JPEG_GRAY = 2, JPEG_444 = 4 };
/* Encode RGB8 as JPEG (quality 1..100, flags above; 4:2:0 unless
 * JPEG_444 or JPEG_GRAY). Returns a malloc'd buffer. Dies on failure. */
uint8_t *image_encode_jpeg(const image_t *im, int quality, int flags, size_t *len);

/* Bytes readable (and writable) past an allocated image's last pixel, for
 * vector loads that reach beyond it. */
enum { IMAGE_SLACK = 16 };
/* px of w x h pixels (uninitialised) plus IMAGE_SLACK bytes. */
void image_alloc(image_t *im, int w, int h);
void image_free(image_t *im);

#endif
