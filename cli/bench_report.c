/* `spate bench` reports: the tally of samples, the verdict and the text and JSON renderings. */
#include "bench_report.h"
#include "json.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

void spate_bench_errors_add(struct spate_bench_errors *e, enum spate_error_kind k, const char *msg,
                            uint64_t n)
{
    struct spate_bench_cause *v = e->causes[k];
    e->total += n;
    e->by_kind[k] += n;
    for (int i = 0; msg && i < SPATE_BENCH_CAUSES; i++) {
        if (v[i].msg && !strcmp(v[i].msg, msg)) {
            v[i].count += n;
            return;
        }
        if (!v[i].msg) {
            v[i].msg = strdup(msg); /* out of memory: counted under "other causes" */
            if (!v[i].msg) break;
            v[i].count = n;
            return;
        }
    }
    e->other[k] += n;
}

void spate_bench_errors_note(struct spate_bench_errors *e, enum spate_error_kind k, const char *msg)
{
    spate_bench_errors_add(e, k, msg, 1);
}

void spate_bench_errors_merge(struct spate_bench_errors *dst, const struct spate_bench_errors *src)
{
    for (int k = 0; k < SPATE_BENCH_KINDS; k++) {
        uint64_t kept = 0;
        for (int i = 0; i < SPATE_BENCH_CAUSES && src->causes[k][i].msg; i++) {
            spate_bench_errors_add(dst, k, src->causes[k][i].msg, src->causes[k][i].count);
            kept += src->causes[k][i].count;
        }
        if (src->by_kind[k] > kept) spate_bench_errors_add(dst, k, NULL, src->by_kind[k] - kept);
    }
}

void spate_bench_tally_merge(struct spate_bench_tally *dst, const struct spate_bench_tally *src)
{
    spate_hist_merge(&dst->hist, &src->hist);
    dst->responses += src->responses;
    dst->bad_status += src->bad_status;
    dst->bytes += src->bytes;
    for (int i = 0; i < 600; i++)
        dst->status[i] += src->status[i];
    spate_bench_errors_merge(&dst->errors, &src->errors);
    spate_bench_errors_merge(&dst->setup, &src->setup);
}

void spate_bench_tally_fini(struct spate_bench_tally *t)
{
    spate_bench_errors_fini(&t->errors);
    spate_bench_errors_fini(&t->setup);
}

void spate_bench_parts_fini(struct spate_bench_parts *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].fate);
    }
    free(p->v);
    free(p->missing);
    p->v = NULL;
    p->missing = NULL;
    p->n = 0;
}

void spate_bench_errors_fini(struct spate_bench_errors *e)
{
    for (int k = 0; k < SPATE_BENCH_KINDS; k++)
        for (int i = 0; i < SPATE_BENCH_CAUSES; i++) {
            free(e->causes[k][i].msg);
            e->causes[k][i].msg = NULL;
        }
}

int spate_bench_judge(const struct spate_bench_setup *s, const struct spate_bench_tally *t,
                      const struct spate_load_report *r, const struct spate_bench_parts *p,
                      struct spate_bench_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->failed = t->errors.total + t->bad_status;
    v->too_many_failed = v->failed > s->max_errors;
    v->conns_wanted = s->connections;
    if (s->requests && s->requests < v->conns_wanted) v->conns_wanted = s->requests;
    v->conns_short = r->connections_up < v->conns_wanted;
    v->stale_outstanding = s->rate > 0 && s->timeout_ns && (r->unfinished || r->unsent) &&
                           r->oldest_ns > s->timeout_ns;
    for (size_t i = 0; p && i < p->n; i++)
        v->parts_lost += p->v[i].fate != NULL;
    return v->too_many_failed || v->conns_short || v->stale_outstanding || v->parts_lost;
}

/* ---------- text ---------- */

static void fmt_dur(char *buf, size_t len, double ns)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.2fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, len, "%.2fms", ns / 1e6);
    else
        snprintf(buf, len, "%.3fs", ns / 1e9);
}

void spate_bench_fmt_rate(char *buf, size_t len, double bps)
{
    static const char *const units[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
    int u = 0;
    while (bps >= 1000 && u < 4) {
        bps /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", bps, units[u]);
}

/* 1234567 as "1,234,567": counts in a report are read by people. */
static const char *num(char *buf, size_t len, uint64_t v)
{
    char d[24];
    int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = d[i];
    }
    buf[o] = 0;
    return buf;
}

static double per_sec(uint64_t count, uint64_t ns)
{
    return ns ? (double)count * 1e9 / (double)ns : 0.0;
}

static const double pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};

