/* resize.h - PIL-exact image resampling of RGB8 images.
 *
 * The same algorithm as Pillow's Image.resize (Resample.c): separable
 * convolution, filter support widened by the scale when shrinking
 * (antialiased), coefficients normalized then quantized to 22-bit fixed
 * point, rounding and clipping as Pillow does; the horizontal pass runs
 * first into an 8-bit intermediate unless the height loses more than twice
 * as many pixels as the width (then vertical first, as Pillow 13). Outputs are
 * byte-identical to Pillow's for the same input, so BLIP's torchvision/PIL
 * transforms are reproduced exactly. */
#ifndef BLIP_RESIZE_H
#define BLIP_RESIZE_H

#include <stdint.h>

#include "image.h"

typedef enum { RESAMPLE_BILINEAR, RESAMPLE_BICUBIC } resample_t;

/* Resize the box (x0, y0, x0+cw, y0+ch) of src (a crop, in whole pixels) to
 * dst->w x dst->h; dst->px must be allocated. Same as Pillow's
 * img.crop(box).resize((w, h), filter). */
void resize_rgb8(const image_t *src, int x0, int y0, int cw, int ch, image_t *dst, resample_t filter);
/* The same, mirrored left to right when mirror is set (a horizontal flip
 * after the resize): each output column of the horizontal pass is written
 * to its mirrored place, so no extra pass when the width changes (at the
 * same width the horizontal pass runs with identity taps). */
void resize_rgb8_mirror(const image_t *src, int x0, int y0, int cw, int ch, image_t *dst, resample_t filter,
                        int mirror);

#endif
