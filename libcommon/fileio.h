/* fileio.h - whole-file reads, directory creation and atomic file output.
 *
 * Atomic output: afile_open() writes to "PATH.tmp-PID"; afile_commit() flushes,
 * fsyncs, renames over PATH and fsyncs the directory; afile_abort() (or dying
 * before commit) leaves PATH untouched; temp files still open are removed
 * at exit and on SIGINT, SIGTERM and SIGHUP. An atomic file opened on "-"
 * writes to stdout and commit only flushes. */
#ifndef BLIP_FILEIO_H
#define BLIP_FILEIO_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    char *path;   /* final name, or "-" */
    char *tmp;    /* temporary name, NULL for stdout */
    FILE *f;
} afile_t;

/* Read a whole file (NUL-terminated as a convenience); dies naming the path. */
char *read_file(const char *path, size_t *len);
/* Like read_file but returns NULL (errno set) instead of dying. */
char *try_read_file(const char *path, size_t *len);
/* mkdir -p; dies naming the path. */
void mkdir_p(const char *path);
int is_dir(const char *path);
/* Join a directory and a name with one slash. */
char *path_join(const char *dir, const char *name);

void afile_open(afile_t *a, const char *path);
void afile_write(afile_t *a, const void *buf, size_t n);
void afile_commit(afile_t *a);
void afile_abort(afile_t *a);
/* Write a whole buffer to PATH atomically. */
void write_file_atomic(const char *path, const void *buf, size_t n);
/* Copy file SRC to DST atomically; dies naming the path on failure. */
void copy_file_atomic(const char *src, const char *dst);

#endif