static void text_errors(FILE *f, const char *title, const struct spate_bench_errors *e)
{
    char a[32];
    for (int k = 1; k < SPATE_BENCH_KINDS; k++) {
        if (!e->by_kind[k]) continue;
        fprintf(f, "  %-12s %s: %s\n", title, spate_error_kind_name(k),
                num(a, sizeof(a), e->by_kind[k]));
        for (int i = 0; i < SPATE_BENCH_CAUSES && e->causes[k][i].msg; i++)
            fprintf(f, "                 %s x %s\n", num(a, sizeof(a), e->causes[k][i].count),
                    e->causes[k][i].msg);
        if (e->other[k])
            fprintf(f, "                 %s x other causes\n", num(a, sizeof(a), e->other[k]));
    }
}

static void text_head(FILE *f, const struct spate_bench_setup *s, const struct spate_load_report *r,
                      const struct spate_bench_verdict *v)
{
    char a[32], b[32], d[32];
    fprintf(f, "spate bench %s\n  %s connections, %s model", s->url,
            num(a, sizeof(a), v->conns_wanted), s->rate > 0 ? "open" : "closed");
    if (s->rate > 0) fprintf(f, " at %.0f req/s", s->rate);
    if (s->duration > 0) fprintf(f, ", %.3g s", s->duration);
    if (s->requests) fprintf(f, ", %s requests", num(b, sizeof(b), s->requests));
    fmt_dur(d, sizeof(d), (double)r->setup_ns);
    fprintf(f, "\n  set-up       %s of %s connections up in %s%s\n",
            num(a, sizeof(a), r->connections_up), num(b, sizeof(b), v->conns_wanted), d,
            r->measuring ? "" : " (interrupted before all were up)");
}

static void text_latency(FILE *f, const struct spate_hist *h)
{
    char d[4][32];
    fmt_dur(d[0], 32, (double)spate_hist_min(h));
    fmt_dur(d[1], 32, spate_hist_mean(h));
    fmt_dur(d[2], 32, spate_hist_stdev(h));
    fmt_dur(d[3], 32, (double)spate_hist_max(h));
    fprintf(f, "  latency      min %s  mean %s  stdev %s  max %s\n", d[0], d[1], d[2], d[3]);
    fprintf(f, "              ");
    for (int i = 0; i < 5; i++) {
        fmt_dur(d[0], 32, (double)spate_hist_percentile(h, pcts[i]));
        fprintf(f, " %s %s", pct_names[i], d[0]);
    }
    fprintf(f, "\n");
}

static void text_counts(FILE *f, const struct spate_bench_tally *t,
                        const struct spate_load_report *r)
{
    char a[32], b[32], c[32], bw[32];
    double el = (double)r->elapsed_ns / 1e9;
    fprintf(f, "  requests     %s in %.3f s: %s responses, %s errors\n",
            num(a, sizeof(a), r->finished), el, num(b, sizeof(b), t->responses),
            num(c, sizeof(c), t->errors.total));
    spate_bench_fmt_rate(bw, sizeof(bw), per_sec(t->bytes, r->elapsed_ns));
    fprintf(f, "  throughput   %.1f req/s (complete responses), %s\n",
            per_sec(t->responses, r->elapsed_ns), bw);
    if (t->responses) text_latency(f, &t->hist);
    fprintf(f, "  status      ");
    if (!t->responses) fprintf(f, " none");
    for (int st = 1; st < 600; st++)
        if (t->status[st]) fprintf(f, " %d: %s", st, num(a, sizeof(a), t->status[st]));
    if (t->status[0]) fprintf(f, " other: %s", num(a, sizeof(a), t->status[0]));
    fprintf(f, "\n");
    text_errors(f, "errors", &t->errors);
}

