/* coco.h - caption annotations: COCO 2014 caption files and Karpathy splits.
 *
 * Every source becomes a list of images, each with its captions in file
 * order. Readers:
 *   - COCO caption format (captions_train2014.json, captions_val2014.json, or
 *     any {"images": [...], "annotations": [...]} file such as BLIP's
 *     coco_karpathy_test_gt.json): images with id, file_name, width, height;
 *     annotations with id, image_id, caption. Images keep the file's order;
 *     images without annotations are kept (zero captions).
 *   - Karpathy's dataset_coco.json: {"images": [{filepath, filename, cocoid,
 *     split, sentences: [{raw, sentid}]}]}; split "restval" counts as "train".
 *   - BLIP's coco_karpathy_{train,val,test}.json: arrays of {image, caption}
 *     (train: one entry per caption; val/test: caption is a list). The split
 *     comes from the file name; annotation ids are the caption's position in
 *     the file; image ids from the COCO file name.
 * Malformed files die with file:line:col or the offending record and field. */
#ifndef BLIP_COCO_H
#define BLIP_COCO_H

#include <stdint.h>

#include "err.h"

typedef struct {
    int64_t id;   /* annotation id */
    char *text;   /* raw UTF-8 caption */
} coco_caption_t;

typedef struct {
    int64_t id;         /* COCO image id */
    char *file_name;    /* path relative to the COCO root, e.g. "val2014/COCO_val2014_000000391895.jpg" */
    char *split;        /* "train", "val", "test", or the caller's name for the file */
    int width, height;  /* from the annotations; 0 when not given */
    DA(coco_caption_t) caps;
} coco_image_t;

typedef struct {
    DA(coco_image_t) images;
    long *slots;        /* open-addressing index by image id (coco_find) */
    size_t nslots, indexed;
} coco_set_t;

/* Load a COCO caption-format file. `split` names the split of its images
 * (NULL: "train"/"val" from a "train2014"/"val2014" file name, else "all");
 * `image_dir` is prefixed to each file_name ("val2014"; NULL for none). */
void coco_load_captions(coco_set_t *set, const char *path, const char *split, const char *image_dir);
/* Load any Karpathy split file (either format above), appending to set. */
void coco_load_karpathy(coco_set_t *set, const char *path);
/* Index of the image with this id, or -1 (builds a hash index on first use;
 * call again after adding images). */
long coco_find(coco_set_t *set, int64_t image_id);
/* COCO image id from a file name: "COCO_val2014_000000391895.jpg" -> 391895,
 * "000000391895.jpg" -> 391895; -1 when the name ends in no digits. */
int64_t coco_id_from_filename(const char *name);
void coco_free(coco_set_t *set);

#endif
