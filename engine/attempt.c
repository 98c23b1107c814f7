/* The attempt lifecycle: a slot from the limiter, a connection (pooled if its address is still
 * current, else new), the exchange, then one end: done, failed, timed out or canceled; and what
 * follows an end: a retry after a backoff wait, a re-send of a request a stale pooled connection
 * lost, a redirect's next hop, or completion. */
#include "attempt.h"
#include "../dns/dns.h"
#include "clock.h"
#include "conn.h"
#include "engine.h"
#include "redirect.h"
#include "response.h"
#include "retry.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPARE_MAX 1024
#define SPARE_BUF_MAX 4096 /* a buffer that grew beyond this is freed, not kept */

static const struct spate_conn_ops conn_ops;
static void on_req_timer(struct spate_timer *t);
static void attempt_ended(struct spate_req *r, enum spate_error_kind k, const char *msg);

/* ---------- attempt states ---------- */

static void keep_small(struct spate_buf *b)
{
    if (b->cap > SPARE_BUF_MAX) spate_buf_fini(b);
    spate_buf_reset(b);
}

static void free_att(struct spate_attempt *a)
{
    spate_buf_fini(&a->wire);
    spate_buf_fini(&a->acc);
    spate_buf_fini(&a->hstore);
    spate_buf_fini(&a->bodybuf);
    free(a);
}

/* A clean attempt state for r (a spare one keeps its buffers' memory); NULL when out of memory. */
static struct spate_attempt *new_att(struct spate_engine *e, struct spate_req *r)
{
    struct spate_freelist_node *n = spate_freelist_pop(&e->spare_att);
    struct spate_attempt *a;
    if (n) {
        a = spate_container_of(n, struct spate_attempt, spare);
        struct spate_buf keep[4] = {a->wire, a->acc, a->hstore, a->bodybuf};
        memset(a, 0, sizeof(*a));
        a->wire = keep[0];
        a->acc = keep[1];
        a->hstore = keep[2];
        a->bodybuf = keep[3];
    } else if (!(a = calloc(1, sizeof(*a)))) {
        return NULL;
    }
    a->r = r;
    spate_list_push(&e->started, &a->link);
    a->retry_after = -1;
    spate_timer_init(&a->timer, on_req_timer);
    spate_deadline_init(&a->dl);
    return a;
}

void spate_attempt_release(struct spate_req *r)
{
    struct spate_attempt *a = r->att;
    if (!a) return;
    struct spate_engine *e = r->e;
    r->att = NULL;
    spate_list_remove(&a->link);
    free(a->location);
    keep_small(&a->wire);
    keep_small(&a->acc);
    keep_small(&a->hstore);
    keep_small(&a->bodybuf);
    if (!spate_freelist_push(&e->spare_att, &a->spare, SPARE_MAX)) free_att(a);
}

void spate_attempt_free_spares(struct spate_engine *e)
{
    struct spate_freelist_node *n;
    while ((n = spate_freelist_pop(&e->spare_att)))
        free_att(spate_container_of(n, struct spate_attempt, spare));
}

/* ---------- small steps ---------- */

/* The wall clock in Unix seconds (for the result's start; durations use the monotonic clock). */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Stops the attempt's deadline and any backoff wait. */
static void stop_timers(struct spate_engine *e, struct spate_attempt *a)
{
    spate_loop_untimer(&e->ctx.loop, &a->timer);
    spate_deadlines_del(&e->dl, &a->dl);
}

static void release_slot(struct spate_engine *e, struct spate_attempt *a)
{
    if (a->inflight) {
        a->inflight = 0;
        spate_limit_give_slot(&e->lim);
    }
}

/* The attempt left its connection (already pooled or closed): no timer, no slot. */
static void detach(struct spate_req *r)
{
    r->att->conn = NULL;
    stop_timers(r->e, r->att);
    release_slot(r->e, r->att);
}

/* Copies the attempt's marks from its connection when the attempt ends (the connection may be
 * pooled or closed right after). A pooled connection's set-up belongs to an earlier request. */
static void take_marks(struct spate_attempt *a, const struct spate_conn *c)
{
    struct spate_conn_marks m;
    spate_conn_get_marks(c, &m);
    if (!a->reused) {
        a->m_dns = m.dns;
        a->m_tcp = m.tcp;
        a->m_tls = m.tls;
        a->tls_resumed = m.resumed;
    }
    a->m_first = m.first; /* 0 until a byte of this exchange came */
}