static void text_outstanding(FILE *f, const struct spate_bench_setup *s,
                             const struct spate_bench_tally *t, const struct spate_load_report *r)
{
    char a[32], b[32], d[32], p[32];
    uint64_t n = r->unfinished + r->unsent;
    if (!n) return;
    fmt_dur(d, sizeof(d), (double)r->oldest_ns);
    if (s->rate <= 0) {
        fprintf(f,
                "  unfinished   %s requests cut off by the end of the run, the oldest waiting "
                "%s (not failures, not in the latency figures)\n",
                num(a, sizeof(a), n), d);
        return;
    }
    fprintf(f,
            "  outstanding  %s requests still waiting at the end (%s in flight, %s due but never "
            "sent), the oldest for %s; not in the latency figures\n",
            num(a, sizeof(a), n), num(b, sizeof(b), r->unfinished), num(p, sizeof(p), r->unsent),
            d);
    uint64_t p99 = spate_hist_percentile(&t->hist, 99);
    if (r->oldest_ns > p99) {
        fmt_dur(p, sizeof(p), (double)p99);
        fprintf(f,
                "  warning: the oldest outstanding request has waited %s, longer than the p99 "
                "(%s): the latency figures hold only complete responses and understate the end "
                "of the run (a stall, or a backlog the connections could not carry)\n",
                d, p);
    }
}

static void text_schedule(FILE *f, const struct spate_bench_setup *s,
                          const struct spate_load_report *r)
{
    char a[32], b[32], d[32];
    fmt_dur(d, sizeof(d), (double)r->max_lag_ns);
    double share = r->sent ? 100.0 * (double)r->late_sends / (double)r->sent : 0.0;
    fprintf(
        f, "  schedule     %.1f of %.0f req/s sent; max lag %s, %s of %s sent (%.1f%%) >1ms late\n",
        per_sec(r->sent, r->elapsed_ns), s->rate, d, num(a, sizeof(a), r->late_sends),
        num(b, sizeof(b), r->sent), share);
    if (r->late_sends * 100 > r->sent)
        fprintf(f,
                "  warning: %.1f%% of the requests sent left more than 1 ms after their scheduled "
                "start: every connection was busy (a slow server, or too few connections for the "
                "rate) or the client could not keep up; latencies are measured from the "
                "scheduled starts and include that delay\n",
                share);
}

/* "0/2": a piece's name. */
static const char *piece_name(char *buf, size_t len, struct spate_split p)
{
    snprintf(buf, len, "%u/%u", p.k, p.n);
    return buf;
}

static void text_piece(FILE *f, const struct spate_bench_setup *s)
{
    char a[32], b[32];
    if (s->piece.n <= 1) return;
    fprintf(f, "  piece        %s of the test (%s connections", piece_name(a, sizeof(a), s->piece),
            num(b, sizeof(b), s->test.connections));
    if (s->test.rate > 0) fprintf(f, ", %.0f req/s", s->test.rate);
    if (s->test.requests) fprintf(f, ", %s requests", num(b, sizeof(b), s->test.requests));
    fprintf(f, " in all)\n");
}

/* A late start of this process, against --start-at. */
static void text_late(FILE *f, const struct spate_load_report *r)
{
    char a[32], d[32];
    if (!r->late_ns) return;
    fmt_dur(d, sizeof(d), (double)r->late_ns);
    fprintf(f,
            "  late         the measured period began %s after --start-at (set-up ended after it)",
            d);
    if (r->skipped)
        fprintf(f, "; %s scheduled requests due before then were skipped",
                num(a, sizeof(a), r->skipped));
    fprintf(f, "\n");
}

static void text_parts(FILE *f, const struct spate_bench_parts *p)
{
    char a[32], b[32], d[32];
    if (!p || !p->n) return;
    int workers = !strcmp(p->kind, "workers");
    fprintf(f, "  %-12s %zu:", p->kind, p->n);
    for (size_t i = 0; i < p->n; i++)
        fprintf(f, "%s%s", i ? " + " : " ",
                p->v[i].fate ? "?" : num(a, sizeof(a), p->v[i].requests));
    fprintf(f, " requests\n");
    for (size_t i = 0; i < p->n; i++) {
        const struct spate_bench_part *x = &p->v[i];
        if (x->fate && x->pid)
            fprintf(f, "  lost         %s (pid %d) %s: its requests are not in the figures\n",
                    x->name, x->pid, x->fate);
        else if (x->fate)
            fprintf(f, "  lost         %s: %s\n", x->name, x->fate);
        if (x->fate || x->late_s < SPATE_BENCH_LATE_S) continue;
        fmt_dur(d, sizeof(d), x->late_s * 1e9);
        fprintf(f, "  late         %s %s (piece %s) began %s after the planned start",
                workers ? "worker" : "piece", x->name, piece_name(b, sizeof(b), x->piece), d);
        if (x->skipped)
            fprintf(f, ", %s scheduled requests skipped", num(a, sizeof(a), x->skipped));
        fprintf(f, "\n");
    }
    if (p->missing)
        fprintf(f, "  missing      %s: the figures cover only part of the test\n", p->missing);
}

