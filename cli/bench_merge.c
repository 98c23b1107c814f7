/* Merging the reports of one test's pieces (see bench_merge.h). */
#include "bench_merge.h"
#include "errmsg.h"
#include "text.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

void spate_bench_merge_init(struct spate_bench_merge *m, const char *kind)
{
    memset(m, 0, sizeof(*m));
    spate_hist_init(&m->t.hist);
    m->parts.kind = kind;
}

void spate_bench_merge_fini(struct spate_bench_merge *m)
{
    spate_bench_tally_fini(&m->t);
    spate_bench_parts_fini(&m->parts);
    free(m->url);
    free(m->method);
    m->url = m->method = NULL;
}

/* The first field in which two tests differ, "" when they are the same test. */
static const char *differs(const struct spate_bench_test *a, const struct spate_bench_test *b,
                           char *buf, size_t len)
{
    if (strcmp(a->url, b->url))
        snprintf(buf, len, "URL %.200s, not %.200s", b->url, a->url);
    else if (strcmp(a->method, b->method))
        snprintf(buf, len, "method %.40s, not %.40s", b->method, a->method);
    else if ((a->rate > 0) != (b->rate > 0))
        snprintf(buf, len, "the %s model, not the %s one", b->rate > 0 ? "open" : "closed",
                 a->rate > 0 ? "open" : "closed");
    else if (a->rate != b->rate)
        snprintf(buf, len, "rate %g, not %g", b->rate, a->rate);
    else if (a->connections != b->connections)
        snprintf(buf, len, "%u connections, not %u", b->connections, a->connections);
    else if (a->requests != b->requests)
        snprintf(buf, len, "-n %llu, not %llu", (unsigned long long)b->requests,
                 (unsigned long long)a->requests);
    else if (a->duration != b->duration)
        snprintf(buf, len, "duration %g s, not %g s", b->duration, a->duration);
    else if (a->timeout_ns != b->timeout_ns)
        snprintf(buf, len, "--timeout %g s, not %g s", (double)b->timeout_ns / 1e9,
                 (double)a->timeout_ns / 1e9);
    else if (a->max_errors != b->max_errors)
        snprintf(buf, len, "--max-errors %llu, not %llu", (unsigned long long)b->max_errors,
                 (unsigned long long)a->max_errors);
    else if (a->no_fail != b->no_fail)
        snprintf(buf, len, "%s --no-fail", b->no_fail ? "with" : "without");
    else
        buf[0] = 0;
    return buf;
}

