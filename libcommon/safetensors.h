/* safetensors.h - read (mmap) and write safetensors files, and open model
 * directories that hold one file or a sharded set with
 * model.safetensors.index.json.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 *  "__metadata__": {...}}, then the raw little-endian tensor bytes. */
#ifndef BLIP_SAFETENSORS_H
#define BLIP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F16, ST_BF16, ST_I32, ST_I64, ST_OTHER } st_dtype_t;

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    st_dtype_t dtype;
    char dtype_name[8];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const void *data;   /* inside the mapped file */
    const char *file;   /* path of the file holding it */
    int used;           /* set by the caller (st_need) to report unused tensors */
} st_tensor_t;

typedef struct {
    st_tensor_t *t;
    size_t n;
    struct st_map *maps; /* mapped files */
    size_t nmaps;
} st_set_t;

/* Open one .safetensors file, or a directory (its model.safetensors.index.json
 * shards, else its model.safetensors). Dies with a one-line error naming the
 * file on malformed input. */
void st_open(st_set_t *s, const char *path);
void st_close(st_set_t *s);
/* The tensor called NAME, or NULL. */
st_tensor_t *st_find(st_set_t *s, const char *name);
/* The tensor called NAME with exactly this shape, marked used; dies with
 * "PATH: tensor NAME: missing" or "... has shape [a, b], expected [c, d]". */
st_tensor_t *st_need(st_set_t *s, const char *name, int ndim, const int64_t *shape);
/* Convert to host fp32 (F32, F16, BF16) or int32 (I32, I64); dies on other
 * dtypes naming the tensor. */
void st_to_f32(const st_tensor_t *t, float *dst);
void st_to_i32(const st_tensor_t *t, int32_t *dst);
/* "[2, 3, 4]" into buf. */
const char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

/* Writing: fp32 tensors from host memory, sorted by name in the header. */
typedef struct {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} st_out_t;

void st_write(const char *path, const st_out_t *t, size_t n);

#endif
