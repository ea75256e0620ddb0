/* fileio.c - file helpers: whole-file reads, mkdir -p, atomic writes. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

char *try_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        buf = xrealloc(buf, cap + 1);
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        errno = saved ? saved : EIO;
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

char *read_file(const char *path, size_t *len) {
    char *buf = try_read_file(path, len);
    if (!buf) die("%s: %s", path, strerror(errno));
    return buf;
}

int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void mkdir_p(const char *path) {
    char *p = xstrdup(path);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) die("%s: %s", p, strerror(errno));
            *s = c;
            if (!c) break;
        }
    }
    if (!is_dir(path)) die("%s: not a directory", path);
    free(p);
}

char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir);
    return xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

/* Temp files of open atomic writes, removed if the process is interrupted
 * or exits first. A fixed table the signal handler can read while other
 * threads update it (slots change by single pointer stores). */
#define MAX_TMPS 1024
static char *volatile g_tmps[MAX_TMPS];
static pthread_mutex_t g_tmps_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_handlers_once = PTHREAD_ONCE_INIT;

static void afile_cleanup_all(void) {
    for (int i = 0; i < MAX_TMPS; i++) {
        char *t = g_tmps[i];
        if (t) unlink(t);
    }
}

static void on_signal(int sig) {
    afile_cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_handlers(void) {
    atexit(afile_cleanup_all);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

/* Track tmp before the file exists, untrack it after it is renamed. */
static void track_tmp(char *tmp, int add) {
    pthread_once(&g_handlers_once, install_handlers);
    pthread_mutex_lock(&g_tmps_mu);
    for (int i = 0; i < MAX_TMPS; i++) {
        if (add ? g_tmps[i] == NULL : g_tmps[i] == tmp) {
            g_tmps[i] = add ? tmp : NULL;
            break;
        }
    }
    pthread_mutex_unlock(&g_tmps_mu);
}

void afile_open(afile_t *a, const char *path) {
    a->path = xstrdup(path);
    if (strcmp(path, "-") == 0) {
        a->tmp = NULL;
        a->f = stdout;
        return;
    }
    a->tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
    track_tmp(a->tmp, 1);
    a->f = fopen(a->tmp, "wb");
    if (!a->f) die("%s: %s", a->tmp, strerror(errno));
}

void afile_write(afile_t *a, const void *buf, size_t n) {
    if (n && fwrite(buf, 1, n, a->f) != n)
        die("%s: write failed: %s", a->tmp ? a->tmp : "stdout", strerror(errno));
}

static void fsync_dir_of(const char *path) {
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

void afile_commit(afile_t *a) {
    if (fflush(a->f) != 0) die("%s: write failed: %s", a->tmp ? a->tmp : "stdout", strerror(errno));
    if (a->tmp) {
        if (fsync(fileno(a->f)) != 0) die("%s: fsync failed: %s", a->tmp, strerror(errno));
        if (fclose(a->f) != 0) die("%s: close failed: %s", a->tmp, strerror(errno));
        if (rename(a->tmp, a->path) != 0) die("%s: cannot rename to %s: %s", a->tmp, a->path, strerror(errno));
        track_tmp(a->tmp, 0);
        fsync_dir_of(a->path);
        free(a->tmp);
    }
    free(a->path);
    a->f = NULL;
}

void afile_abort(afile_t *a) {
    if (a->tmp) {
        fclose(a->f);
        unlink(a->tmp);
        track_tmp(a->tmp, 0);
        free(a->tmp);
    }
    free(a->path);
    a->f = NULL;
}

void write_file_atomic(const char *path, const void *buf, size_t n) {
    afile_t a;
    afile_open(&a, path);
    afile_write(&a, buf, n);
    afile_commit(&a);
}

void copy_file_atomic(const char *src, const char *dst) {
    size_t len;
    char *buf = read_file(src, &len);
    write_file_atomic(dst, buf, len);
    free(buf);
}
