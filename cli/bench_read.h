/* A `spate bench --json` report read back: a --procs worker's report on its pipe, or a file given
 * to `spate merge` (a single process's report, a --procs report or a merge: the last two carry the
 * parts they add up, so that a merge of merges can list and check the original pieces). Strict:
 * every field the merge needs must be present, of its type, and agree with the others (the
 * histogram with the response count, the statuses and errors with the totals), so a corrupt report
 * is refused with a message instead of being added up. */
#ifndef SPATE_BENCH_READ_H
#define SPATE_BENCH_READ_H
#include "bench_report.h"
#include <stddef.h>

struct spate_bench_read {
    struct spate_bench_setup set; /* its strings point into url/method below */
    char *url, *method;           /* owned */
    struct spate_bench_tally t;   /* owned messages: spate_bench_read_fini */
    struct spate_load_report rep;
    double end; /* the measured period's end, Unix seconds */
    int sig;    /* the signal that ended the run, 0 = none */
    /* owned: the parts it adds up ("workers" of --procs, "pieces" of a merge; their late_s is not
     * read), n == 0 for one process's report. With parts, set.piece may be {0, 0} (the parts
     * are not one piece K/N) and the parts are the report's identity. */
    struct spate_bench_parts parts;
};

/* Parses one report from text[0..len) into r (overwritten; the histogram makes it large: keep it
 * off the stack). Returns 0, -EINVAL with err naming the field and the problem
 * ("\"test\".\"rate\" is missing"), or -ENOMEM. On error r holds nothing to free. */
int spate_bench_read(struct spate_bench_read *r, const char *text, size_t len, char *err,
                     size_t errlen);

/* Frees what r owns. */
void spate_bench_read_fini(struct spate_bench_read *r);

#endif
