/* test_safetensors.c - safetensors reading (dtypes, shapes, malformed
 * headers), writing round trips, and config.json parsing. */
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

#include "blip_config.h"
#include "err.h"
#include "fileio.h"
#include "safetensors.h"

static char *tmp_path(const char *name) { return xasprintf("/tmp/blip-st-%d-%s", getpid(), name); }

/* Write a safetensors file from a header string and raw data. */
static void write_raw(const char *path, const char *header, const void *data, size_t n) {
    uint64_t hl = strlen(header);
    FILE *f = fopen(path, "wb");
    fwrite(&hl, 8, 1, f);
    fwrite(header, 1, hl, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* Run fn(arg) in a child; returns its exit status and its stderr in msg. */
static int run_child(void (*fn)(const void *), const void *arg, char *msg, size_t cap) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    size_t k = 0;
    ssize_t r;
    while (k + 1 < cap && (r = read(fd[0], msg + k, cap - 1 - k)) > 0) k += (size_t)r;
    msg[k] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(safetensors_dtypes) {
    /* 1.5, -2, 65504 (max half), 2^-24 (smallest subnormal half) */
    uint16_t f16[4] = {0x3e00, 0xc000, 0x7bff, 0x0001};
    uint16_t bf16[2] = {0x3fc0, 0xc040}; /* 1.5, -3 */
    int64_t i64[2] = {7, -100};
    unsigned char data[8 + 4 + 16 + 4];
    float f32 = 0.25f;
    memcpy(data, f16, 8);
    memcpy(data + 8, bf16, 4);
    memcpy(data + 12, i64, 16);
    memcpy(data + 28, &f32, 4);
    char *p = tmp_path("dtypes.safetensors");
    write_raw(p,
              "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
              "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[12,28]},"
              "\"f\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[28,32]},"
              "\"__metadata__\":{\"format\":\"pt\"}}",
              data, sizeof data);
    st_set_t s;
    st_open(&s, p);
    CHECK_EQ_INT(s.n, 4);
    float h[4], b[2], f;
    int32_t i[2];
    st_to_f32(st_need(&s, "h", 2, (int64_t[]){2, 2}), h);
    st_to_f32(st_find(&s, "b"), b);
    st_to_f32(st_find(&s, "f"), &f);
    st_to_i32(st_find(&s, "i"), i);
    CHECK(h[0] == 1.5f && h[1] == -2.0f && h[2] == 65504.0f && h[3] == ldexpf(1.0f, -24));
    CHECK(b[0] == 1.5f && b[1] == -3.0f);
    CHECK(f == 0.25f);
    CHECK(i[0] == 7 && i[1] == -100);
    CHECK(st_find(&s, "__metadata__") == NULL);
    st_close(&s);
    unlink(p);
    free(p);
}

TEST(safetensors_write_roundtrip) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[1] = {-1};
    st_out_t out[2] = {{.name = "z.weight", .data = a, .ndim = 2, .shape = {2, 3}},
                       {.name = "a.bias", .data = b, .ndim = 1, .shape = {1}}};
    char *p = tmp_path("rt.safetensors");
    st_write(p, out, 2);
    size_t len;
    char *raw = read_file(p, &len);
    uint64_t hl;
    memcpy(&hl, raw, 8);
    CHECK_EQ_INT(hl % 8, 0);
    CHECK(strstr(raw + 8, "\"format\":\"pt\"") != NULL);
    free(raw);
    st_set_t s;
    st_open(&s, p);
    float got[6];
    st_to_f32(st_need(&s, "z.weight", 2, (int64_t[]){2, 3}), got);
    CHECK(memcmp(got, a, sizeof a) == 0);
    st_to_f32(st_need(&s, "a.bias", 1, (int64_t[]){1}), got);
    CHECK(got[0] == -1.0f);
    st_close(&s);
    unlink(p);
    free(p);
}

static void need_wrong_shape(const void *path) {
    st_set_t s;
    st_open(&s, path);
    st_need(&s, "z.weight", 2, (int64_t[]){3, 2});
}

static void need_missing(const void *path) {
    st_set_t s;
    st_open(&s, path);
    st_need(&s, "nope", 1, (int64_t[]){4});
}

static void open_only(const void *path) {
    st_set_t s;
    st_open(&s, path);
}

TEST(safetensors_errors) {
    float a[6] = {0};
    st_out_t out[1] = {{.name = "z.weight", .data = a, .ndim = 2, .shape = {2, 3}}};
    char *p = tmp_path("err.safetensors"), msg[512];
    st_write(p, out, 1);
    CHECK_EQ_INT(run_child(need_wrong_shape, p, msg, sizeof msg), 1);
    CHECK_MSG(strstr(msg, "tensor z.weight: has shape [2, 3], expected [3, 2]"), "got: %s", msg);
    CHECK_EQ_INT(run_child(need_missing, p, msg, sizeof msg), 1);
    CHECK_MSG(strstr(msg, "tensor nope: missing (expected shape [4])"), "got: %s", msg);
    /* data_offsets that do not match the shape */
    write_raw(p, "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", a, 8);
    CHECK_EQ_INT(run_child(open_only, p, msg, sizeof msg), 1);
    CHECK_MSG(strstr(msg, "tensor x: data_offsets [0, 8] do not fit"), "got: %s", msg);
    /* header longer than the file */
    write_raw(p, "{", NULL, 0);
    FILE *f = fopen(p, "r+b");
    uint64_t big = 1000;
    fwrite(&big, 8, 1, f);
    fclose(f);
    CHECK_EQ_INT(run_child(open_only, p, msg, sizeof msg), 1);
    CHECK_MSG(strstr(msg, "past end of file"), "got: %s", msg);
    unlink(p);
    free(p);
}

static void load_config(const void *path) {
    blip_config_t c;
    blip_config_load(&c, path);
}

TEST(config_defaults_and_errors) {
    char *p = tmp_path("config.json"), msg[512];
    const char *js = "{\"text_config\": {\"vocab_size\": 100, \"bos_token_id\": 90,"
                     " \"sep_token_id\": 3, \"num_attention_heads\": 12},"
                     " \"vision_config\": {\"image_size\": 224, \"layer_norm_eps\": 1e-6}}";
    write_file_atomic(p, js, strlen(js));
    blip_config_t c;
    blip_config_load(&c, p);
    CHECK_EQ_INT(c.vocab, 100);
    CHECK_EQ_INT(c.image_size, 224);
    CHECK_EQ_INT(blip_vision_tokens(&c), 197);
    CHECK_EQ_INT(c.t_heads, 12);
    CHECK_EQ_INT(c.v_heads, 12);
    CHECK_EQ_INT(c.t_hidden, 768);
    CHECK_EQ_INT(c.max_pos, 512);
    CHECK(c.v_eps == 1e-6);
    CHECK(c.t_eps == 1e-12);
    CHECK_EQ_INT(c.pad_id, 0);
    /* saved and read back */
    blip_config_save(&c, p);
    blip_config_t d;
    blip_config_load(&d, p);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    /* a bad size names the file and field */
    js = "{\"vision_config\": {\"hidden_size\": 100, \"num_attention_heads\": 3}}";
    write_file_atomic(p, js, strlen(js));
    CHECK_EQ_INT(run_child(load_config, p, msg, sizeof msg), 1);
    CHECK_MSG(strstr(msg, "config.json: vision hidden_size 100 is not a multiple of "
                          "num_attention_heads 3"), "got: %s", msg);
    js = "{\"text_config\": {\"hidden_act\": \"relu\"}}";
    write_file_atomic(p, js, strlen(js));
    CHECK_EQ_INT(run_child(load_config, p, msg, sizeof msg), 1);
    CHECK_MSG(strstr(msg, "text_config: hidden_act \"relu\" is not supported"), "got: %s", msg);
    unlink(p);
    free(p);
}
