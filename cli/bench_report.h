/* What `spate bench` tallies from the samples of a run, the verdict it draws (the exit status)
 * and the two report formats: text for people, one JSON object for programs. */
#ifndef SPATE_BENCH_REPORT_H
#define SPATE_BENCH_REPORT_H
#include "buf.h"
#include "histogram.h"
#include "spate.h"
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

/* The settings the report restates (strings not owned). */
struct spate_bench_setup {
    const char *url;
    unsigned connections; /* -c as asked */
    uint64_t requests;    /* -n, 0 = none */
    double duration;      /* -d, 0 = none */
    double rate;          /* -R, 0 = closed model */
    uint64_t timeout_ns;  /* --timeout, 0 = none */
    uint64_t max_errors;  /* --max-errors */
    int no_fail;          /* --no-fail */
};

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
};

/* Counts one error under its kind and message (copied). */
void spate_bench_errors_note(struct spate_bench_errors *e, enum spate_error_kind k,
                             const char *msg);
/* Frees the kept messages. */
void spate_bench_errors_fini(struct spate_bench_errors *e);

/* Draws the verdict from the settings, the tally and the engine's report. Returns 1 when the
 * run failed (exit status 1), 0 when it passed. */
int spate_bench_judge(const struct spate_bench_setup *s, const struct spate_bench_tally *t,
                      const struct spate_load_report *r, struct spate_bench_verdict *v);

/* "1.23 MB/s" style: bytes per second with a decimal (SI) unit from B/s to TB/s. */
void spate_bench_fmt_rate(char *buf, size_t len, double bytes_per_sec);

/* Writes the text report to f. sig is the signal that ended the run, 0 if none. */
void spate_bench_text(FILE *f, const struct spate_bench_setup *s, const struct spate_bench_tally *t,
                      const struct spate_load_report *r, const struct spate_bench_verdict *v,
                      int sig);

/* Appends the report as one JSON object and a newline to o. 0 or -ENOMEM. */
int spate_bench_json(struct spate_buf *o, const struct spate_bench_setup *s,
                     const struct spate_bench_tally *t, const struct spate_load_report *r,
                     const struct spate_bench_verdict *v, int sig);

#endif