/* ---------- the start ---------- */

static void send_on(struct spate_req *r, struct spate_conn *c)
{
    struct spate_attempt *a = r->att;
    a->conn = c;
    c->user = r;
    memcpy(a->remote, spate_conn_peer_text(c), SPATE_CONN_PEER_TEXT_MAX);
    /* headers are assembled only for someone: the result, a redirect or a Retry-After */
    int want = !r->skip_headers || r->follow || r->retries || r->on_head;
    c->read_timeout = r->read_ns; /* this exchange's: the request's option, or 0 = the engine's */
    spate_conn_send(c, a->wire.data, a->wire.len, !strcmp(r->method, "HEAD"), &spate_response_sink,
                    r, want ? &a->acc : NULL);
}

/* A pooled connection to a name is only reused while its address is still in the name's
 * record set. An expired entry starts a refresh (its answer lands in the cache for the next
 * checkout) and the connection is used meanwhile, as the previous answer allowed. */
static int addr_still_current(struct spate_engine *e, struct spate_conn *c)
{
    const struct spate_target *t = c->target;
    if (t->host_ip) return 1;
    if (!spate_dns_fresh(e->ctx.dns, t->host, t->port)) return 1;
    return spate_dns_addr_current(e->ctx.dns, t->host, spate_conn_peer_addr(c));
}

static struct spate_conn *take_idle(struct spate_engine *e, struct spate_host *h)
{
    struct spate_conn *c;
    while ((c = spate_pool_take(&e->pool, h))) {
        if (addr_still_current(e, c)) return c;
        spate_pool_close(&e->pool, c);
    }
    return NULL;
}

/* The attempt's own timeout (per-request) or the engine's (its deadline list). */
static void arm_timeout(struct spate_engine *e, struct spate_req *r, uint64_t now)
{
    struct spate_attempt *a = r->att;
    if (!r->timeout_ns) {
        if (e->cfg.timeout > 0)
            spate_deadlines_add(&e->dl, &a->dl, now + spate_clock_from_sec(e->cfg.timeout));
    } else if (r->timeout_ns != UINT64_MAX) { /* its own: a timer, out of the FIFO list */
        spate_loop_timer(&e->ctx.loop, &a->timer, now + r->timeout_ns);
    }
}

/* Opens a new connection for r (evicting the oldest idle one when at the cap). */
static void open_conn(struct spate_engine *e, struct spate_req *r)
{
    struct spate_host *h = r->host;
    r->att->reused = 0;
    if (spate_pool_open_count(&e->pool) >= e->cfg.concurrency) spate_pool_evict(&e->pool);
    spate_pool_opening(&e->pool, h);
    r->att->conn = spate_conn_open_within(&e->ctx, &h->target, &conn_ops, r, r->connect_ns);
    if (!r->att->conn) {
        spate_pool_open_failed(&e->pool, h);
        attempt_ended(r, SPATE_E_CONNECT, "out of memory opening a connection");
    }
}

/* Takes the slot, clears the marks of the attempt before and stamps this one's start. */
static void begin(struct spate_engine *e, struct spate_attempt *a, uint64_t now)
{
    a->r->phase = REQ_RUNNING;
    a->inflight = 1;
    spate_limit_take_slot(&e->lim);
    if (!a->t_first) {
        a->t_first = now;
        a->wall_first = wall_now();
    }
    a->t_attempt = now;
    a->m_dns = a->m_tcp = a->m_tls = a->m_first = a->m_end = 0;
    a->resp_started = 0;
}

/* The first attempt cannot start for want of memory: the request ends, as one attempt. */
static void no_memory(struct spate_engine *e, struct spate_req *r)
{
    (void)e;
    spate_response_complete(r, SPATE_E_INPUT, "out of memory", spate_clock_now());
}

