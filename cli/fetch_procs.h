/* `spate fetch --procs N`: N forked workers and one parent. The parent reads the input once and
 * routes each request to the worker owning its host:port over that worker's pipe (bounded
 * buffering: when a worker's pipe and buffer are full, the parent stops reading input), and
 * merges the workers' result streams into stdout as whole lines (in input order for --ordered,
 * with a bounded reorder window). A worker that dies leaves no request unanswered: the parent
 * keeps every routed request until its worker answers it, and writes a `canceled` line for each
 * one a dead worker took with it.
 *
 * Records, each one line ending in '\n':
 *   parent -> worker  "INDEX INPUT LINENO LONG\tLINE"  INPUT -1 for a URL argument (LINENO 0),
 *                                                    LONG 1 for an input line too long to keep
 *   worker -> parent  "INDEX K\tRESULT"  the result line of request INDEX, error kind K (0 = ok;
 *                                      its own '\n' ends it)
 *                     "INDEX\t"        request INDEX has no line (done before, not started)
 *                     "S\tCOUNTS"      the worker's counts, last; a stream without it is a
 *                                      worker that died
 * Each worker answers its requests in the order it got them under --ordered. */
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

/* Live figures a worker publishes for the parent's progress line, in memory shared between them
 * (each field written by the one worker, read by the parent; a torn read only blurs one frame).
 * taken: the request records the worker has read from its pipe, each counted before the worker
 * does anything with it; they come in the order the parent routed them, so once the worker is
 * dead the parent knows which of its unanswered requests it never took (never sent). */
struct spate_fetch_procs_live {
    size_t done, failed, in_flight, skipped, unstarted;
    size_t taken;
};

/* One routed request: its global index, where it came from, and its line (not owned). */
struct spate_fetch_procs_req {
    size_t index;
    long input;    /* the -i input's number, -1 for a URL argument */
    size_t lineno; /* its line number in that input (1-based), 0 for an argument */
    int too_long;  /* the line was longer than the input limit: its bytes were dropped */
    const char *line;
    size_t len;
};

/* The worker (0 .. n-1) that takes a request for url[0..len): a hash of its host:port
 * (lower-cased host, the scheme's default port when none is given), so every request to one
 * host:port goes to one worker. A URL without a host goes to worker 0. */
unsigned spate_fetch_procs_worker_of(const char *url, size_t len, unsigned n);

/* Formats the end record of a worker into buf (NUL-terminated); its length. */
size_t spate_fetch_procs_format_counts(char *buf, size_t cap,
                                       const struct spate_fetch_procs_counts *c);

/* Records read from a non-blocking descriptor as they come. Memory: one buffer of the longest
 * record so far plus a read. */
struct spate_fetch_procs_reader {
    int fd;               /* not owned */
    char *buf;            /* owned */
    size_t len, cap, off; /* buf[off..len) not consumed yet */
    int eof;              /* end of file or a read error */
};
/* Reads once: 1 bytes came, 0 none ready, -1 end of file or error (eof set). */
int spate_fetch_procs_fill(struct spate_fetch_procs_reader *r);
/* The next whole record (with its '\n', length in *len), consumed; NULL when none is whole. */
const char *spate_fetch_procs_record(struct spate_fetch_procs_reader *r, size_t *len);
/* The bytes held (received and not consumed). */
size_t spate_fetch_procs_held(const struct spate_fetch_procs_reader *r);
void spate_fetch_procs_reader_fini(struct spate_fetch_procs_reader *r);

/* In a worker: parses a parent -> worker record (as returned by spate_fetch_procs_record) into
 * *q, whose line points into rec. 0, or -1 when it is malformed. */
int spate_fetch_procs_parse_req(const char *rec, size_t len, struct spate_fetch_procs_req *q);

struct spate_fetch_procs_ops {
    /* In worker p's process: runs the one-process fetch over the records read from in_fd (a
     * non-blocking pipe; end of file = no more requests), writing its records to out_fd and its
     * live figures to *live. Both descriptors are the worker's to close. Returns its status. */
    int (*worker)(void *arg, unsigned p, int in_fd, int out_fd,
                  struct spate_fetch_procs_live *live);
    /* In the parent: the next request to route, with the worker that takes it. 1 = *q and *w
     * filled (q's line valid until the next call), 0 = none ready yet (*wait_fd, or -1, becomes
     * readable when one may be), -1 = the input is over. */
    int (*next)(void *arg, struct spate_fetch_procs_req *q, unsigned *w, int *wait_fd);
    /* In the parent: the result line (ending in '\n') for request q that a dead worker took with
     * it, its error of kind canceled with message why (which says whether the worker had taken
     * it); *len its length; NULL if none could be made. Valid until the next call. */
    const char *(*lost)(void *arg, const struct spate_fetch_procs_req *q, const char *why,
                        size_t *len);
    /* In the parent, with progress on: redraws the progress line when due (or now, with
     * force) from these counts; ms until the next redraw. NULL = no progress line. */
    int (*progress)(void *arg, const struct spate_fetch_procs_live *sum, size_t total, int force);
};

/* Parameters of a run. ordered: merge in input order, holding at most `window` routed requests
 * not printed yet (the parent stops reading input at that). */
struct spate_fetch_procs_run_args {
    unsigned n;
    int ordered;
    size_t window;
};

/* Forks the workers, routes the input to them, merges their records into out. SIGINT/SIGTERM
 * (caught through cli/interrupt.c by the caller) stop the routing and are forwarded to every
 * worker. *sum gets the summed counts (the lines written for a dead worker's requests included:
 * failed, kind canceled). Returns the exit status: 128 + the signal when interrupted, 128 +
 * SIGPIPE when out was closed, 1 when a worker died or failed (each said on stderr), else the
 * largest worker status. Never waits on a dead worker. */
int spate_fetch_procs_run(const struct spate_fetch_procs_run_args *a,
                          const struct spate_fetch_procs_ops *ops, void *arg,
                          struct spate_results *out, struct spate_fetch_procs_counts *sum,
                          int *stop_sig);

#endif
