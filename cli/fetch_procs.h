/* `spate fetch --procs N`: N forked workers, each running the one-process fetch over the requests
 * whose host:port hashes to it, and one parent that merges their result streams into stdout as
 * whole lines (in input order for --ordered), forwards SIGINT/SIGTERM and sums their counts.
 * A worker writes records "INDEX<TAB>LINE\n" (its results, in its own order: input order under
 * --ordered) and, last, one "S<TAB>counts\n" record; a stream that ends without it is a worker
 * that died. */
#ifndef SPATE_FETCH_PROCS_H
#define SPATE_FETCH_PROCS_H
#include "results.h"
#include <stddef.h>

#define SPATE_FETCH_PROCS_MAX 1024
#define SPATE_FETCH_PROCS_KINDS 16 /* error kinds counted (engine kinds fit below this) */

/* Counts one worker reports at its end, summed by the parent. Plain data. */
struct spate_fetch_procs_counts {
    unsigned long long finished, ok, failed, unstarted, submitted, lost;
    unsigned long long by_kind[SPATE_FETCH_PROCS_KINDS];
};

/* The worker (0 .. n-1) that takes a request for url: a hash of its host:port (lower-cased host,
 * the scheme's default port when none is given), so every request to one host:port goes to one
 * worker. A URL without a host goes to worker 0. */
unsigned spate_fetch_procs_worker_of(const char *url, unsigned n);

/* Formats the end record of a worker into buf (NUL-terminated); its length. */
size_t spate_fetch_procs_format_counts(char *buf, size_t cap,
                                       const struct spate_fetch_procs_counts *c);

/* Runs worker p (in the child); writes its records to fd; returns its exit status. */
typedef int (*spate_fetch_procs_worker_fn)(void *arg, unsigned p, int fd);

/* Forks n workers running fn and merges their records into out (ordered: by index, each worker's
 * stream being in index order). SIGINT/SIGTERM (caught through cli/interrupt.c by the caller) are
 * forwarded to every worker. *sum gets the summed counts. Returns the exit status: 128 + the
 * signal when interrupted, 128 + SIGPIPE when out was closed, 1 when a worker died or failed (each
 * said on stderr), else the largest worker status. Never waits on a dead worker. */
int spate_fetch_procs_run(unsigned n, int ordered, struct spate_results *out,
                          spate_fetch_procs_worker_fn fn, void *arg,
                          struct spate_fetch_procs_counts *sum, int *stop_sig);

#endif
