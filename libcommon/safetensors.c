/* safetensors.c - safetensors reading through mmap (single files and
 * sharded directories) and atomic fp32 writing. */
#include "safetensors.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "jsonio.h"

struct st_map {
    char *path;
    void *base;
    size_t len;
};

static const struct { const char *name; st_dtype_t dt; int size; } DTYPES[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"I32", ST_I32, 4},
    {"I64", ST_I64, 8}, {"F64", ST_OTHER, 8}, {"I16", ST_OTHER, 2}, {"I8", ST_OTHER, 1},
    {"U8", ST_OTHER, 1}, {"BOOL", ST_OTHER, 1},
};

const char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

static void map_file(struct st_map *m, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("%s: cannot open: %m", path);
    struct stat st;
    if (fstat(fd, &st) != 0) die("%s: cannot stat: %m", path);
    m->path = xstrdup(path);
    m->len = (size_t)st.st_size;
    m->base = m->len ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    if (m->len && m->base == MAP_FAILED) die("%s: cannot mmap: %m", path);
    close(fd);
}

static void parse_tensor(st_tensor_t *t, const char *name, json_t *info, const struct st_map *m,
                         size_t data_start) {
    const char *path = m->path;
    if (!json_is_object(info)) die("%s: tensor %s: header entry is not an object", path, name);
    const char *dt = json_string_value(json_object_get(info, "dtype"));
    json_t *shape = json_object_get(info, "shape"), *offs = json_object_get(info, "data_offsets");
    if (!dt || !json_is_array(shape) || !json_is_array(offs) || json_array_size(offs) != 2)
        die("%s: tensor %s: needs dtype, shape and data_offsets", path, name);
    int size = 0;
    t->dtype = ST_OTHER;
    for (size_t i = 0; i < ARRAY_LEN(DTYPES); i++)
        if (strcmp(dt, DTYPES[i].name) == 0) t->dtype = DTYPES[i].dt, size = DTYPES[i].size;
    if (!size) die("%s: tensor %s: unknown dtype %s", path, name, dt);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dt);
    if (json_array_size(shape) > ST_MAX_DIMS) die("%s: tensor %s: too many dimensions", path, name);
    t->ndim = (int)json_array_size(shape);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            die("%s: tensor %s: bad shape", path, name);
        t->shape[i] = json_integer_value(d);
        t->numel *= (size_t)t->shape[i];
    }
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e)) die("%s: tensor %s: bad data_offsets", path, name);
    int64_t begin = json_integer_value(b), end = json_integer_value(e);
    if (begin < 0 || end < begin || (size_t)(end - begin) != t->numel * (size_t)size ||
        data_start + (size_t)end > m->len)
        die("%s: tensor %s: data_offsets [%lld, %lld] do not fit shape or file", path, name,
            (long long)begin, (long long)end);
    t->name = xstrdup(name);
    t->data = (const char *)m->base + data_start + begin;
    t->file = m->path;
    t->used = 0;
}

