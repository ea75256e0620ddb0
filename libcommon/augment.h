/* augment.h - BLIP's image transforms on RGB8 images (salesforce/BLIP
 * data/__init__.py, transform/randaugment.py).
 *
 * Training: RandomResizedCrop(size, scale (0.5, 1), ratio (3/4, 4/3), bicubic)
 * -> RandomHorizontalFlip(0.5) -> RandomAugment(N=2, M=5) over Identity,
 * AutoContrast, Brightness, Sharpness, Equalize, ShearX, ShearY, TranslateX,
 * TranslateY, Rotate (each drawn op applied with p 0.5, fill 128) -> ToTensor
 * -> Normalize. Test: Resize((size, size), bicubic) -> ToTensor -> Normalize.
 *
 * The ops reproduce BLIP's OpenCV/numpy code exactly, quirks included:
 * warps are cv2.warpAffine (bilinear with 1/32-pixel fixed point, constant
 * border), and AutoContrast computes its offset as -low in uint8, so a
 * channel whose minimum is above 0 comes out all 255 (numpy wraps -low).
 * Random draws use the Philox stream given, in BLIP's order, not numpy's or
 * torch's generators. */
#ifndef BLIP_AUGMENT_H
#define BLIP_AUGMENT_H

#include <stdint.h>

#include "image.h"
#include "rng.h"

typedef enum {
    AUG_IDENTITY, AUG_AUTOCONTRAST, AUG_BRIGHTNESS, AUG_SHARPNESS, AUG_EQUALIZE,
    AUG_SHEAR_X, AUG_SHEAR_Y, AUG_TRANSLATE_X, AUG_TRANSLATE_Y, AUG_ROTATE, AUG_NOPS
} aug_op_t;

extern const char *const AUG_NAMES[AUG_NOPS];

typedef struct {
    int x, y, w, h;   /* crop box in the source image */
} crop_t;

/* torchvision RandomResizedCrop.get_params: 10 tries of area fraction in
 * [smin, smax] and log-uniform aspect in [rmin, rmax], then the central
 * fallback. */
crop_t random_resized_crop(rng_t *r, int W, int H, double smin, double smax, double rmin, double rmax);

/* One op on im with BLIP's argument for magnitude `arg` (the value its
 * level_to_args gives: enhance factor, shear factor, translate pixels or
 * rotate degrees, sign included). im->px must come from image_alloc (the
 * warps read into its IMAGE_SLACK); the warps replace it with a new one. */
void aug_apply(image_t *im, aug_op_t op, double arg);
/* BLIP's RandomAugment(N, M) over the ten ops above, on im as aug_apply. */
void rand_augment(image_t *im, rng_t *r, int N, int M);

/* The training transform's settings; TRAIN_AUG_BLIP is BLIP's. A config
 * may weaken them for data they would mislabel (the demo's captions say
 * left and right and name small shapes). */
typedef struct {
    double min_scale;         /* RandomResizedCrop scale (min_scale, 1) */
    int hflip;                /* horizontal flip with probability 0.5 */
    int randaug_n, randaug_m; /* RandomAugment(N, M); N = 0: none */
} train_aug_t;
#define TRAIN_AUG_BLIP ((train_aug_t){.min_scale = 0.5, .hflip = 1, .randaug_n = 2, .randaug_m = 5})

/* BLIP's train transform after the crop is drawn: crop c of src (in src's
 * pixels) -> size x size RGB8 in out (allocated here), then a horizontal
 * flip with probability 0.5 when a->hflip, and RandomAugment(N, M), with
 * draws from r. */
void train_transform(const image_t *src, crop_t c, int size, const train_aug_t *a, rng_t *r, image_t *out);
/* Map a crop drawn on a W x H image onto the same image decoded at
 * im->w x im->h (a DCT-scaled JPEG decode). */
crop_t crop_rescale(crop_t c, int W, int H, const image_t *im);
/* ToTensor + Normalize with BLIP's mean and std: RGB8 [H, W, 3] -> float
 * [3, H, W]. */
void normalize_chw(const image_t *im, float *out);
/* BLIP's test transform of an encoded image (buf, n): decode, resize to
 * size x size (bicubic), ToTensor + Normalize into out [3, size, size].
 * Returns 0, or -1 with the decoder's reason in err. */
int test_transform(const void *buf, size_t n, int size, float *out, char *err, size_t errlen);

#endif