static unsigned gcd(unsigned a, unsigned b)
{
    while (b) {
        unsigned t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Pieces k1/n1 and k2/n2 share a slot exactly when k1 and k2 agree modulo gcd(n1, n2). */
static int overlap(struct spate_split a, struct spate_split b)
{
    if (a.n == b.n) return a.k == b.k; /* the usual case, without a division loop */
    unsigned g = gcd(a.n, b.n);
    return a.k % g == b.k % g;
}

static struct spate_bench_part *new_part(struct spate_bench_merge *m, const char *name, int pid)
{
    size_t n = m->parts.n;
    if (!(n & (n - 1))) { /* 0 or a power of two: full; doubling keeps tens of thousands cheap */
        struct spate_bench_part *v = realloc(m->parts.v, (n ? 2 * n : 1) * sizeof(*v));
        if (!v) return NULL;
        m->parts.v = v;
    }
    struct spate_bench_part *v = m->parts.v;
    struct spate_bench_part *x = &v[m->parts.n];
    memset(x, 0, sizeof(*x));
    x->name = strdup(name);
    if (!x->name) return NULL;
    x->pid = pid;
    m->parts.n++;
    return x;
}

/* "ab.json: a.json": a part that came through a merged report, named with that report. */
static const char *who(char *buf, size_t len, const char *outer, const char *inner)
{
    snprintf(buf, len, inner ? "%s: %s" : "%s", outer, inner);
    return buf;
}

/* Refuses piece p of the part called name when it shares a slot with a reported part in v[0..n). */
static int refuse_overlap(const struct spate_bench_part *v, size_t n, const char *vprefix,
                          const char *name, struct spate_split p, char *err, size_t errlen)
{
    char other[400];
    for (size_t i = 0; i < n; i++)
        if (!v[i].fate && overlap(v[i].piece, p))
            return spate_errmsg(err, errlen,
                                "%s is piece %u/%u of the test, which overlaps piece %u/%u of %s "
                                "(the same share of the test twice)",
                                name, p.k, p.n, v[i].piece.k, v[i].piece.n,
                                who(other, sizeof(other), vprefix ? vprefix : v[i].name,
                                    vprefix ? v[i].name : NULL));
    return 0;
}

/* Report r must be of the test added so far, and each of its pieces (its own, or those of the
 * parts it adds up, which may have come through merges of their own) must be new: a piece
 * reached twice, directly or through two merged reports, would be counted twice. */
static int check(struct spate_bench_merge *m, const struct spate_bench_read *r, const char *name,
                 char *err, size_t errlen)
{
    char why[480], me[400];
    if (m->have && *differs(&m->set.test, &r->set.test, why, sizeof(why)))
        return spate_errmsg(err, errlen, "%s is a report of another test than %s: %s", name,
                            m->parts.v[0].name, why);
    if (!r->parts.n)
        return refuse_overlap(m->parts.v, m->parts.n, NULL, name, r->set.piece, err, errlen);
    for (size_t i = 0; i < r->parts.n; i++) {
        const struct spate_bench_part *x = &r->parts.v[i];
        if (x->fate) continue;
        who(me, sizeof(me), name, x->name);
        int rc = refuse_overlap(m->parts.v, m->parts.n, NULL, me, x->piece, err, errlen);
        if (!rc) rc = refuse_overlap(r->parts.v, i, name, me, x->piece, err, errlen);
        if (rc) return rc;
    }
    return 0;
}

static int adopt_test(struct spate_bench_merge *m, const struct spate_bench_read *r)
{
    m->url = strdup(r->url);
    m->method = strdup(r->method);
    if (!m->url || !m->method) return -ENOMEM;
    m->set = r->set;
    m->set.test.url = m->set.url = m->url;
    m->set.test.method = m->method;
    m->start = r->rep.start_unix;
    m->end = r->end;
    m->have = 1;
    return 0;
}

static void add_figures(struct spate_load_report *d, const struct spate_load_report *s)
{
    d->connections_wanted += s->connections_wanted;
    d->connections_up += s->connections_up;
    d->setup_failed += s->setup_failed;
    if (s->setup_ns > d->setup_ns) d->setup_ns = s->setup_ns;
    d->measuring |= s->measuring;
    d->interrupted |= s->interrupted;
    d->sent += s->sent;
    d->finished += s->finished;
    d->responses += s->responses;
    d->connections_requested += s->connections_requested;
    d->connections_established += s->connections_established;
    d->reconnects += s->reconnects;
    if (s->max_lag_ns > d->max_lag_ns) d->max_lag_ns = s->max_lag_ns;
    d->late_sends += s->late_sends;
    d->unfinished += s->unfinished;
    d->unsent += s->unsent;
    if (s->oldest_ns > d->oldest_ns) d->oldest_ns = s->oldest_ns;
    d->skipped += s->skipped;
}

/* Adds report r as one part: it is one process's report. */
static int add_whole(struct spate_bench_merge *m, const struct spate_bench_read *r,
                     const char *name, int pid)
{
    struct spate_bench_part *x = new_part(m, name, pid);
    if (!x) return -ENOMEM;
    x->piece = r->set.piece;
    x->start = r->rep.start_unix;
    x->end = r->end;
    x->skipped = r->rep.skipped;
    x->requests = r->rep.finished;
    x->responses = r->t.responses;
    x->errors = r->t.errors.total;
    x->failed = r->t.errors.total + r->t.bad_status;
    x->connections = r->rep.connections_wanted;
    x->connections_up = r->rep.connections_up;
    x->rps = r->rep.elapsed_ns ? (double)r->t.responses * 1e9 / (double)r->rep.elapsed_ns : 0;
    return 0;
}

/* Adds the parts report r adds up (a --procs report's workers, a merge's pieces) as parts of
 * their own, so that the merge of merges lists, checks and times the original pieces exactly as
 * one merge of them all would. */
static int add_inner(struct spate_bench_merge *m, const struct spate_bench_read *r,
                     const char *name)
{
    char nm[1024];
    for (size_t i = 0; i < r->parts.n; i++) {
        const struct spate_bench_part *s = &r->parts.v[i];
        int len = snprintf(NULL, 0, "%s: %s", name, s->name);
        char *big = (size_t)len < sizeof(nm) ? nm : malloc((size_t)len + 1);
        if (!big) return -ENOMEM;
        snprintf(big, (size_t)len + 1, "%s: %s", name, s->name);
        struct spate_bench_part *x = new_part(m, big, s->pid);
        if (big != nm) free(big);
        if (!x) return -ENOMEM;
        char *keep = x->name;
        *x = *s; /* the figures as they were reported */
        x->name = keep;
        x->late_s = 0; /* against this merge's planned start, on finishing */
        x->fate = s->fate ? strdup(s->fate) : NULL;
        if (s->fate && !x->fate) return -ENOMEM;
    }
    return 0;
}

int spate_bench_merge_add(struct spate_bench_merge *m, const struct spate_bench_read *r,
                          const char *name, int pid, char *err, size_t errlen)
{
    int rc = check(m, r, name, err, errlen);
    if (rc) return rc;
    int first = !m->have;
    if (first && adopt_test(m, r)) return spate_errmsg(err, errlen, "out of memory"), -ENOMEM;
    if (r->parts.n ? add_inner(m, r, name) : add_whole(m, r, name, pid))
        return spate_errmsg(err, errlen, "out of memory"), -ENOMEM;
    if (r->rep.start_unix < m->start) m->start = r->rep.start_unix;
    if (r->end > m->end) m->end = r->end;
    if (!m->sig) m->sig = r->sig;
    if (r->set.start_at != m->set.start_at) m->set.start_at = 0; /* no common planned start */
    if (!first) m->set.procs += r->set.procs;
    add_figures(&m->rep, &r->rep);
    spate_bench_tally_merge(&m->t, &r->t);
    return 0;
}

int spate_bench_merge_lost(struct spate_bench_merge *m, const char *name, int pid,
                           struct spate_split piece, const char *fate)
{
    struct spate_bench_part *x = new_part(m, name, pid);
    if (!x) return -ENOMEM;
    x->piece = piece;
    x->fate = strdup(fate);
    return x->fate ? 0 : -ENOMEM;
}

/* ---------- which share of the test the parts cover ---------- */

/* The parts (disjoint, checked on adding) cover one piece k/d exactly when every one lies in the
 * class k mod d and their shares add up to 1/d. */
static int covered(const struct spate_bench_parts *p, struct spate_split *out, double *share)
{
    unsigned g = 0;
    u128 l = 1;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].fate) continue;
        g = gcd(g, p->v[i].piece.n);
        l = l / gcd((unsigned)(l % p->v[i].piece.n), p->v[i].piece.n) * p->v[i].piece.n;
        if (l > ((u128)1 << 64)) return -1; /* no real test is cut this finely */
    }
    u128 sum = 0; /* the shares in units of 1/l */
    *share = 0;
    for (size_t i = 0; i < p->n; i++)
        if (!p->v[i].fate) {
            sum += l / p->v[i].piece.n;
            *share += 1.0 / p->v[i].piece.n;
        }
    for (unsigned d = 1; g && d <= g; d++) {
        if (g % d || sum * d != l) continue;
        size_t i = 0;
        unsigned k = 0;
        int first = 1, same = 1;
        for (; i < p->n; i++) {
            if (p->v[i].fate) continue;
            if (first) k = p->v[i].piece.k % d, first = 0;
            same &= p->v[i].piece.k % d == k;
        }
        if (!same) continue;
        out->k = k;
        out->n = d;
        return 0;
    }
    return -1;
}

