/* coco.c - readers for COCO caption files and Karpathy split files (coco.h). */
#include "coco.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "jsonio.h"

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
    json_t *root = json_load_path(path);
    if (!split) split = split_from_name(path);
    if (!split) split = "all";
    json_t *images = json_need(root, "images", JSON_ARRAY, path);
    json_t *anns = json_need(root, "annotations", JSON_ARRAY, path);
    size_t first = set->images.n, i;
    json_t *v;
    json_array_foreach(images, i, v) {
        char where[512];
        snprintf(where, sizeof where, "%s: images[%zu]", path, i);
        int64_t id = json_need_int(v, "id", where);
        const char *fn = json_opt_str(v, "file_name", where);
        char *file = fn ? (image_dir ? path_join(image_dir, fn) : xstrdup(fn)) : xstrdup("");
        coco_image_t *im = add_image(set, id, file, split);
        im->width = (int)json_opt_int(v, "width", 0, where);
        im->height = (int)json_opt_int(v, "height", 0, where);
    }
    coco_set_t view = {0}; /* index over this file's images only */
    view.images.v = set->images.v + first;
    view.images.n = set->images.n - first;
    json_array_foreach(anns, i, v) {
        char where[512];
        snprintf(where, sizeof where, "%s: annotations[%zu]", path, i);
        int64_t image_id = json_need_int(v, "image_id", where);
        int64_t id = json_need_int(v, "id", where);
        const char *text = json_need_str(v, "caption", where);
        long k = coco_find(&view, image_id);
        if (k < 0) die("%s: image_id %lld is not in \"images\"", where, (long long)image_id);
        add_caption(&set->images.v[first + (size_t)k], id, text);
    }
    free(view.slots);
    json_decref(root);
}

/* Karpathy's dataset_coco.json: {"images": [{filepath, filename, cocoid, split, sentences}]} */
static void load_karpathy_dataset(coco_set_t *set, json_t *images, const char *path) {
    size_t i, j;
    json_t *v, *s;
    json_array_foreach(images, i, v) {
        char where[512];
        snprintf(where, sizeof where, "%s: images[%zu]", path, i);
        const char *dir = json_opt_str(v, "filepath", where);
        const char *fn = json_need_str(v, "filename", where);
        const char *split = json_need_str(v, "split", where);
        if (strcmp(split, "restval") == 0) split = "train";
        int64_t id = json_object_get(v, "cocoid") ? json_need_int(v, "cocoid", where) : coco_id_from_filename(fn);
        if (id < 0) die("%s: no \"cocoid\" and no image id in file name \"%s\"", where, fn);
        coco_image_t *im = add_image(set, id, dir ? path_join(dir, fn) : xstrdup(fn), split);
        json_array_foreach(json_need(v, "sentences", JSON_ARRAY, where), j, s) {
            char swhere[600];
            snprintf(swhere, sizeof swhere, "%s.sentences[%zu]", where, j);
            add_caption(im, json_opt_int(s, "sentid", (int64_t)j, swhere), json_need_str(s, "raw", swhere));
        }
    }
}

/* BLIP's coco_karpathy_*.json: [{"image": "val2014/...jpg", "caption": str | [str]}] */
static void load_blip_karpathy(coco_set_t *set, json_t *arr, const char *path) {
    const char *split = split_from_name(path);
    if (!split) die("%s: cannot tell the split (train, val or test) from the file name", path);
    size_t first = set->images.n, i;
    int64_t ncaps = 0; /* annotation id: the caption's position in the file */
    json_t *v;
    coco_set_t view = {0}; /* this file's images, to group per-caption entries */
    json_array_foreach(arr, i, v) {
        char where[512];
        snprintf(where, sizeof where, "%s: [%zu]", path, i);
        const char *file = json_need_str(v, "image", where);
        int64_t id = coco_id_from_filename(file);
        if (id < 0) die("%s: no image id in file name \"%s\"", where, file);
        view.images.v = set->images.v + first;
        view.images.n = set->images.n - first;
        long k = coco_find(&view, id);
        coco_image_t *im = k >= 0 ? &set->images.v[first + (size_t)k] : add_image(set, id, xstrdup(file), split);
        json_t *cap = json_object_get(v, "caption");
        if (json_is_string(cap)) {
            add_caption(im, ncaps++, json_string_value(cap));
        } else if (json_is_array(cap)) {
            size_t j;
            json_t *c;
            json_array_foreach(cap, j, c) {
                if (!json_is_string(c)) die("%s: caption[%zu] should be a string", where, j);
                add_caption(im, ncaps++, json_string_value(c));
            }
        } else {
            die("%s: field \"caption\" should be a string or an array of strings", where);
        }
    }
    free(view.slots);
}

void coco_load_karpathy(coco_set_t *set, const char *path) {
    json_t *root = json_load_path(path);
    if (json_is_object(root) && json_is_array(json_object_get(root, "images")) &&
        !json_object_get(root, "annotations"))
        load_karpathy_dataset(set, json_object_get(root, "images"), path);
    else if (json_is_array(root))
        load_blip_karpathy(set, root, path);
    else if (json_is_object(root) && json_object_get(root, "annotations"))
        die("%s: this is a COCO caption file, not a Karpathy split; give it as COCO_ROOT/annotations", path);
    else
        die("%s: not a Karpathy split file (expected dataset_coco.json or BLIP's coco_karpathy_*.json)", path);
    json_decref(root);
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