void spate_attempt_start(void *owner, struct spate_req *r)
{
    struct spate_engine *e = owner;
    uint64_t now = spate_loop_update_now(&e->ctx.loop);
    if (!r->att && !(r->att = new_att(e, r))) {
        no_memory(e, r);
        return;
    }
    struct spate_attempt *a = r->att;
    begin(e, a, now);
    spate_response_reset(r);
    if (r->stop) { /* canceled from the body callback's reset call */
        attempt_ended(r, SPATE_E_CANCELED, "canceled");
        return;
    }
    if (!a->wire.len) { /* the head, rendered on first use */
        char err[160];
        int rc = spate_req_render(r, &a->wire, err, sizeof(err));
        if (rc) {
            attempt_ended(r, SPATE_E_INPUT, rc == -ENOMEM ? "out of memory" : err);
            return;
        }
    }
    arm_timeout(e, r, now);
    struct spate_conn *c = a->force_new ? NULL : take_idle(e, r->host);
    if (!c) {
        open_conn(e, r);
        return;
    }
    a->reused = 1;
    e->ctx.stats.reused++;
    send_on(r, c);
}

/* ---------- the end of an attempt ---------- */

static int retryable(struct spate_req *r, enum spate_error_kind k, int got_bytes)
{
    struct spate_attempt *a = r->att;
    if (a->attempts - a->hop_attempts > r->retries) return 0;
    if (!r->e->cfg.retry_all_methods && !spate_http1_idempotent(r->method)) return 0;
    switch (k) {
    case SPATE_E_DNS:
    case SPATE_E_CONNECT:
    case SPATE_E_TIMEOUT:
        return 1;
    case SPATE_E_RESET:
        return !got_bytes;
    case SPATE_E_HTTP:
        return spate_retry_status(a->status);
    default:
        return 0;
    }
}

/* The end of a backoff wait, or of a per-request attempt timeout. */
static void on_req_timer(struct spate_timer *t)
{
    struct spate_attempt *a = spate_container_of(t, struct spate_attempt, timer);
    struct spate_req *r = a->r;
    struct spate_engine *e = r->e;
    if (r->phase == REQ_RUNNING) { /* its own attempt timeout */
        spate_attempt_expired(&e->dl, &a->dl);
        return;
    }
    if (r->phase != REQ_BACKOFF) return;
    a->force_new = 0;
    spate_limit_push_front(&e->lim, r); /* before requests that have not started yet */
    spate_limit_pump(&e->lim);
}

/* Waits before the next attempt: what the server asked (Retry-After on 429/503, which holds its
 * host's other requests too), else a jittered exponential backoff. */
static void schedule_retry(struct spate_req *r)
{
    struct spate_engine *e = r->e;
    struct spate_attempt *a = r->att;
    uint64_t wait;
    if (a->retry_after >= 0 && (a->status == 429 || a->status == 503)) {
        double s =
            a->retry_after < e->cfg.retry_after_max ? a->retry_after : e->cfg.retry_after_max;
        wait = spate_clock_from_sec(s);
        spate_limit_hold(&e->lim, r->host, spate_clock_now() + wait);
    } else {
        wait = spate_retry_backoff(e->cfg.backoff, e->cfg.backoff_max, a->attempts, &e->rng);
    }
    r->phase = REQ_BACKOFF;
    spate_loop_timer(&e->ctx.loop, &a->timer, spate_clock_now() + wait);
}

/* Every attempt ends here exactly once (the connection already detached). */
static void attempt_ended(struct spate_req *r, enum spate_error_kind k, const char *msg)
{
    struct spate_engine *e = r->e;
    struct spate_attempt *a = r->att;
    if (!a->m_end) a->m_end = spate_clock_now();
    a->attempts++;
    detach(r);
    int got = a->status != 0 || a->resp_started;
    if (k != SPATE_OK && retryable(r, k, got))
        schedule_retry(r);
    else
        spate_response_complete(r, k, msg, a->m_end);
    spate_limit_pump(&e->lim);
}

/* A complete response: followed if it redirects, else the attempt's end. */
static void response_done(struct spate_req *r)
{
    int status = r->att->status;
    if (r->stop) { /* stopped from the head callback; what came of the body is not used */
        attempt_ended(r, SPATE_E_CANCELED, "canceled");
        return;
    }
    if (spate_redirect_wanted(r, status)) {
        char m[400];
        detach(r);
        if (spate_redirect_follow(r, m, sizeof(m)) == 0) {
            spate_limit_pump(&r->e->lim);
            return;
        }
        attempt_ended(r, SPATE_E_HTTP, m);
        return;
    }
    if (status >= 400 && !r->e->cfg.no_fail) {
        char m[64];
        snprintf(m, sizeof(m), "HTTP status %d", status);
        attempt_ended(r, SPATE_E_HTTP, m);
    } else {
        attempt_ended(r, SPATE_OK, NULL);
    }
}

