/* progress.c - terminal progress bar: count, rate and ETA on one stderr line. */
#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void draw(progress_t *p, double now) {
    double dt = now - p->t0;
    double rate = dt > 0 ? (double)p->done / dt : 0;
    char eta[32] = "?";
    if (p->total && rate > 0) format_duration((double)(p->total - p->done) / rate, eta, sizeof eta);
    if (p->total) {
        int width = 24, fill = (int)(width * (double)p->done / (double)p->total);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%s [%s] %llu/%llu  %.1f/s  ETA %s\033[K", p->label, bar,
                (unsigned long long)p->done, (unsigned long long)p->total, rate, eta);
    } else {
        fprintf(stderr, "\r%s %llu  %.1f/s\033[K", p->label, (unsigned long long)p->done, rate);
    }
    p->last_draw = now;
}

void progress_start(progress_t *p, const char *label, uint64_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t0 = now_seconds();
    p->last_draw = 0;
    p->enabled = isatty(2);
    pthread_mutex_init(&p->mu, NULL);
}

void progress_add(progress_t *p, uint64_t n) {
    pthread_mutex_lock(&p->mu);
    p->done += n;
    if (p->enabled) {
        double t = now_seconds();
        if (t - p->last_draw >= 0.1) draw(p, t);
    }
    pthread_mutex_unlock(&p->mu);
}

void progress_end(progress_t *p) {
    if (p->enabled) fprintf(stderr, "\r\033[K");
    pthread_mutex_destroy(&p->mu);
}