static void text_verdict(FILE *f, const struct spate_bench_setup *s,
                         const struct spate_load_report *r, const struct spate_bench_verdict *v,
                         int sig)
{
    char a[32], b[32], d[32];
    if (sig) {
        fmt_dur(d, sizeof(d), (double)(r->measuring ? r->elapsed_ns : r->setup_ns));
        fprintf(f, "  interrupted  by %s after %s %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM", d,
                r->measuring ? "of measuring: the figures cover that time" : "of set-up");
    }
    if (!v->too_many_failed && !v->conns_short && !v->stale_outstanding && !v->parts_lost) {
        fprintf(f, "  result       ok: %s failed requests (--max-errors %s)\n",
                num(a, sizeof(a), v->failed), num(b, sizeof(b), s->max_errors));
        return;
    }
    if (v->too_many_failed)
        fprintf(f, "  result       FAILED: %s failed requests, more than --max-errors %s\n",
                num(a, sizeof(a), v->failed), num(b, sizeof(b), s->max_errors));
    if (v->conns_short)
        fprintf(f, "  result       FAILED: only %s of %s connections came up\n",
                num(a, sizeof(a), r->connections_up), num(b, sizeof(b), v->conns_wanted));
    if (v->stale_outstanding) {
        fmt_dur(d, sizeof(d), (double)r->oldest_ns);
        fprintf(f,
                "  result       FAILED: a request was still outstanding after %s, past --timeout\n",
                d);
    }
    if (v->parts_lost)
        fprintf(f, "  result       FAILED: %u %s lost (died or sent no report)\n", v->parts_lost,
                v->parts_lost == 1 ? "worker" : "workers");
}

void spate_bench_text(FILE *f, const struct spate_bench_setup *s, const struct spate_bench_tally *t,
                      const struct spate_load_report *r, const struct spate_bench_parts *p,
                      const struct spate_bench_verdict *v, int sig)
{
    char a[32], b[32], c[32];
    text_head(f, s, r, v);
    text_piece(f, s);
    text_late(f, r);
    text_parts(f, p);
    text_errors(f, "set-up error", &t->setup);
    text_counts(f, t, r);
    if (t->bad_status)
        fprintf(f, "  failed       %s: %s with status >= 400, %s errors\n",
                num(a, sizeof(a), t->bad_status + t->errors.total),
                num(b, sizeof(b), t->bad_status), num(c, sizeof(c), t->errors.total));
    text_outstanding(f, s, t, r);
    fprintf(f, "  connections  %s requested, %s established, %s reconnects\n",
            num(a, sizeof(a), r->connections_requested),
            num(b, sizeof(b), r->connections_established), num(c, sizeof(c), r->reconnects));
    if (s->rate > 0) text_schedule(f, s, r);
    text_verdict(f, s, r, v, sig);
}

/* ---------- JSON ---------- */

static int json_errors(struct spate_text *o, const char *key, const struct spate_bench_errors *e)
{
    int rc = spate_text_printf(o, ",\"%s\":{", key);
    const char *sep = "";
    for (int k = 1; k < SPATE_BENCH_KINDS; k++) {
        if (!e->by_kind[k]) continue;
        rc |= spate_text_printf(o, "%s\"%s\":{\"count\":%llu,\"causes\":[", sep,
                                spate_error_kind_name(k), (unsigned long long)e->by_kind[k]);
        for (int i = 0; i < SPATE_BENCH_CAUSES && e->causes[k][i].msg; i++) {
            rc |= spate_text_printf(o, "%s{\"message\":", i ? "," : "");
            rc |= spate_json_add_string(o, e->causes[k][i].msg, strlen(e->causes[k][i].msg));
            rc |=
                spate_text_printf(o, ",\"count\":%llu}", (unsigned long long)e->causes[k][i].count);
        }
        rc |= spate_text_adds(o, "]}");
        sep = ",";
    }
    return rc | spate_text_adds(o, "}");
}

static int json_latency(struct spate_text *o, const struct spate_hist *h)
{
    static const char *const keys[] = {"p50", "p90", "p99", "p99_9", "p99_99"};
    int rc = spate_text_printf(o,
                               ",\"latency\":{\"unit\":\"s\",\"count\":%llu,\"min\":%.9f,"
                               "\"mean\":%.9f,\"stdev\":%.9f,\"max\":%.9f",
                               (unsigned long long)h->count, (double)spate_hist_min(h) / 1e9,
                               spate_hist_mean(h) / 1e9, spate_hist_stdev(h) / 1e9,
                               (double)spate_hist_max(h) / 1e9);
    for (int i = 0; i < 5; i++)
        rc |= spate_text_printf(o, ",\"%s\":%.9f", keys[i],
                                (double)spate_hist_percentile(h, pcts[i]) / 1e9);
    return rc | spate_text_adds(o, "}");
}

