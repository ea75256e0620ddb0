/* coco.c - readers for COCO caption files and Karpathy split files (coco.h). */
#include "coco.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jsontape.h"

static void add_caption(coco_image_t *im, int64_t id, const char *text) {
    coco_caption_t c = {id, xstrdup(text)};
    da_push(&im->caps, c);
}

static coco_image_t *add_image(coco_set_t *set, int64_t id, char *file_name, const char *split) {
    coco_image_t im = {0};
    im.id = id;
    im.file_name = file_name;
    im.split = xstrdup(split);
    da_push(&set->images, im);
    return &set->images.v[set->images.n - 1];
}

static uint64_t hash_id(int64_t id) {
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return x ^ (x >> 29);
}

static void reindex(coco_set_t *set) {
    size_t want = 16;
    while (want < set->images.n * 2) want *= 2;
    free(set->slots);
    set->slots = xmalloc(want * sizeof *set->slots);
    for (size_t i = 0; i < want; i++) set->slots[i] = -1;
    set->nslots = want;
    for (size_t i = 0; i < set->images.n; i++) {
        size_t h = hash_id(set->images.v[i].id) & (want - 1);
        while (set->slots[h] >= 0) {
            if (set->images.v[set->slots[h]].id == set->images.v[i].id) break; /* first wins */
            h = (h + 1) & (want - 1);
        }
        if (set->slots[h] < 0) set->slots[h] = (long)i;
    }
    set->indexed = set->images.n;
}

long coco_find(coco_set_t *set, int64_t image_id) {
    if (set->indexed != set->images.n || !set->slots) reindex(set);
    for (size_t h = hash_id(image_id) & (set->nslots - 1);; h = (h + 1) & (set->nslots - 1)) {
        long i = set->slots[h];
        if (i < 0 || set->images.v[i].id == image_id) return i;
    }
}

int64_t coco_id_from_filename(const char *name) {
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    const char *end = dot ? dot : base + strlen(base);
    const char *p = end;
    while (p > base && isdigit((unsigned char)p[-1])) p--;
    if (p == end || end - p > 18) return -1;
    return strtoll(p, NULL, 10);
}

static const char *split_from_name(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(base, "train")) return "train";
    if (strstr(base, "val")) return "val";
    if (strstr(base, "test")) return "test";
    return NULL;
}

void coco_load_captions(coco_set_t *set, const char *path, const char *split, const char *image_dir) {
    jt_doc_t doc = {0};
    const jt_t *root = jt_load_path(&doc, path);
    if (!split) split = split_from_name(path);
    if (!split) split = "all";
    const jt_t *images = jt_need(root, "images", JT_ARRAY, "%s", path);
    const jt_t *anns = jt_need(root, "annotations", JT_ARRAY, "%s", path);
    size_t first = set->images.n;
    const jt_t *v = jt_first(images);
    for (size_t i = 0; i < images->len; i++, v = jt_next(v)) {
        int64_t id = jt_need_int(v, "id", "%s: images[%zu]", path, i);
        const char *fn = jt_opt_str(v, "file_name", "%s: images[%zu]", path, i);
        char *file = fn ? (image_dir ? path_join(image_dir, fn) : xstrdup(fn)) : xstrdup("");
        coco_image_t *im = add_image(set, id, file, split);
        im->width = (int)jt_opt_int(v, "width", 0, "%s: images[%zu]", path, i);
        im->height = (int)jt_opt_int(v, "height", 0, "%s: images[%zu]", path, i);
    }
    coco_set_t view = {0}; /* index over this file's images only */
    view.images.v = set->images.v + first;
    view.images.n = set->images.n - first;
    v = jt_first(anns);
    for (size_t i = 0; i < anns->len; i++, v = jt_next(v)) {
        int64_t image_id = jt_need_int(v, "image_id", "%s: annotations[%zu]", path, i);
        int64_t id = jt_need_int(v, "id", "%s: annotations[%zu]", path, i);
        const char *text = jt_need_str(v, "caption", "%s: annotations[%zu]", path, i);
        long k = coco_find(&view, image_id);
        if (k < 0) die("%s: annotations[%zu]: image_id %lld is not in \"images\"", path, i, (long long)image_id);
        add_caption(&set->images.v[first + (size_t)k], id, text);
    }
    free(view.slots);
    jt_free(&doc);
}

