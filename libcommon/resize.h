/* resize.h - PIL-exact image resampling of RGB8 images.
 *
 * The same algorithm as Pillow's Image.resize (Resample.c): separable
 * convolution, filter support widened by the scale when shrinking
 * (antialiased), coefficients normalized then quantized to 22-bit fixed
 * point, horizontal pass first into an 8-bit intermediate, rounding and
 * clipping as Pillow does. Outputs are byte-identical to Pillow's for the
 * same input, so BLIP's torchvision/PIL transforms are reproduced exactly.
 * (Pillow 13 runs the vertical pass first in some cases where the height
 * shrinks much more than the width; results then differ by rounding of the
 * 8-bit intermediate, typically by at most 1 on photographs.) */
#ifndef BLIP_RESIZE_H
#define BLIP_RESIZE_H

#include <stdint.h>

#include "image.h"

typedef enum { RESAMPLE_BILINEAR, RESAMPLE_BICUBIC } resample_t;

/* Resize the box (x0, y0, x0+cw, y0+ch) of src (a crop, in whole pixels) to
 * dst->w x dst->h; dst->px must be allocated. Same as Pillow's
 * img.crop(box).resize((w, h), filter). */
void resize_rgb8(const image_t *src, int x0, int y0, int cw, int ch, image_t *dst, resample_t filter);

#endif