static void open_file(st_set_t *s, const char *path) {
    s->maps = xrealloc(s->maps, (s->nmaps + 1) * sizeof *s->maps);
    struct st_map *m = &s->maps[s->nmaps++];
    map_file(m, path);
    uint64_t hlen = 0;
    if (m->len < 8) die("%s: too short for a safetensors file", path);
    memcpy(&hlen, m->base, 8);
    if (hlen > m->len - 8) die("%s: header length %llu past end of file", path,
                               (unsigned long long)hlen);
    json_t *h = json_load_buf((const char *)m->base + 8, (size_t)hlen, path);
    if (!json_is_object(h)) die("%s: header is not a JSON object", path);
    const char *name;
    json_t *info;
    s->t = xrealloc(s->t, (s->n + json_object_size(h)) * sizeof *s->t);
    json_object_foreach(h, name, info) {
        if (strcmp(name, "__metadata__") == 0) continue;
        if (st_find(s, name)) die("%s: tensor %s appears twice", path, name);
        parse_tensor(&s->t[s->n++], name, info, m, 8 + (size_t)hlen);
    }
    json_decref(h);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every distinct shard file named in an index.json weight_map. */
static void open_index(st_set_t *s, const char *dir, const char *index) {
    json_t *root = json_load_path(index);
    json_t *wm = json_need(root, "weight_map", JSON_OBJECT, index);
    DA(const char *) files = {0};
    const char *name;
    json_t *f;
    json_object_foreach(wm, name, f) {
        if (!json_is_string(f)) die("%s: weight_map.%s is not a string", index, name);
        da_push(&files, json_string_value(f));
    }
    if (files.n) qsort(files.v, files.n, sizeof *files.v, cmp_str);
    for (size_t i = 0; i < files.n; i++) {
        if (i && strcmp(files.v[i], files.v[i - 1]) == 0) continue;
        char *p = path_join(dir, files.v[i]);
        open_file(s, p);
        free(p);
    }
    free(files.v);
    json_decref(root);
}

void st_open(st_set_t *s, const char *path) {
    memset(s, 0, sizeof *s);
    if (!is_dir(path)) {
        open_file(s, path);
        return;
    }
    char *index = path_join(path, "model.safetensors.index.json");
    if (access(index, F_OK) == 0) {
        open_index(s, path, index);
    } else {
        char *single = path_join(path, "model.safetensors");
        if (access(single, F_OK) != 0) die("%s: no model.safetensors or model.safetensors.index.json", path);
        open_file(s, single);
        free(single);
    }
    free(index);
}

void st_close(st_set_t *s) {
    for (size_t i = 0; i < s->n; i++) free(s->t[i].name);
    for (size_t i = 0; i < s->nmaps; i++) {
        if (s->maps[i].len) munmap(s->maps[i].base, s->maps[i].len);
        free(s->maps[i].path);
    }
    free(s->t);
    free(s->maps);
    memset(s, 0, sizeof *s);
}

st_tensor_t *st_find(st_set_t *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

st_tensor_t *st_need(st_set_t *s, const char *name, int ndim, const int64_t *shape) {
    st_tensor_t *t = st_find(s, name);
    const char *where = s->nmaps ? s->maps[0].path : "safetensors";
    char want[128], got[128];
    st_shape_str(want, sizeof want, ndim, shape);
    if (!t) die("%s: tensor %s: missing (expected shape %s)", where, name, want);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same)
        die("%s: tensor %s: has shape %s, expected %s", t->file, name,
            st_shape_str(got, sizeof got, t->ndim, t->shape), want);
    t->used = 1;
    return t;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (!man) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void st_to_f32(const st_tensor_t *t, float *dst) {
    const unsigned char *p = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        uint16_t h;
        uint32_t bits;
        switch (t->dtype) {
        case ST_F32: memcpy(&dst[i], p + 4 * i, 4); break;
        case ST_F16: memcpy(&h, p + 2 * i, 2); dst[i] = half_to_float(h); break;
        case ST_BF16:
            memcpy(&h, p + 2 * i, 2);
            bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
            break;
        default: die("%s: tensor %s: dtype %s is not a float type", t->file, t->name, t->dtype_name);
        }
    }
}

void st_to_i32(const st_tensor_t *t, int32_t *dst) {
    const unsigned char *p = t->data;
    for (size_t i = 0; i < t->numel; i++) {
        int64_t v;
        switch (t->dtype) {
        case ST_I32: memcpy(&dst[i], p + 4 * i, 4); break;
        case ST_I64:
            memcpy(&v, p + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                die("%s: tensor %s: value %lld does not fit int32", t->file, t->name, (long long)v);
            dst[i] = (int32_t)v;
            break;
        default: die("%s: tensor %s: dtype %s is not an integer type", t->file, t->name, t->dtype_name);
        }
    }
}

static int cmp_out(const void *a, const void *b) {
    return strcmp(((const st_out_t *)a)->name, ((const st_out_t *)b)->name);
}

void st_write(const char *path, const st_out_t *t, size_t n) {
    st_out_t *sorted = xmalloc((n ? n : 1) * sizeof *sorted);
    memcpy(sorted, t, n * sizeof *t);
    qsort(sorted, n, sizeof *sorted, cmp_out);
    json_t *h = json_object();
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *shape = json_array();
        size_t numel = 1;
        for (int d = 0; d < sorted[i].ndim; d++) {
            json_array_append_new(shape, json_integer(sorted[i].shape[d]));
            numel *= (size_t)sorted[i].shape[d];
        }
        json_object_set_new(h, sorted[i].name,
                            json_pack("{s:s, s:o, s:[I, I]}", "dtype", "F32", "shape", shape,
                                      "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + 4 * numel)));
        off += 4 * numel;
    }
    char *js = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    size_t jl = strlen(js), padded = (jl + 7) / 8 * 8;
    uint64_t hlen = padded;
    afile_t a;
    afile_open(&a, path);
    afile_write(&a, &hlen, 8);
    afile_write(&a, js, jl);
    afile_write(&a, "        ", padded - jl);
    for (size_t i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < sorted[i].ndim; d++) numel *= (size_t)sorted[i].shape[d];
        afile_write(&a, sorted[i].data, 4 * numel);
    }
    afile_commit(&a);
    free(js);
    json_decref(h);
    free(sorted);
}
