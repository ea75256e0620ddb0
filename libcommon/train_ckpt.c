/* train_ckpt.c - atomic checkpoint directories with optimizer and data state. */
#define _XOPEN_SOURCE 700
#include "train_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "jsonio.h"
#include "ops.h"

static const char MAGIC[8] = {'B', 'L', 'I', 'P', 'A', 'D', 'A', 'M'};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    UNUSED(sb), UNUSED(flag), UNUSED(ftw);
    if (remove(p) != 0) die("%s: cannot remove: %s", p, strerror(errno));
    return 0;
}

void remove_tree(const char *path) {
    if (access(path, F_OK) != 0) return;
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) die("%s: cannot sync: %s", dir, strerror(errno));
    close(fd);
}

/* Download n floats of device buffer src into the atomic file. */
static void write_device(afile_t *f, const float *src, size_t n, float *host, size_t chunk) {
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        be_download(host, src + i, k * sizeof *host);
        afile_write(f, host, k * sizeof *host);
    }
}

static void save_moments(const char *dir, blip_model_t *m) {
    char *path = path_join(dir, "optimizer.bin");
    afile_t f;
    afile_open(&f, path);
    uint64_t n = m->nfloats;
    afile_write(&f, MAGIC, sizeof MAGIC);
    afile_write(&f, &n, sizeof n);
    size_t chunk = 1 << 20;
    float *host = xmalloc(chunk * sizeof *host);
    write_device(&f, m->m, m->nfloats, host, chunk);
    write_device(&f, m->v, m->nfloats, host, chunk);
    afile_commit(&f);
    free(host);
    free(path);
}

static void load_moments(const char *dir, blip_model_t *m) {
    char *path = path_join(dir, "optimizer.bin");
    size_t len, want = sizeof MAGIC + 8 + 2 * m->nfloats * sizeof(float);
    char *buf = read_file(path, &len);
    uint64_t n = 0;
    if (len >= sizeof MAGIC + 8) memcpy(&n, buf + sizeof MAGIC, sizeof n);
    if (len < sizeof MAGIC + 8 || memcmp(buf, MAGIC, sizeof MAGIC) != 0 || n != m->nfloats || len != want)
        die("%s: not AdamW moments for this model (%zu bytes, want %zu)", path, len, want);
    const float *mv = (const float *)(buf + sizeof MAGIC + 8);
    be_upload(m->m, mv, m->nfloats * sizeof(float));
    be_upload(m->v, mv + m->nfloats, m->nfloats * sizeof(float));
    free(buf);
    free(path);
}

static void save_state(const char *dir, const train_state_t *st) {
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:f, s:I, s:I}", "step", (json_int_t)st->step, "epoch",
                          (json_int_t)st->epoch, "epoch_step", (json_int_t)st->epoch_step,
                          "dropout_step", (json_int_t)st->dropout_step, "best_score", st->best_score,
                          "best_epoch", (json_int_t)st->best_epoch, "global_batch",
                          (json_int_t)st->global_batch);
    char *path = path_join(dir, "trainer_state.json");
    json_write_atomic(path, j);
    json_decref(j);
    free(path);
}

void ckpt_load_state(const char *dir, train_state_t *st) {
    char *path = path_join(dir, "trainer_state.json");
    json_t *j = json_load_path(path);
    st->step = json_need_int(j, "step", path);
    st->epoch = json_need_int(j, "epoch", path);
    st->epoch_step = json_need_int(j, "epoch_step", path);
    st->dropout_step = (uint64_t)json_need_int(j, "dropout_step", path);
    st->best_score = json_number_value(json_need(j, "best_score", JSON_REAL, path));
    st->best_epoch = json_need_int(j, "best_epoch", path);
    st->global_batch = json_opt_int(j, "global_batch", 0, path);
    json_decref(j);
    free(path);
}

static void copy_vocab(const char *dir, const char *vocab_path) {
    char *dst = path_join(dir, "vocab.txt");
    if (access(dst, F_OK) != 0) copy_file_atomic(vocab_path, dst);
    free(dst);
}

/* Write the model (and with st, the training state) into RUN/.tmp-NAME,
 * then swap it in for RUN/NAME. */
static void save_dir(const char *run, const char *name, blip_model_t *m, const train_state_t *st,
                     const char *vocab_path) {
    char *tmp = xasprintf("%s/.tmp-%s", run, name), *dst = path_join(run, name);
    char *old = xasprintf("%s/.old-%s", run, name);
    remove_tree(tmp);
    remove_tree(old);
    blip_model_save(m, tmp);
    copy_vocab(tmp, vocab_path);
    if (st) {
        save_moments(tmp, m);
        save_state(tmp, st);
    }
    fsync_dir(tmp);
    if (access(dst, F_OK) == 0 && rename(dst, old) != 0) die("%s: cannot rename: %s", dst, strerror(errno));
    if (rename(tmp, dst) != 0) die("%s: cannot rename to %s: %s", tmp, dst, strerror(errno));
    fsync_dir(run);
    remove_tree(old);
    free(tmp);
    free(dst);
    free(old);
}

void ckpt_save(const char *run, blip_model_t *m, const train_state_t *st, const char *vocab_path) {
    char *name = xasprintf("checkpoint-%lld", (long long)st->step);
    save_dir(run, name, m, st, vocab_path);
    free(name);
}

void ckpt_save_model(const char *run, const char *name, blip_model_t *m, const char *vocab_path) {
    save_dir(run, name, m, NULL, vocab_path);
}

/* Steps of RUN's complete checkpoints, ascending. */
typedef DA(long long) steps_t;
static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}
static steps_t list_steps(const char *run) {
    steps_t s = {0};
    DIR *d = opendir(run);
    if (!d) die("%s: cannot open: %s", run, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        long long step;
        char tail;
        if (sscanf(e->d_name, "checkpoint-%lld%c", &step, &tail) != 1 || step < 0) continue;
        char *state = xasprintf("%s/%s/trainer_state.json", run, e->d_name);
        if (access(state, F_OK) == 0) da_push(&s, step);
        free(state);
    }
    closedir(d);
    if (s.n) qsort(s.v, s.n, sizeof *s.v, cmp_ll);
    return s;
}

char *ckpt_latest(const char *run) {
    steps_t s = list_steps(run);
    char *p = s.n ? xasprintf("%s/checkpoint-%lld", run, s.v[s.n - 1]) : NULL;
    free(s.v);
    return p;
}

void ckpt_prune(const char *run, int keep) {
    steps_t s = list_steps(run);
    for (size_t i = 0; i + (size_t)keep < s.n; i++) {
        char *p = xasprintf("%s/checkpoint-%lld", run, s.v[i]);
        remove_tree(p);
        free(p);
    }
    free(s.v);
}

void ckpt_load(const char *dir, blip_model_t *m, train_state_t *st) {
    blip_model_load(m, dir);
    load_moments(dir, m);
    ckpt_load_state(dir, st);
}
