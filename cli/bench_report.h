/* What `spate bench` tallies from the samples of a run, the verdict it draws (the exit status)
 * and the two report formats: text for people, one JSON object for programs. */
#ifndef SPATE_BENCH_REPORT_H
#define SPATE_BENCH_REPORT_H
#include "text.h"
#include "histogram.h"
#include "spate.h"
#include "split.h"
#include <stdint.h>
#include <stdio.h>

#define SPATE_BENCH_CAUSES 4 /* distinct messages kept per error kind */
#define SPATE_BENCH_KINDS (SPATE_E_CANCELED + 1)

struct spate_bench_cause {
    char *msg; /* owned */
    uint64_t count;
};

/* Errors by kind, with the first few distinct causes of each. */
struct spate_bench_errors {
    uint64_t total;
    uint64_t by_kind[SPATE_BENCH_KINDS];
    struct spate_bench_cause causes[SPATE_BENCH_KINDS][SPATE_BENCH_CAUSES];
    uint64_t other[SPATE_BENCH_KINDS]; /* counted under no kept cause */
};

/* What identifies one test: every piece of it (--procs workers, --segment processes) has the
 * same, and `spate merge` refuses reports that differ in any of it. Strings not owned. */
struct spate_bench_test {
    const char *url;
    const char *method;   /* as sent: GET unless -X or a body says otherwise */
    unsigned connections; /* -c of the whole test */
    uint64_t requests;    /* -n of the whole test, 0 = none */
    double duration;      /* -d, 0 = none */
    double rate;          /* -R of the whole test, 0 = closed model */
    uint64_t timeout_ns;  /* --timeout, 0 = none */
    uint64_t max_errors;  /* --max-errors (of the whole test) */
    int no_fail;          /* --no-fail */
};

/* The settings the report restates (strings not owned): the test, and this report's piece of
 * it with its own share of the connections, requests and rate (the whole test for piece 0/1). */
struct spate_bench_setup {
    const char *url;
    unsigned connections; /* this piece's -c share */
    uint64_t requests;    /* this piece's -n share, 0 = none */
    double duration;      /* -d, 0 = none */
    double rate;          /* this piece's share of -R, 0 = closed model */
    uint64_t timeout_ns;  /* --timeout, 0 = none */
    uint64_t max_errors;  /* --max-errors */
    int no_fail;          /* --no-fail */
    struct spate_bench_test test;
    struct spate_split piece; /* of the test: --segment K/N (composite in a --procs worker) */
    unsigned procs;           /* worker processes this report adds up (--procs), >= 1 */
    double start_at;          /* the planned common start (Unix s), 0 = none */
};

/* One part of a report made of several: a --procs worker or a file given to `spate merge`. */
struct spate_bench_part {
    char *name; /* owned: "worker 0", or the file name */
    int pid;    /* a worker's process id, 0 for a file */
    char *fate; /* owned, NULL when it reported; else what became of it ("killed by SIGKILL") */
    struct spate_split piece;
    double start, end; /* its measured period, Unix seconds */
    double late_s;     /* how long after the planned (or earliest) start it began */
    uint64_t skipped;  /* open-model slots it skipped for starting late */
    uint64_t requests, responses, errors, failed, connections, connections_up;
    double rps;
};

/* The parts of a report, in order; kind is "workers" or "pieces". NULL or n == 0 = none. */
struct spate_bench_parts {
    const char *kind;
    struct spate_bench_part *v; /* owned */
    size_t n;
    char *missing; /* owned, NULL when the parts cover the whole test: which share is missing */
};

#define SPATE_BENCH_LATE_S 0.001 /* a part that began this much after the start is named late */

struct spate_bench_tally {
    struct spate_hist hist;           /* latency of the complete responses */
    uint64_t responses;               /* complete responses, any status */
    uint64_t bad_status;              /* ... of which failed by status (>= 400, unless --no-fail) */
    uint64_t bytes;                   /* response bytes on the wire */
    uint64_t status[600];             /* by status; [0] holds the ones above 599 */
    struct spate_bench_errors errors; /* failed requests without a response */
    struct spate_bench_errors setup;  /* connections that failed during set-up */
};

/* Why a run failed; all zero = it passed. */
struct spate_bench_verdict {
    uint64_t failed;       /* errors + bad_status */
    int too_many_failed;   /* failed > --max-errors */
    uint64_t conns_wanted; /* min(-c as asked, -n) */
    int conns_short;       /* fewer than that came up */
    int stale_outstanding; /* open model: one still outstanding past --timeout */
    unsigned parts_lost;   /* workers that died or could not report */
};

/* Counts one error under its kind and message (copied). */
void spate_bench_errors_note(struct spate_bench_errors *e, enum spate_error_kind k,
                             const char *msg);
/* Frees the kept messages. */
void spate_bench_errors_fini(struct spate_bench_errors *e);

/* Draws the verdict from the settings, the tally, the engine's report and the parts (NULL = one
 * process). Returns 1 when the run failed (exit status 1), 0 when it passed. */
int spate_bench_judge(const struct spate_bench_setup *s, const struct spate_bench_tally *t,
                      const struct spate_load_report *r, const struct spate_bench_parts *p,
                      struct spate_bench_verdict *v);

/* Counts n errors of kind k with message msg (copied), as n calls of spate_bench_errors_note. */
void spate_bench_errors_add(struct spate_bench_errors *e, enum spate_error_kind k, const char *msg,
                            uint64_t n);
/* Adds every count of src into dst (the kept causes as far as room allows). */
void spate_bench_errors_merge(struct spate_bench_errors *dst, const struct spate_bench_errors *src);
/* Adds src into dst: histograms, counts, statuses, errors. */
void spate_bench_tally_merge(struct spate_bench_tally *dst, const struct spate_bench_tally *src);
/* Frees the tally's kept messages. */
void spate_bench_tally_fini(struct spate_bench_tally *t);
/* Frees what the parts own; NULL-safe. */
void spate_bench_parts_fini(struct spate_bench_parts *p);

/* "1.23 MB/s" style: bytes per second with a decimal (SI) unit from B/s to TB/s. */
void spate_bench_fmt_rate(char *buf, size_t len, double bytes_per_sec);

/* Writes the text report to f. sig is the signal that ended the run, 0 if none; p the parts
 * (NULL = none). */
void spate_bench_text(FILE *f, const struct spate_bench_setup *s, const struct spate_bench_tally *t,
                      const struct spate_load_report *r, const struct spate_bench_parts *p,
                      const struct spate_bench_verdict *v, int sig);

/* Appends the report as one JSON object and a newline to o: the figures, the test's identity
 * ("test", "piece"), the measured period in wall-clock time ("period"), the histogram itself
 * (histogram.h's compact form) and the parts (under p->kind). One line: no newline inside, so a
 * worker can send it as one line. 0 or -ENOMEM. */
int spate_bench_json(struct spate_text *o, const struct spate_bench_setup *s,
                     const struct spate_bench_tally *t, const struct spate_load_report *r,
                     const struct spate_bench_parts *p, const struct spate_bench_verdict *v,
                     int sig);

#endif