/* What is missing when the parts are not one piece: the absent pieces when all are k/N of one N,
 * else the share covered. */
static int describe_missing(const struct spate_bench_parts *p, double share, char **out)
{
    struct spate_text b;
    unsigned n = 0;
    int same_n = 1;
    spate_text_init(&b);
    for (size_t i = 0; i < p->n; i++)
        if (!p->v[i].fate) {
            if (n && p->v[i].piece.n != n) same_n = 0;
            n = p->v[i].piece.n;
        }
    int rc = 0;
    if (same_n && n && n <= 64) {
        rc = spate_text_adds(&b, "no report of piece(s)");
        for (unsigned k = 0; k < n && !rc; k++) {
            int have = 0;
            for (size_t i = 0; i < p->n; i++)
                have |= !p->v[i].fate && p->v[i].piece.k == k;
            if (!have) rc = spate_text_printf(&b, " %u/%u", k, n);
        }
    } else {
        rc = spate_text_printf(&b, "the pieces cover %.4g%% of the test", share * 100);
    }
    *out = rc ? NULL : spate_text_take(&b);
    spate_text_fini(&b);
    return *out ? 0 : -ENOMEM;
}

int spate_bench_merge_finish(struct spate_bench_merge *m)
{
    if (!m->have) return 0;
    struct spate_bench_setup *s = &m->set;
    double planned = s->start_at > 0 ? s->start_at : m->start;
    for (size_t i = 0; i < m->parts.n; i++) {
        struct spate_bench_part *x = &m->parts.v[i];
        if (!x->fate) x->late_s = x->start > planned ? x->start - planned : 0;
    }
    m->rep.start_unix = m->start;
    m->rep.late_ns = 0; /* lateness is each part's, named with it */
    double len = m->end > m->start ? m->end - m->start : 0;
    m->rep.elapsed_ns = (uint64_t)(len * 1e9 + 0.5);
    s->connections = s->test.connections;
    s->requests = s->test.requests;
    s->rate = s->test.rate;
    if (!s->procs) s->procs = 1;
    double share = 0;
    if (covered(&m->parts, &s->piece, &share) == 0) {
        if (s->piece.n == 1) return 0;
        s->connections = (unsigned)spate_split_share(s->test.connections, s->piece);
        s->requests = spate_split_share(s->test.requests, s->piece);
        s->rate = s->test.rate / s->piece.n;
        char buf[96];
        snprintf(buf, sizeof(buf), "only piece %u/%u of the test", s->piece.k, s->piece.n);
        m->parts.missing = strdup(buf);
        return m->parts.missing ? 0 : -ENOMEM;
    }
    /* not one piece: the settings are the sums of the reported parts' shares, so that the
     * verdict and a later merge of this report see what these parts were asked to do */
    s->piece.k = s->piece.n = 0;
    unsigned conns = 0;
    uint64_t reqs = 0;
    double part_share = 0;
    for (size_t i = 0; i < m->parts.n; i++) {
        const struct spate_bench_part *x = &m->parts.v[i];
        if (x->fate) continue;
        conns += (unsigned)spate_split_share(s->test.connections, x->piece);
        reqs += spate_split_share(s->test.requests, x->piece);
        part_share += 1.0 / x->piece.n;
    }
    if (part_share > 0) { /* else nothing reported: the test's own settings */
        s->connections = conns;
        s->requests = reqs;
        s->rate = s->test.rate * part_share;
    }
    return describe_missing(&m->parts, share, &m->parts.missing);
}
