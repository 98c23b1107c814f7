/* Command-line value parsing shared by `spate fetch` and `spate bench`: strict numbers, seconds,
 * sizes and the request-shaping options (-X -H -d --json --bearer -u -A). */
#ifndef SPATE_ARGS_H
#define SPATE_ARGS_H
#include "spate.h"
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

/* Every parser returns 0, or -1 after printing "spate CMD: --opt: why" to stderr. */
int spate_args_uint(const char *cmd, const char *opt, const char *s, unsigned long long min,
                    unsigned long long max, unsigned long long *out);
/* A duration: seconds as a finite decimal, or a number with a unit (250ms, 10s, 2m, 1h); at
 * most 1e6 seconds. */
int spate_args_secs(const char *cmd, const char *opt, const char *s, double *out);
/* A rate: a finite decimal > 0 and <= 1e7. */
int spate_args_rate(const char *cmd, const char *opt, const char *s, double *out);
/* Bytes, with an optional K/M/G suffix (powers of 1024). */
int spate_args_size(const char *cmd, const char *opt, const char *s, uint64_t *out);

/* The request options both commands share. Strings point into argv or into owned copies. */
struct spate_args_req {
    const char *method;
    struct spate_header *headers; /* owned array; name/value strings owned */
    size_t nheaders;
    char *body; /* owned, NULL = none */
    size_t body_len;
    int json;   /* --json: add Content-Type/Accept application/json */
    char *auth; /* owned "Bearer x" or "Basic y", NULL = none */
    const char *user_agent;
};

/* -H 'Name: value': splits and validates. 0 or -1 (message printed). */
int spate_args_header(const char *cmd, struct spate_args_req *r, const char *arg);
/* -d DATA or -d @FILE (file bytes unchanged). With json, the body must be one JSON value.
 * 0 or -1. */
int spate_args_data(const char *cmd, struct spate_args_req *r, const char *arg, int json);
/* --bearer TOKEN / -u USER:PASS. 0 or -1. */
int spate_args_bearer(const char *cmd, struct spate_args_req *r, const char *tok);
int spate_args_basic(const char *cmd, struct spate_args_req *r, const char *userpass);
void spate_args_req_fini(struct spate_args_req *r);

/* getopt_long(argc, argv, shortopts, longopts, NULL), except that long options match their
 * whole name only: an abbreviation ("--time" for --timeout) is refused as an unknown option
 * ('?'), because a prefix silently taken for another option sends the wrong request. */
int spate_args_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Reports spate_args_getopt's '?' (unknown option) or ':' (missing value) for c, naming the
 * option as the user typed it and the nearest known one ("did you mean --timeout?").
 * Always returns -1. */
int spate_args_bad_option(const char *cmd, int c, char **argv);

/* Makes room for `want` connections: raises the soft open-files limit toward the hard one and,
 * when even that is too small, returns a lower count after a warning on stderr. */
unsigned spate_args_fit_fds(const char *cmd, unsigned want);

/* Appends one header to an owned header array. 0 or -ENOMEM. */
int spate_args_push_header(struct spate_header **v, size_t *n, const char *name, const char *value);

#endif