/* A request a pooled connection lost before any response byte (the server had closed it) is
 * sent again once, on a new connection: not the request's fault, not an attempt. */
static int resend_stale(struct spate_req *r, enum spate_error_kind k, int started, int unsent)
{
    struct spate_engine *e = r->e;
    struct spate_attempt *a = r->att;
    if (!a->reused || started || k != SPATE_E_RESET || a->stale_resent) return 0;
    if (!spate_http1_idempotent(r->method) && !unsent && !e->cfg.retry_all_methods) return 0;
    a->stale_resent = 1;
    a->force_new = 1;
    e->ctx.stats.stale_resends++;
    detach(r);
    spate_limit_push_front(&e->lim, r); /* it keeps its place at the front */
    spate_limit_pump(&e->lim);
    return 1;
}

/* ---------- the connection's callbacks ---------- */

static void on_ready(struct spate_conn *c)
{
    send_on(c->user, c);
}

static void on_done(struct spate_conn *c)
{
    struct spate_req *r = c->user;
    struct spate_engine *e = r->e;
    struct spate_attempt *a = r->att;
    a->status = spate_conn_status(c);
    take_marks(a, c);
    a->m_end = spate_conn_last_io(c); /* read when the last byte came */
    if (spate_conn_reusable(c)) {
        c->user = NULL;
        spate_pool_put(&e->pool, r->host, c);
    } else {
        spate_pool_close(&e->pool, c);
    }
    response_done(r);
}

static void on_fail(struct spate_conn *c, enum spate_error_kind k)
{
    struct spate_req *r = c->user;
    struct spate_engine *e = r->e;
    struct spate_attempt *a = r->att;
    int started = spate_conn_response_begun(c);
    int unsent = spate_conn_unsent(c);
    a->resp_started = (unsigned char)started; /* a response had begun: not retried */
    memcpy(a->remote, spate_conn_peer_text(c), SPATE_CONN_PEER_TEXT_MAX);
    take_marks(a, c);
    a->m_end = spate_clock_now();
    spate_pool_close(&e->pool, c);
    if (resend_stale(r, k, started, unsent)) return;
    a->force_new = 0;
    if (r->stop == 1) {
        attempt_ended(r, SPATE_E_CANCELED, "canceled");
        return;
    }
    if (r->stop == 2) {
        char m[96];
        snprintf(m, sizeof(m), "body exceeds the request's limit of %llu bytes",
                 (unsigned long long)r->max_body);
        attempt_ended(r, SPATE_E_TOO_LARGE, m);
        return;
    }
    attempt_ended(r, k, e->ctx.msg);
}

static void on_idle_dead(struct spate_conn *c)
{
    struct spate_engine *e = spate_engine_of(c->ctx);
    spate_pool_drop_idle(&e->pool, c);
    spate_limit_pump(&e->lim);
}

static const struct spate_conn_ops conn_ops = {
    .ready = on_ready,
    .done = on_done,
    .fail = on_fail,
    .idle_dead = on_idle_dead,
};

/* ---------- timeouts and cancel ---------- */

void spate_attempt_expired(struct spate_deadlines *q, struct spate_deadline *d)
{
    struct spate_attempt *a = spate_container_of(d, struct spate_attempt, dl);
    struct spate_req *r = a->r;
    struct spate_engine *e = r->e;
    (void)q;
    if (r->phase != REQ_RUNNING) return;
    char m[160];
    double t = r->timeout_ns ? (double)r->timeout_ns / 1e9 : e->cfg.timeout;
    snprintf(m, sizeof(m), "timeout: no complete response from %s within %g s", r->url.host, t);
    if (a->conn) {
        take_marks(a, a->conn);
        spate_pool_close(&e->pool, a->conn);
    }
    attempt_ended(r, SPATE_E_TIMEOUT, m);
}

void spate_attempt_cancel(struct spate_req *r, const char *why)
{
    uint64_t now = spate_clock_now();
    struct spate_attempt *a = r->att;
    if (a) {
        if (r->phase == REQ_RUNNING) { /* the attempt in flight ends here, and counts */
            a->attempts++;
            a->m_end = now;
        }
        if (a->conn) {
            take_marks(a, a->conn);
            spate_pool_close(&r->e->pool, a->conn);
        }
        detach(r);
    }
    spate_response_complete(r, SPATE_E_CANCELED, why, now);
}