/* Karpathy's dataset_coco.json: {"images": [{filepath, filename, cocoid, split, sentences}]} */
static void load_karpathy_dataset(coco_set_t *set, const jt_t *images, const char *path) {
    const jt_t *v = jt_first(images);
    for (size_t i = 0; i < images->len; i++, v = jt_next(v)) {
        const char *dir = jt_opt_str(v, "filepath", "%s: images[%zu]", path, i);
        const char *fn = jt_need_str(v, "filename", "%s: images[%zu]", path, i);
        const char *split = jt_need_str(v, "split", "%s: images[%zu]", path, i);
        if (strcmp(split, "restval") == 0) split = "train";
        int64_t id = jt_get(v, "cocoid") ? jt_need_int(v, "cocoid", "%s: images[%zu]", path, i)
                                         : coco_id_from_filename(fn);
        if (id < 0) die("%s: images[%zu]: no \"cocoid\" and no image id in file name \"%s\"", path, i, fn);
        coco_image_t *im = add_image(set, id, dir ? path_join(dir, fn) : xstrdup(fn), split);
        const jt_t *sents = jt_need(v, "sentences", JT_ARRAY, "%s: images[%zu]", path, i);
        const jt_t *s = jt_first(sents);
        for (size_t j = 0; j < sents->len; j++, s = jt_next(s))
            add_caption(im, jt_opt_int(s, "sentid", (int64_t)j, "%s: images[%zu].sentences[%zu]", path, i, j),
                        jt_need_str(s, "raw", "%s: images[%zu].sentences[%zu]", path, i, j));
    }
}

/* BLIP's coco_karpathy_*.json: [{"image": "val2014/...jpg", "caption": str | [str]}] */
static void load_blip_karpathy(coco_set_t *set, const jt_t *arr, const char *path) {
    const char *split = split_from_name(path);
    if (!split) die("%s: cannot tell the split (train, val or test) from the file name", path);
    size_t first = set->images.n, i;
    int64_t ncaps = 0; /* annotation id: the caption's position in the file */
    coco_set_t view = {0}; /* this file's images, to group per-caption entries */
    const jt_t *v = jt_first(arr);
    for (i = 0; i < arr->len; i++, v = jt_next(v)) {
        const char *file = jt_need_str(v, "image", "%s: [%zu]", path, i);
        int64_t id = coco_id_from_filename(file);
        if (id < 0) die("%s: [%zu]: no image id in file name \"%s\"", path, i, file);
        view.images.v = set->images.v + first;
        view.images.n = set->images.n - first;
        long k = coco_find(&view, id);
        coco_image_t *im = k >= 0 ? &set->images.v[first + (size_t)k] : add_image(set, id, xstrdup(file), split);
        const jt_t *cap = jt_get(v, "caption");
        if (cap && cap->type == JT_STRING) {
            add_caption(im, ncaps++, cap->u.s);
        } else if (cap && cap->type == JT_ARRAY) {
            const jt_t *c = jt_first(cap);
            for (size_t j = 0; j < cap->len; j++, c = jt_next(c)) {
                if (c->type != JT_STRING) die("%s: [%zu]: caption[%zu] should be a string", path, i, j);
                add_caption(im, ncaps++, c->u.s);
            }
        } else {
            die("%s: [%zu]: field \"caption\" should be a string or an array of strings", path, i);
        }
    }
    free(view.slots);
}

void coco_load_karpathy(coco_set_t *set, const char *path) {
    jt_doc_t doc = {0};
    const jt_t *root = jt_load_path(&doc, path), *images = jt_get(root, "images");
    if (images && images->type == JT_ARRAY && !jt_get(root, "annotations"))
        load_karpathy_dataset(set, images, path);
    else if (root->type == JT_ARRAY)
        load_blip_karpathy(set, root, path);
    else if (jt_get(root, "annotations"))
        die("%s: this is a COCO caption file, not a Karpathy split; give it as COCO_ROOT/annotations", path);
    else
        die("%s: not a Karpathy split file (expected dataset_coco.json or BLIP's coco_karpathy_*.json)", path);
    jt_free(&doc);
}

void coco_free(coco_set_t *set) {
    for (size_t i = 0; i < set->images.n; i++) {
        coco_image_t *im = &set->images.v[i];
        for (size_t j = 0; j < im->caps.n; j++) free(im->caps.v[j].text);
        free(im->caps.v);
        free(im->file_name);
        free(im->split);
    }
    free(set->images.v);
    free(set->slots);
    memset(set, 0, sizeof *set);
}
