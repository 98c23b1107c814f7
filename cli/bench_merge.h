/* Adding up the reports of the pieces of one test (--procs workers, --segment processes) into the
 * report one process would have printed: counts, statuses and errors summed, histograms summed
 * bucket by bucket, the measured period the union of the pieces' periods (the rate follows from
 * it), late pieces named. Reports of another test, or a share of the test given twice, are
 * refused. */
#ifndef SPATE_BENCH_MERGE_H
#define SPATE_BENCH_MERGE_H
#include "bench_read.h"
#include "bench_report.h"

struct spate_bench_merge {
    int have;                     /* a report was added */
    struct spate_bench_setup set; /* the merged report's settings; strings below */
    char *url, *method;           /* owned */
    struct spate_bench_tally t;   /* the sums */
    struct spate_load_report rep; /* the sums; period and verdict inputs after finish */
    double start, end;            /* the union of the periods, Unix seconds */
    int sig;                      /* the first signal a piece reports */
    struct spate_bench_parts parts;
};

/* Starts an empty merge (m is large: keep it off the stack). kind names the parts in the report:
 * "workers" or "pieces". */
void spate_bench_merge_init(struct spate_bench_merge *m, const char *kind);

/* Adds report r (not kept: it may be freed afterwards) as the part called name (a file name, or
 * "worker 3" with its pid). Returns 0; -EINVAL with err saying why when r is of another test
 * than the reports added so far (URL, method, model, rate, connections, requests, duration,
 * timeout, --max-errors, --no-fail) or its piece overlaps one already added; -ENOMEM. */
int spate_bench_merge_add(struct spate_bench_merge *m, const struct spate_bench_read *r,
                          const char *name, int pid, char *err, size_t errlen);

/* Records a part that sent no report (a worker that died): named with what became of it. 0 or
 * -ENOMEM. */
int spate_bench_merge_lost(struct spate_bench_merge *m, const char *name, int pid,
                           struct spate_split piece, const char *fate);

/* Completes the merge: the union period and the rate's length, each part's lateness against the
 * planned start (the common --start-at, else the earliest start), the merged settings (the whole
 * test's connections, requests and rate) and the share of the test the reported parts cover:
 * set.piece is that share when it is one piece K/N ({0, 1}: the whole test); otherwise
 * set.piece is {0, 0} and parts.missing (0 or -ENOMEM) says what is missing. With nothing added,
 * only the parts are kept. */
int spate_bench_merge_finish(struct spate_bench_merge *m);

/* Frees what m owns. */
void spate_bench_merge_fini(struct spate_bench_merge *m);

#endif
