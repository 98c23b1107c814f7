/* `spate bench --hdr-log FILE`: the interval log of a run, one untagged histogram per second for
 * the whole run and, with --procs, the same per worker tagged w<i> (line format in hdrlog.h).
 * Workers send their intervals to the parent, which writes each worker's lines and, once every
 * live worker has sent a second, that second's sum, untagged, before them. */
#ifndef SPATE_BENCH_HLOG_H
#define SPATE_BENCH_HLOG_H
#include "histogram.h"
#include <stddef.h>
#include <stdint.h>

struct spate_bench_hlog; /* opaque */

/* Creates the log file at path (truncated) for `workers` tagged sources (0 = a single process,
 * whose intervals are written untagged as they come). 0, or -errno with err naming the file. */
int spate_bench_hlog_open(struct spate_bench_hlog **out, const char *path, unsigned workers,
                          char *err, size_t errlen);

/* Writes the header: interval 0 starts at base_unix (Unix seconds, the common start). Once; a
 * later call does nothing. 0 or -errno. */
int spate_bench_hlog_start(struct spate_bench_hlog *h, double base_unix);

/* One interval: second `sec` (from the start), len seconds long (1, or less for the last), of
 * worker w (-1 = the single process). Intervals of one worker come in increasing order. 0 or
 * -errno (-ENOMEM). */
int spate_bench_hlog_put(struct spate_bench_hlog *h, int w, uint64_t sec, double len,
                         const struct spate_hist *x);

/* Worker w sends nothing more (it ended or died): the seconds that waited for it are written. */
int spate_bench_hlog_done(struct spate_bench_hlog *h, unsigned w);

/* Writes whatever waits, closes the file and frees h (NULL-safe). 0, or -errno when any write
 * failed. */
int spate_bench_hlog_close(struct spate_bench_hlog *h);

#endif
