/* The result stream of `spate fetch`: lines batched into one write per interval, held back for
 * --ordered, and the end of the stream when the output fails. A reader that left (a closed pipe)
 * or a failed write (a full disk) closes it for good, since a line cut by a failed write would
 * glue to the next: every later line is counted as lost. */
#ifndef SPATE_RESULTS_H
#define SPATE_RESULTS_H
#include "text.h"
#include <stddef.h>

struct spate_results {
    int fd;
    struct spate_text buf; /* lines waiting for the next write */
    char **held;           /* --ordered: a ring of lines that finished before their turn (owned) */
    size_t nheld, next;    /* ... its size, and the index printed next */
    size_t pending;        /* slots of the ring in use */
    double last_flush, flush_every;
    int is_pipe;     /* a pipe or socket: watched for its reader leaving */
    double checked;  /* when that was last looked at */
    int closed;      /* the reader left */
    int write_errno; /* a write failed otherwise (ENOSPC...), 0 = none */
    size_t lost;     /* lines that could not be written */
    /* called around each write with before = 1, then 0: the progress line is cleared from a
     * terminal the results also go to, and drawn again after them; NULL = none */
    void (*around)(void *arg, int before);
    void *arg;
};

/* fd: where results go. ordered: for --ordered, the most indexes ahead of the next one to print
 * that may be added (the input's read-ahead; the caller keeps to it), 0 to print as completed.
 * flush_every: seconds a line may wait. 0 or -ENOMEM. */
int spate_results_init(struct spate_results *r, int fd, size_t ordered, double flush_every,
                       double now);
void spate_results_fini(struct spate_results *r);

/* Adds the line of request `index` (copied); with --ordered it waits for the ones before it. */
void spate_results_add(struct spate_results *r, size_t index, const char *line, size_t len);
/* --ordered: index prints nothing (a request skipped or never started); the stream goes on. */
void spate_results_skip(struct spate_results *r, size_t index);
/* Writes what is waiting. */
void spate_results_flush(struct spate_results *r, double now);
/* --ordered at the end of a stopped run: the lines still held, in order, gaps passed over. */
void spate_results_release_held(struct spate_results *r);
/* Flushes when due and looks at the pipe (every check_every seconds), so a reader that left
 * is noticed between results too. Returns ms until the next flush is due, or -1 for none. */
int spate_results_tick(struct spate_results *r, double now, double check_every);
/* 1 once the stream is closed (reader gone or write failed). */
int spate_results_done(const struct spate_results *r);

#endif
