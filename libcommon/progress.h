/* progress.h - a progress bar on stderr, drawn only when stderr is a terminal.
 *
 *   progress_t pb;
 *   progress_start(&pb, "packing", total);   // total 0 = unknown
 *   progress_add(&pb, 1);                     // thread-safe, redraws <= 10x/s
 *   progress_end(&pb);                        // clears the line
 */
#ifndef BLIP_PROGRESS_H
#define BLIP_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

typedef struct {
    const char *label;
    uint64_t total, done;
    double t0, last_draw;
    int enabled;
    pthread_mutex_t mu;
} progress_t;

void progress_start(progress_t *p, const char *label, uint64_t total);
void progress_add(progress_t *p, uint64_t n);
void progress_end(progress_t *p);
/* Monotonic seconds. */
double now_seconds(void);

#endif
