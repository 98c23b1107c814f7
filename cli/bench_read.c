/* Reading a `spate bench --json` report back, with every check a merge relies on. */
#include "bench_read.h"
#include "json.h"
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct rd {
    char *err;
    size_t errlen;
};

static int bad(struct rd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct rd *c, const char *fmt, ...)
{
    if (c->err && c->errlen && !c->err[0]) { /* the innermost message wins */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static const struct spate_json *member(struct rd *c, const struct spate_json *o, const char *in,
                                       const char *key, enum spate_json_type want)
{
    const struct spate_json *v = spate_json_get(o, key);
    if (!v) {
        bad(c, "%s\"%s\" is missing", in, key);
        return NULL;
    }
    enum spate_json_type t = spate_json_type(v);
    int fits = t == want || (want == SPATE_JSON_TRUE && t == SPATE_JSON_FALSE);
    if (!fits) {
        bad(c, "%s\"%s\" is not %s", in, key,
            want == SPATE_JSON_NUMBER   ? "a number"
            : want == SPATE_JSON_STRING ? "a string"
            : want == SPATE_JSON_OBJECT ? "an object"
            : want == SPATE_JSON_ARRAY  ? "an array"
                                        : "true or false");
        return NULL;
    }
    return v;
}

static int u64(struct rd *c, const struct spate_json *o, const char *in, const char *key,
               uint64_t *out)
{
    const struct spate_json *v = member(c, o, in, key, SPATE_JSON_NUMBER);
    if (!v) return -EINVAL;
    if (spate_json_u64(v, out)) return bad(c, "%s\"%s\" is not a whole number >= 0", in, key);
    return 0;
}

static int dbl(struct rd *c, const struct spate_json *o, const char *in, const char *key,
               double *out)
{
    const struct spate_json *v = member(c, o, in, key, SPATE_JSON_NUMBER);
    if (!v) return -EINVAL;
    if (spate_json_double(v, out) || *out < 0)
        return bad(c, "%s\"%s\" is not a finite number >= 0", in, key);
    return 0;
}

static int flag(struct rd *c, const struct spate_json *o, const char *in, const char *key, int *out)
{
    const struct spate_json *v = member(c, o, in, key, SPATE_JSON_TRUE);
    if (!v) return -EINVAL;
    *out = spate_json_type(v) == SPATE_JSON_TRUE;
    return 0;
}

static int str(struct rd *c, const struct spate_json *o, const char *in, const char *key,
               char **out)
{
    size_t len;
    const char *s = spate_json_str(member(c, o, in, key, SPATE_JSON_STRING), &len);
    if (!s) return -EINVAL;
    if (memchr(s, 0, len)) return bad(c, "%s\"%s\" holds a NUL byte", in, key);
    *out = strdup(s);
    return *out ? 0 : -ENOMEM;
}

/* Seconds as written with %.6f or %.9f back to ns. */
static int secs_ns(struct rd *c, const struct spate_json *o, const char *in, const char *key,
                   uint64_t *out)
{
    double s;
    if (dbl(c, o, in, key, &s)) return -EINVAL;
    if (s > 1e9) return bad(c, "%s\"%s\" is beyond 31 years", in, key);
    *out = (uint64_t)(s * 1e9 + 0.5);
    return 0;
}

/* ---------- the test and the piece ---------- */

static int test(struct rd *c, const struct spate_json *j, struct spate_bench_read *r)
{
    const char *in = "\"test\".";
    struct spate_bench_test *x = &r->set.test;
    const struct spate_json *t = member(c, j, "", "test", SPATE_JSON_OBJECT);
    uint64_t conns;
    size_t ml;
    if (!t || str(c, t, in, "url", &r->url) || str(c, t, in, "method", &r->method) ||
        dbl(c, t, in, "rate", &x->rate) || u64(c, t, in, "connections", &conns) ||
        u64(c, t, in, "requests", &x->requests) || dbl(c, t, in, "duration", &x->duration) ||
        u64(c, t, in, "timeout_ns", &x->timeout_ns) ||
        u64(c, t, in, "max_errors", &x->max_errors) || flag(c, t, in, "no_fail", &x->no_fail))
        return -EINVAL;
    const char *model = spate_json_str(member(c, t, in, "model", SPATE_JSON_STRING), &ml);
    if (!model) return -EINVAL;
    if (strcmp(model, x->rate > 0 ? "open" : "closed"))
        return bad(c, "\"test\".\"model\" \"%.10s\" does not fit rate %g", model, x->rate);
    if (!conns || conns > 10000000) return bad(c, "\"test\".\"connections\" is out of range");
    x->connections = (unsigned)conns;
    x->url = r->url;
    x->method = r->method;
    return 0;
}

static int piece(struct rd *c, const struct spate_json *j, struct spate_bench_read *r)
{
    const struct spate_json *p = member(c, j, "", "piece", SPATE_JSON_OBJECT);
    uint64_t k, n, procs;
    if (!p || u64(c, p, "\"piece\".", "k", &k) || u64(c, p, "\"piece\".", "n", &n) ||
        u64(c, j, "", "procs", &procs))
        return -EINVAL;
    /* 0/0: a merge whose parts are not one piece; allowed only with the parts (checked later) */
    if ((k || n) && (n < 1 || n > SPATE_SPLIT_MAX_N || k >= n))
        return bad(c, "\"piece\" %llu/%llu is not a piece (K/N with K < N <= %u)",
                   (unsigned long long)k, (unsigned long long)n, SPATE_SPLIT_MAX_N);
    if (procs < 1 || procs > SPATE_SPLIT_MAX_N) return bad(c, "\"procs\" is out of range");
    r->set.piece.k = (unsigned)k;
    r->set.piece.n = (unsigned)n;
    r->set.procs = (unsigned)procs;
    return 0;
}

/* ---------- counts ---------- */

static int statuses(struct rd *c, const struct spate_json *j, struct spate_bench_tally *t)
{
    const struct spate_json *o = member(c, j, "", "status", SPATE_JSON_OBJECT);
    if (!o) return -EINVAL;
    for (size_t i = 0; i < spate_json_count(o); i++) {
        const char *key;
        uint64_t n;
        const struct spate_json *v = spate_json_at(o, i, &key);
        char *end;
        long st = strtol(key, &end, 10);
        int idx = !strcmp(key, "other") ? 0 : (*end || st < 1 || st > 599) ? -1 : (int)st;
        if (idx < 0) return bad(c, "\"status\": \"%.20s\" is not a status 1 to 599 or other", key);
        if (spate_json_u64(v, &n) || !n)
            return bad(c, "\"status\".\"%s\" is not a whole number > 0", key);
        if (t->status[idx]) return bad(c, "\"status\".\"%s\" appears twice", key);
        t->status[idx] = n;
    }
    return 0;
}

static int kind_of(const char *name)
{
    for (int k = 1; k < SPATE_BENCH_KINDS; k++)
        if (!strcmp(spate_error_kind_name(k), name)) return k;
    return -1;
}

static int causes(struct rd *c, const struct spate_json *a, const char *in, int k, uint64_t count,
                  struct spate_bench_errors *e)
{
    uint64_t kept = 0;
    for (size_t i = 0; i < spate_json_count(a); i++) {
        const struct spate_json *x = spate_json_at(a, i, NULL);
        uint64_t n;
        size_t len;
        const char *msg = spate_json_str(member(c, x, in, "message", SPATE_JSON_STRING), &len);
        if (!msg || u64(c, x, in, "count", &n)) return -EINVAL;
        if (!n || n > count - kept) return bad(c, "%s causes do not add up to its count", in);
        kept += n;
        spate_bench_errors_add(e, k, msg, n);
    }
    if (count > kept) spate_bench_errors_add(e, k, NULL, count - kept);
    return 0;
}

static int errors(struct rd *c, const struct spate_json *j, const char *key,
                  struct spate_bench_errors *e)
{
    const struct spate_json *o = member(c, j, "", key, SPATE_JSON_OBJECT);
    if (!o) return -EINVAL;
    for (size_t i = 0; i < spate_json_count(o); i++) {
        const char *name;
        const struct spate_json *v = spate_json_at(o, i, &name);
        char in[64];
        uint64_t count;
        int k = kind_of(name);
        snprintf(in, sizeof(in), "\"%s\".\"%.20s\".", key, name);
        if (k < 0) return bad(c, "\"%s\": \"%.20s\" is not an error kind", key, name);
        if (e->by_kind[k]) return bad(c, "\"%s\".\"%s\" appears twice", key, name);
        const struct spate_json *a = member(c, v, in, "causes", SPATE_JSON_ARRAY);
        if (!a || u64(c, v, in, "count", &count)) return -EINVAL;
        if (!count) return bad(c, "%s\"count\" is 0", in);
        if (causes(c, a, in, k, count, e)) return -EINVAL;
    }
    return 0;
}

/* The engine's figures, as spate_bench_json wrote them. */
static int figures(struct rd *c, const struct spate_json *j, struct spate_load_report *r)
{
    uint64_t conns;
    int measured, interrupted;
    if (u64(c, j, "", "connections", &conns) ||
        u64(c, j, "", "connections_up", &r->connections_up) ||
        secs_ns(c, j, "", "setup_seconds", &r->setup_ns) || flag(c, j, "", "measured", &measured) ||
        secs_ns(c, j, "", "duration", &r->elapsed_ns) || u64(c, j, "", "requests", &r->finished) ||
        u64(c, j, "", "sent", &r->sent) || u64(c, j, "", "responses", &r->responses) ||
        u64(c, j, "", "connections_requested", &r->connections_requested) ||
        u64(c, j, "", "connections_established", &r->connections_established) ||
        u64(c, j, "", "reconnects", &r->reconnects) ||
        secs_ns(c, j, "", "max_lag", &r->max_lag_ns) ||
        u64(c, j, "", "late_sends", &r->late_sends) ||
        u64(c, j, "", "unfinished", &r->unfinished) || u64(c, j, "", "unsent", &r->unsent) ||
        secs_ns(c, j, "", "oldest_outstanding", &r->oldest_ns) ||
        flag(c, j, "", "interrupted", &interrupted))
        return -EINVAL;
    r->connections_wanted = conns;
    r->measuring = measured;
    r->interrupted = interrupted;
    return 0;
}

static int period(struct rd *c, const struct spate_json *j, struct spate_bench_read *r)
{
    const char *in = "\"period\".";
    const struct spate_json *p = member(c, j, "", "period", SPATE_JSON_OBJECT);
    const struct spate_json *at = p ? spate_json_get(p, "start_at") : NULL;
    if (!p || dbl(c, p, in, "start", &r->rep.start_unix) || dbl(c, p, in, "end", &r->end) ||
        secs_ns(c, p, in, "late_s", &r->rep.late_ns) || u64(c, p, in, "skipped", &r->rep.skipped))
        return -EINVAL;
    if (!at) return bad(c, "\"period\".\"start_at\" is missing");
    if (spate_json_type(at) != SPATE_JSON_NULL && dbl(c, p, in, "start_at", &r->set.start_at))
        return -EINVAL;
    if (r->end < r->rep.start_unix) return bad(c, "\"period\" ends before it starts");
    return 0;
}

static int signal_of(struct rd *c, const struct spate_json *j, int *sig)
{
    const struct spate_json *v = spate_json_get(j, "signal");
    size_t len;
    const char *s = v ? spate_json_str(v, &len) : NULL;
    *sig = 0;
    if (!v) return bad(c, "\"signal\" is missing");
    if (spate_json_type(v) == SPATE_JSON_NULL) return 0;
    if (s && !strcmp(s, "SIGINT")) *sig = SIGINT;
    if (s && !strcmp(s, "SIGTERM")) *sig = SIGTERM;
    return *sig ? 0 : bad(c, "\"signal\" is not null, \"SIGINT\" or \"SIGTERM\"");
}

/* ---------- the parts a --procs report or a merge adds up ---------- */

static int part_piece(struct rd *c, const struct spate_json *x, const char *in,
                      struct spate_split *out)
{
    char pin[80];
    uint64_t k, n;
    snprintf(pin, sizeof(pin), "%s\"piece\".", in);
    const struct spate_json *p = member(c, x, in, "piece", SPATE_JSON_OBJECT);
    if (!p || u64(c, p, pin, "k", &k) || u64(c, p, pin, "n", &n)) return -EINVAL;
    if (n < 1 || n > SPATE_SPLIT_MAX_N || k >= n)
        return bad(c, "%s\"piece\" %llu/%llu is not a piece", in, (unsigned long long)k,
                   (unsigned long long)n);
    out->k = (unsigned)k;
    out->n = (unsigned)n;
    return 0;
}

/* One part as json_part wrote it; its late_s is not read: the merge recomputes it against its
 * own planned start. */
static int part(struct rd *c, const struct spate_json *x, const char *in,
                struct spate_bench_part *p)
{
    uint64_t pid;
    const struct spate_json *lost = spate_json_get(x, "lost");
    if (!lost) return bad(c, "%s\"lost\" is missing", in);
    if (spate_json_type(lost) != SPATE_JSON_NULL && str(c, x, in, "lost", &p->fate)) return -EINVAL;
    if (str(c, x, in, "name", &p->name) || u64(c, x, in, "pid", &pid) ||
        part_piece(c, x, in, &p->piece) || dbl(c, x, in, "start", &p->start) ||
        dbl(c, x, in, "end", &p->end) || u64(c, x, in, "skipped", &p->skipped) ||
        u64(c, x, in, "requests", &p->requests) || u64(c, x, in, "responses", &p->responses) ||
        u64(c, x, in, "errors", &p->errors) || u64(c, x, in, "failed", &p->failed) ||
        u64(c, x, in, "connections", &p->connections) ||
        u64(c, x, in, "connections_up", &p->connections_up) || dbl(c, x, in, "rps", &p->rps))
        return -EINVAL;
    if (pid > 0x7fffffff) return bad(c, "%s\"pid\" is out of range", in);
    p->pid = (int)pid;
    if (!p->fate && p->end < p->start) return bad(c, "%s ends before it starts", in);
    return 0;
}

/* Far above any real cluster's processes; bounded because a merge checks every pair of parts
 * for overlap. */
#define MAX_PARTS 65536u

/* "workers" (a --procs report) or "pieces" (a merge), at most one; absent in one process's. */
static int parts(struct rd *c, const struct spate_json *j, struct spate_bench_parts *ps)
{
    const char *kind = spate_json_get(j, "workers") ? "workers" : "pieces";
    if (spate_json_get(j, "workers") && spate_json_get(j, "pieces"))
        return bad(c, "both \"workers\" and \"pieces\": one report adds up one kind of parts");
    ps->kind = kind;
    if (!spate_json_get(j, kind)) return 0;
    const struct spate_json *a = member(c, j, "", kind, SPATE_JSON_ARRAY);
    if (!a) return -EINVAL;
    size_t n = spate_json_count(a);
    if (!n || n > MAX_PARTS)
        return bad(c, "\"%s\" holds %zu parts, not 1 to %u", kind, n, MAX_PARTS);
    ps->v = calloc(n, sizeof(*ps->v));
    if (!ps->v) return -ENOMEM;
    ps->n = n; /* every entry zeroed: spate_bench_parts_fini frees what was read */
    for (size_t i = 0; i < n; i++) {
        char in[64];
        const struct spate_json *x = spate_json_at(a, i, NULL);
        if (spate_json_type(x) != SPATE_JSON_OBJECT)
            return bad(c, "\"%s\"[%zu] is not an object", kind, i);
        snprintf(in, sizeof(in), "\"%s\"[%zu].", kind, i);
        int rc = part(c, x, in, &ps->v[i]);
        if (rc) return rc;
    }
    return 0;
}

/* The parts that reported must add up to the totals, as the figures to the histogram. */
static int parts_add_up(struct rd *c, const struct spate_bench_read *r)
{
    const struct spate_bench_parts *p = &r->parts;
    uint64_t req = 0, resp = 0, errs = 0;
    if (!p->n) {
        if (!r->set.piece.n)
            return bad(c, "\"piece\" 0/0 is not a piece (only a report with \"pieces\" or "
                          "\"workers\" may cover no one piece)");
        return 0;
    }
    for (size_t i = 0; i < p->n; i++)
        if (!p->v[i].fate) {
            req += p->v[i].requests;
            resp += p->v[i].responses;
            errs += p->v[i].errors;
        }
    if (req != r->rep.finished)
        return bad(c, "\"%s\" add up to %llu requests, not \"requests\" %llu", p->kind,
                   (unsigned long long)req, (unsigned long long)r->rep.finished);
    if (resp != r->t.responses || errs != r->t.errors.total)
        return bad(c, "\"%s\" add up to %llu responses and %llu errors, not %llu and %llu", p->kind,
                   (unsigned long long)resp, (unsigned long long)errs,
                   (unsigned long long)r->t.responses, (unsigned long long)r->t.errors.total);
    return 0;
}

/* The totals must agree with the parts they sum, or the file was edited or cut. */
static int consistent(struct rd *c, const struct spate_bench_read *r, uint64_t failed,
                      uint64_t errs)
{
    const struct spate_bench_tally *t = &r->t;
    uint64_t st = 0;
    for (int i = 0; i < 600; i++)
        st += t->status[i];
    if (t->hist.count != t->responses)
        return bad(c, "the histogram holds %llu values but \"responses\" is %llu",
                   (unsigned long long)t->hist.count, (unsigned long long)t->responses);
    if (st != t->responses)
        return bad(c, "\"status\" adds up to %llu, not \"responses\" %llu", (unsigned long long)st,
                   (unsigned long long)t->responses);
    if (errs != t->errors.total)
        return bad(c, "\"errors_by_kind\" adds up to %llu, not \"errors\" %llu",
                   (unsigned long long)t->errors.total, (unsigned long long)errs);
    if (failed < errs || failed - errs > t->responses)
        return bad(c, "\"failed\" %llu does not fit \"errors\" and \"responses\"",
                   (unsigned long long)failed);
    if (r->rep.finished != t->responses + errs || r->rep.responses != t->responses)
        return bad(c, "\"requests\" %llu is not \"responses\" plus \"errors\"",
                   (unsigned long long)r->rep.finished);
    return 0;
}

static int body(struct rd *c, const struct spate_json *j, struct spate_bench_read *r)
{
    uint64_t failed, errs;
    char herr[200];
    if (spate_json_type(j) != SPATE_JSON_OBJECT) return bad(c, "not a JSON object");
    if (test(c, j, r) || piece(c, j, r) || figures(c, j, &r->rep) || period(c, j, r) ||
        signal_of(c, j, &r->sig) || dbl(c, j, "", "rate", &r->set.rate) ||
        u64(c, j, "", "responses", &r->t.responses) || u64(c, j, "", "bytes", &r->t.bytes) ||
        u64(c, j, "", "failed", &failed) || u64(c, j, "", "errors", &errs) ||
        statuses(c, j, &r->t) || errors(c, j, "errors_by_kind", &r->t.errors) ||
        errors(c, j, "setup_errors", &r->t.setup))
        return -EINVAL;
    const struct spate_json *h = member(c, j, "", "histogram", SPATE_JSON_OBJECT);
    if (!h) return -EINVAL;
    if (spate_hist_read_json(&r->t.hist, h, herr, sizeof(herr)))
        return bad(c, "%s", herr); /* "histogram: ..." */
    r->t.bad_status = failed >= errs ? failed - errs : 0;
    if (consistent(c, r, failed, errs)) return -EINVAL;
    int rc = parts(c, j, &r->parts);
    return rc ? rc : parts_add_up(c, r);
}

static void setup_from_test(struct spate_bench_read *r)
{
    struct spate_bench_setup *s = &r->set;
    s->url = s->test.url;
    s->connections = (unsigned)r->rep.connections_wanted;
    s->requests = 0;
    if (s->piece.n)
        s->requests = spate_split_share(s->test.requests, s->piece);
    else /* no one piece: the sum of the parts' shares */
        for (size_t i = 0; i < r->parts.n; i++)
            if (!r->parts.v[i].fate)
                s->requests += spate_split_share(s->test.requests, r->parts.v[i].piece);
    s->duration = s->test.duration;
    s->timeout_ns = s->test.timeout_ns;
    s->max_errors = s->test.max_errors;
    s->no_fail = s->test.no_fail;
}

int spate_bench_read(struct spate_bench_read *r, const char *text, size_t len, char *err,
                     size_t errlen)
{
    struct rd c = {err, errlen};
    struct spate_json *j = NULL;
    memset(r, 0, sizeof(*r));
    spate_hist_init(&r->t.hist);
    if (err && errlen) err[0] = 0;
    int rc = spate_json_parse(text, len, &j, err, errlen);
    if (rc == -EINVAL && err && errlen) {
        char m[200];
        snprintf(m, sizeof(m), "%s", err);
        snprintf(err, errlen, "not JSON: %s", m);
    }
    if (!rc) rc = body(&c, j, r);
    spate_json_free(j);
    if (rc) {
        if (rc == -ENOMEM && err && errlen) snprintf(err, errlen, "out of memory");
        spate_bench_read_fini(r);
        return rc;
    }
    setup_from_test(r);
    return 0;
}

void spate_bench_read_fini(struct spate_bench_read *r)
{
    spate_bench_tally_fini(&r->t);
    spate_bench_parts_fini(&r->parts);
    free(r->url);
    free(r->method);
    r->url = r->method = NULL;
}