static int json_status(struct spate_text *o, const struct spate_bench_tally *t)
{
    int rc = spate_text_adds(o, ",\"status\":{");
    const char *sep = "";
    for (int st = 1; st < 600; st++)
        if (t->status[st]) {
            rc |= spate_text_printf(o, "%s\"%d\":%llu", sep, st, (unsigned long long)t->status[st]);
            sep = ",";
        }
    if (t->status[0])
        rc |= spate_text_printf(o, "%s\"other\":%llu", sep, (unsigned long long)t->status[0]);
    return rc | spate_text_adds(o, "}");
}

static int json_verdict(struct spate_text *o, const struct spate_bench_verdict *v, int sig)
{
    int rc = spate_text_printf(
        o, ",\"interrupted\":%s,\"signal\":%s,\"result\":{\"ok\":%s,\"reasons\":[",
        sig ? "true" : "false",
        !sig            ? "null"
        : sig == SIGINT ? "\"SIGINT\""
                        : "\"SIGTERM\"",
        v->too_many_failed || v->conns_short || v->stale_outstanding || v->parts_lost ? "false"
                                                                                      : "true");
    const char *reason[4] = {
        v->too_many_failed ? "failed" : NULL,
        v->conns_short ? "connections" : NULL,
        v->stale_outstanding ? "outstanding" : NULL,
        v->parts_lost ? "lost" : NULL,
    };
    const char *sep = "";
    for (int i = 0; i < 4; i++)
        if (reason[i]) {
            rc |= spate_text_printf(o, "%s\"%s\"", sep, reason[i]);
            sep = ",";
        }
    return rc | spate_text_adds(o, "]}");
}

/* The test's identity, written exactly (%.17g round-trips a double) for merge to compare. */
static int json_test(struct spate_text *o, const struct spate_bench_setup *s)
{
    const struct spate_bench_test *x = &s->test;
    int rc = spate_text_adds(o, ",\"test\":{\"url\":");
    rc |= spate_json_add_string(o, x->url, strlen(x->url));
    rc |= spate_text_adds(o, ",\"method\":");
    rc |= spate_json_add_string(o, x->method, strlen(x->method));
    rc |= spate_text_printf(o,
                            ",\"model\":\"%s\",\"rate\":%.17g,\"connections\":%u,\"requests\":%llu,"
                            "\"duration\":%.17g,\"timeout_ns\":%llu,\"max_errors\":%llu,"
                            "\"no_fail\":%s},\"piece\":{\"k\":%u,\"n\":%u},\"procs\":%u",
                            x->rate > 0 ? "open" : "closed", x->rate, x->connections,
                            (unsigned long long)x->requests, x->duration,
                            (unsigned long long)x->timeout_ns, (unsigned long long)x->max_errors,
                            x->no_fail ? "true" : "false", s->piece.k, s->piece.n, s->procs);
    return rc;
}

static int json_period(struct spate_text *o, const struct spate_bench_setup *s,
                       const struct spate_load_report *r)
{
    int rc = spate_text_printf(o, ",\"period\":{\"start\":%.6f,\"end\":%.6f,\"start_at\":",
                               r->start_unix, r->start_unix + (double)r->elapsed_ns / 1e9);
    rc |= s->start_at > 0 ? spate_text_printf(o, "%.6f", s->start_at) : spate_text_adds(o, "null");
    return rc | spate_text_printf(o, ",\"late_s\":%.6f,\"skipped\":%llu}", (double)r->late_ns / 1e9,
                                  (unsigned long long)r->skipped);
}

