/* The progress line of `spate fetch` on a terminal: done/total, percent, elapsed, ETA, requests
 * in flight and the recent rate, redrawn on a timer and cleared before other output. */
#ifndef SPATE_PROGRESS_H
#define SPATE_PROGRESS_H
#include <stddef.h>

#define SPATE_PROGRESS_RING 21 /* rate samples: 5 s of redraws at 4 per second */

struct spate_progress_counts {
    size_t done, failed, in_flight;
    size_t total; /* SIZE_MAX while not known (input still being read) */
};

struct spate_progress {
    int fd;          /* the terminal (stderr) */
    int shown;       /* a line is on the terminal now */
    double t0, next; /* run start; next redraw (monotonic seconds) */
    double interval; /* seconds between redraws */
    double ring_t[SPATE_PROGRESS_RING];
    size_t ring_done[SPATE_PROGRESS_RING];
    unsigned ring_head, ring_n;
};

void spate_progress_init(struct spate_progress *p, int fd, double now);
/* Redraws the line when due (or now, with force). Returns milliseconds until the next redraw
 * is due, so the caller's wait can end then. */
int spate_progress_tick(struct spate_progress *p, double now, const struct spate_progress_counts *c,
                        int force);
/* Removes the line (if shown) so that other output starts on a clean line. */
void spate_progress_clear(struct spate_progress *p);

/* The text of the line for these figures (rate in requests/s, < 0 when not known yet), cut to
 * width - 1 characters when width > 0. Returns its length. For the unit test. */
size_t spate_progress_format(char *buf, size_t len, double elapsed, double rate,
                             const struct spate_progress_counts *c, unsigned width);

#endif