static int json_part(struct spate_text *o, const struct spate_bench_part *x)
{
    int rc = spate_text_adds(o, "{\"name\":");
    rc |= spate_json_add_string(o, x->name, strlen(x->name));
    rc |= spate_text_printf(o, ",\"pid\":%d,\"lost\":", x->pid);
    rc |= x->fate ? spate_json_add_string(o, x->fate, strlen(x->fate)) : spate_text_adds(o, "null");
    return rc | spate_text_printf(
                    o,
                    ",\"piece\":{\"k\":%u,\"n\":%u},\"start\":%.6f,\"end\":%.6f,\"late_s\":%.6f,"
                    "\"skipped\":%llu,\"requests\":%llu,\"responses\":%llu,\"errors\":%llu,"
                    "\"failed\":%llu,\"connections\":%llu,\"connections_up\":%llu,\"rps\":%.3f}",
                    x->piece.k, x->piece.n, x->start, x->end, x->late_s,
                    (unsigned long long)x->skipped, (unsigned long long)x->requests,
                    (unsigned long long)x->responses, (unsigned long long)x->errors,
                    (unsigned long long)x->failed, (unsigned long long)x->connections,
                    (unsigned long long)x->connections_up, x->rps);
}

static int json_parts(struct spate_text *o, const struct spate_bench_parts *p)
{
    if (!p || !p->n) return 0;
    int rc = spate_text_printf(o, ",\"%s\":[", p->kind);
    for (size_t i = 0; i < p->n; i++) {
        if (i) rc |= spate_text_adds(o, ",");
        rc |= json_part(o, &p->v[i]);
    }
    rc |= spate_text_adds(o, "],\"missing\":");
    return rc | (p->missing ? spate_json_add_string(o, p->missing, strlen(p->missing))
                            : spate_text_adds(o, "null"));
}

int spate_bench_json(struct spate_text *o, const struct spate_bench_setup *s,
                     const struct spate_bench_tally *t, const struct spate_load_report *r,
                     const struct spate_bench_parts *p, const struct spate_bench_verdict *v,
                     int sig)
{
    double el = (double)r->elapsed_ns / 1e9;
    uint64_t ok = t->responses - t->bad_status;
    int rc = spate_text_adds(o, "{\"url\":");
    rc |= spate_json_add_string(o, s->url, strlen(s->url));
    rc |= spate_text_printf(
        o,
        ",\"connections\":%llu,\"connections_up\":%llu,\"setup_seconds\":%.6f,\"measured\":%s,"
        "\"model\":\"%s\","
        "\"rate\":%.3f,\"duration\":%.6f,\"requests\":%llu,\"sent\":%llu,\"responses\":%llu,"
        "\"ok\":%llu,\"failed\":%llu,\"errors\":%llu,\"rps\":%.3f,\"bytes\":%llu,"
        "\"bytes_per_sec\":%.3f",
        (unsigned long long)v->conns_wanted, (unsigned long long)r->connections_up,
        (double)r->setup_ns / 1e9, r->measuring ? "true" : "false", s->rate > 0 ? "open" : "closed",
        s->rate, el, (unsigned long long)r->finished, (unsigned long long)r->sent,
        (unsigned long long)t->responses, (unsigned long long)ok, (unsigned long long)v->failed,
        (unsigned long long)t->errors.total, per_sec(t->responses, r->elapsed_ns),
        (unsigned long long)t->bytes, per_sec(t->bytes, r->elapsed_ns));
    rc |= json_latency(o, &t->hist);
    rc |= json_status(o, t);
    rc |= json_errors(o, "errors_by_kind", &t->errors);
    rc |= json_errors(o, "setup_errors", &t->setup);
    rc |= spate_text_printf(
        o,
        ",\"connections_requested\":%llu,\"connections_established\":%llu,\"reconnects\":%llu,"
        "\"max_lag\":%.9f,\"late_sends\":%llu,\"unfinished\":%llu,\"unsent\":%llu,"
        "\"outstanding\":%llu,\"oldest_outstanding\":%.9f,\"max_errors\":%llu,\"no_fail\":%s",
        (unsigned long long)r->connections_requested,
        (unsigned long long)r->connections_established, (unsigned long long)r->reconnects,
        (double)r->max_lag_ns / 1e9, (unsigned long long)r->late_sends,
        (unsigned long long)r->unfinished, (unsigned long long)r->unsent,
        (unsigned long long)(r->unfinished + r->unsent), (double)r->oldest_ns / 1e9,
        (unsigned long long)s->max_errors, s->no_fail ? "true" : "false");
    rc |= json_test(o, s);
    rc |= json_period(o, s, r);
    rc |= spate_text_adds(o, ",\"histogram\":");
    rc |= spate_hist_write_json(o, &t->hist);
    rc |= json_parts(o, p);
    rc |= json_verdict(o, v, sig);
    rc |= spate_text_adds(o, "}\n");
    return rc ? -ENOMEM : 0;
}
