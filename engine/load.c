/* Load generation for `spate bench`: one request rendered once and shared read-only, a fixed set
 * of connection slots kept busy (closed model) or fed from a fixed-rate schedule (open model).
 * The hot path allocates nothing: slots, connections and the request all live for the run. */
#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "ctx.h"
#include "http1.h"
#include "spate.h"
#include "url.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECONNECT_PAUSE                                                                            \
    (10 * SPATE_NS_PER_MS) /* after a failed connect, so errors stay countable */
#define LATE_NS SPATE_NS_PER_MS
#define MAX_OPENING 256 /* connections in setup (DNS, TCP, TLS) at once */

struct slot;

struct load {
    struct spate_ctx *ctx;
    const struct spate_load_opts *o;
    spate_load_cb cb;
    void *user;
    struct spate_target target;
    struct spate_buf wire; /* the request, rendered once */
    int head;
    struct slot *slots;
    unsigned nslots;
    uint64_t started, finished; /* requests */
    uint64_t t0, end;           /* ns; end = 0 when bounded by count only */
    int stopping;
    unsigned open;               /* slots with a live connection or one still to come */
    unsigned opening, next_open; /* connections being set up; first slot never opened */
    /* open model */
    uint64_t interval, next_k; /* request k is due at t0 + k * interval */
    struct slot *free_head;    /* connected slots waiting for a scheduled request */
    struct spate_timer tick;
    struct spate_timer stop;
    struct spate_load_report *rep;
};

struct slot {
    struct load *L;
    struct spate_conn *c;
    struct slot *next_free;
    struct spate_timer timer; /* request timeout, or the reconnect pause */
    uint64_t t_start;         /* latency origin of the request in flight, 0 = none */
    unsigned char busy, waiting_reconnect, is_free, opening;
};

static const struct spate_conn_ops slot_ops;
static void feed_slot(struct load *L, struct slot *s);
static void opened(struct load *L, struct slot *s);

static int more_wanted(struct load *L)
{
    if (L->stopping) return 0;
    if (L->o->requests && L->started >= L->o->requests) return 0;
    return 1;
}

static void record(struct load *L, struct slot *s, int status, enum spate_error_kind k,
                   const char *msg, uint64_t bytes)
{
    uint64_t now = spate_clock_now();
    struct spate_load_sample x = {
        .latency_ns = s->t_start && now > s->t_start ? now - s->t_start : 0,
        .status = status,
        .error = k,
        .message = msg,
        .bytes = bytes,
    };
    s->t_start = 0;
    s->busy = 0;
    L->finished++;
    spate_loop_untimer(&L->ctx->loop, &s->timer);
    L->cb(L->user, &x);
    if (L->o->requests && L->finished >= L->o->requests) L->stopping = 1;
}

static void send_now(struct load *L, struct slot *s, uint64_t t_start)
{
    s->busy = 1;
    s->t_start = t_start;
    L->started++;
    spate_conn_send(s->c, L->wire.data, L->wire.len, L->head, NULL, NULL, NULL);
}

static void on_slot_timer(struct spate_timer *t);

static void open_slot(struct load *L, struct slot *s, int again)
{
    s->waiting_reconnect = 0;
    s->opening = 1;
    L->opening++;
    L->rep->connections_requested++;
    L->rep->reconnects += again != 0;
    s->c = spate_conn_open(L->ctx, &L->target, &slot_ops, s);
    if (!s->c) {
        L->stopping = 1; /* out of memory: end the run, it cannot be measured honestly */
        L->open--;
        opened(L, s);
    }
}

/* Opens never-opened slots while fewer than MAX_OPENING connections are being set up: 10,000
 * simultaneous TLS handshakes would each hold their handshake state at the same moment, and
 * that peak, not the steady state, would set the memory a run needs. */
static void open_more(struct load *L)
{
    while (L->next_open < L->nslots && L->opening < MAX_OPENING) {
        if (!more_wanted(L)) {
            L->open -= L->nslots - L->next_open; /* these will never be opened */
            L->next_open = L->nslots;
            return;
        }
        open_slot(L, &L->slots[L->next_open++], 0);
    }
}

static void opened(struct load *L, struct slot *s)
{
    if (!s->opening) return;
    s->opening = 0;
    L->opening--;
    open_more(L);
}

static void reconnect_later(struct load *L, struct slot *s, uint64_t pause)
{
    s->c = NULL;
    if (!more_wanted(L)) {
        L->open--;
        return;
    }
    if (!pause) {
        open_slot(L, s, 1);
        return;
    }
    s->waiting_reconnect = 1;
    spate_loop_timer(&L->ctx->loop, &s->timer, spate_clock_now() + pause);
}

/* The open model hands a due request to a free slot; the closed model sends at once. */
static void feed_slot(struct load *L, struct slot *s)
{
    if (!more_wanted(L)) {
        spate_conn_close(s->c);
        s->c = NULL;
        L->open--;
        return;
    }
    if (!L->interval) {
        send_now(L, s, spate_clock_now());
        if (L->o->timeout_ns)
            spate_loop_timer(&L->ctx->loop, &s->timer, s->t_start + L->o->timeout_ns);
        return;
    }
    uint64_t now = spate_clock_now();
    uint64_t due = L->t0 + L->next_k * L->interval;
    if (due <= now) {
        L->next_k++;
        uint64_t lag = now - due;
        if (lag > L->rep->max_lag_ns) L->rep->max_lag_ns = lag;
        if (lag > LATE_NS) L->rep->late_sends++;
        send_now(L, s, due); /* latency counts from the scheduled start: no coordinated omission */
        if (L->o->timeout_ns) spate_loop_timer(&L->ctx->loop, &s->timer, now + L->o->timeout_ns);
        return;
    }
    s->is_free = 1;
    s->next_free = L->free_head;
    L->free_head = s;
    if (!spate_timer_armed(&L->tick)) spate_loop_timer(&L->ctx->loop, &L->tick, due);
}

static void on_tick(struct spate_timer *t)
{
    struct load *L = (struct load *)((char *)t - offsetof(struct load, tick));
    while (L->free_head && more_wanted(L)) {
        struct slot *s = L->free_head;
        uint64_t due = L->t0 + L->next_k * L->interval;
        if (due > spate_clock_now()) {
            spate_loop_timer(&L->ctx->loop, &L->tick, due);
            return;
        }
        L->free_head = s->next_free;
        s->is_free = 0;
        feed_slot(L, s);
    }
}

static void on_ready(struct spate_conn *c)
{
    struct slot *s = c->user;
    s->L->rep->connections_established++;
    opened(s->L, s);
    feed_slot(s->L, s);
}

static void on_done(struct spate_conn *c)
{
    struct slot *s = c->user;
    struct load *L = s->L;
    int reuse = spate_conn_reusable(c);
    record(L, s, c->resp.status, SPATE_OK, NULL, c->wire_bytes);
    if (reuse) {
        feed_slot(L, s);
        return;
    }
    spate_conn_close(c);
    reconnect_later(L, s, 0);
}

static void on_fail(struct spate_conn *c, enum spate_error_kind k)
{
    struct slot *s = c->user;
    struct load *L = s->L;
    opened(L, s);
    int was_busy = s->busy;
    if (!was_busy && more_wanted(L)) {
        /* a connection that never came up fails the request it was to carry: in the closed
         * model the next one, in the open model only a request that is already due */
        uint64_t now = spate_clock_now();
        uint64_t due = L->interval ? L->t0 + L->next_k * L->interval : now;
        if (due <= now) {
            L->next_k += L->interval != 0;
            L->started++;
            s->t_start = due;
            was_busy = 1;
        }
    }
    int established = c->state == SPATE_CONN_CLOSED && c->exchanges > 0;
    if (was_busy) record(L, s, 0, k, L->ctx->msg, 0);
    spate_conn_close(c);
    reconnect_later(L, s, established ? 0 : RECONNECT_PAUSE);
}

static void on_idle_dead(struct spate_conn *c)
{
    struct slot *s = c->user;
    struct load *L = s->L;
    if (s->is_free) { /* unlink from the free list */
        for (struct slot **pp = &L->free_head; *pp; pp = &(*pp)->next_free)
            if (*pp == s) {
                *pp = s->next_free;
                break;
            }
        s->is_free = 0;
    }
    spate_conn_close(c);
    reconnect_later(L, s, 0);
}

static const struct spate_conn_ops slot_ops = {
    .ready = on_ready,
    .done = on_done,
    .fail = on_fail,
    .idle_dead = on_idle_dead,
};

static void on_slot_timer(struct spate_timer *t)
{
    struct slot *s = (struct slot *)((char *)t - offsetof(struct slot, timer));
    struct load *L = s->L;
    if (s->waiting_reconnect) {
        if (more_wanted(L))
            open_slot(L, s, 1);
        else
            L->open--, s->waiting_reconnect = 0;
        return;
    }
    if (!s->busy || !s->c) return;
    char m[96];
    snprintf(m, sizeof(m), "timeout: no complete response within %.3g s",
             (double)L->o->timeout_ns / 1e9);
    record(L, s, 0, SPATE_E_TIMEOUT, m, 0);
    spate_conn_close(s->c);
    reconnect_later(L, s, 0);
}

static void on_stop(struct spate_timer *t)
{
    struct load *L = (struct load *)((char *)t - offsetof(struct load, stop));
    L->stopping = 1;
}

static int prepare(struct load *L, struct spate_url *u, char *err, size_t errlen)
{
    const struct spate_request *q = &L->o->req;
    const char *method = q->method && *q->method ? q->method : q->body ? "POST" : "GET";
    int rc = spate_request_check(q, err, errlen);
    if (rc) return rc;
    if ((rc = spate_url_parse(u, q->url, err, errlen))) return rc;
    L->target.host = u->host;
    L->target.host_ip = u->host_ip;
    L->target.port = u->port;
    L->target.https = u->https;
    L->head = !strcmp(method, "HEAD");
    struct spate_http1_req h = {
        .method = method,
        .authority = u->authority,
        .target = u->target,
        .userinfo = u->userinfo,
        .headers = q->headers,
        .nheaders = q->nheaders,
        .user_agent = L->o->user_agent,
        .body = q->body,
        .body_len = q->body_len,
        .has_body = q->body != NULL,
    };
    return spate_http1_render(&L->wire, &h, err, errlen);
}

/* At the end of an open-model run, requests still in flight and requests due but never sent
 * have waited at least until now: they are reported with that wait (a lower bound), so a
 * server that stalls through the end of the run cannot hide. */
static void account_unfinished(struct load *L)
{
    uint64_t now = spate_clock_now();
    struct spate_load_sample x = {.unfinished = 1, .message = "unfinished at the end of the run"};
    for (unsigned i = 0; i < L->nslots; i++) {
        struct slot *s = &L->slots[i];
        if (s->busy && s->t_start) {
            x.latency_ns = now - s->t_start;
            L->cb(L->user, &x);
        }
    }
    uint64_t end = L->o->requests ? L->o->requests : UINT64_MAX;
    for (uint64_t k = L->next_k; k < end; k++) {
        uint64_t due = L->t0 + k * L->interval;
        if (due > now || k - L->next_k >= 10000000) break;
        if (now - due > L->rep->max_lag_ns) L->rep->max_lag_ns = now - due;
        L->rep->late_sends += now - due > LATE_NS;
        L->rep->unsent++;
        x.latency_ns = now - due;
        L->cb(L->user, &x);
    }
}

static void finish_run(struct load *L)
{
    if (L->interval) account_unfinished(L);
    for (unsigned i = 0; i < L->nslots; i++) {
        struct slot *s = &L->slots[i];
        spate_loop_untimer(&L->ctx->loop, &s->timer);
        if (s->c) spate_conn_close(s->c);
    }
    spate_loop_untimer(&L->ctx->loop, &L->tick);
    spate_loop_untimer(&L->ctx->loop, &L->stop);
    spate_loop_once(&L->ctx->loop, 0); /* reap the closed connections */
}

int spate_load_run(struct spate_engine *e, const struct spate_load_opts *o, spate_load_cb cb,
                   void *user, struct spate_load_report *rep, char *err, size_t errlen)
{
    struct load L;
    struct spate_url u;
    memset(&L, 0, sizeof(L));
    memset(rep, 0, sizeof(*rep));
    memset(&u, 0, sizeof(u));
    L.ctx = spate_engine_ctx(e);
    L.o = o;
    L.cb = cb;
    L.user = user;
    L.rep = rep;
    spate_buf_init(&L.wire);
    spate_timer_init(&L.tick, on_tick);
    spate_timer_init(&L.stop, on_stop);
    int rc = prepare(&L, &u, err, errlen);
    if (!rc && u.https) rc = spate_engine_need_tls(e, err, errlen);
    L.nslots = o->connections ? o->connections : 64;
    if (!rc && !(L.slots = calloc(L.nslots, sizeof(*L.slots)))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    if (rc) goto out;
    if (o->rate > 0) L.interval = (uint64_t)(1e9 / o->rate) ? (uint64_t)(1e9 / o->rate) : 1;
    L.t0 = spate_clock_now();
    if (o->duration > 0)
        spate_loop_timer(&L.ctx->loop, &L.stop, L.t0 + spate_clock_from_sec(o->duration));
    for (unsigned i = 0; i < L.nslots; i++) {
        struct slot *s = &L.slots[i];
        s->L = &L;
        spate_timer_init(&s->timer, on_slot_timer);
    }
    L.open = L.nslots;
    open_more(&L);
    while (L.open && !(L.stopping && L.o->duration > 0)) {
        if (L.stopping && L.finished >= L.started) break;
        rc = spate_loop_once(&L.ctx->loop, UINT64_MAX);
        if (rc < 0) {
            snprintf(err, errlen, "event loop failed: %s", strerror(-rc));
            break;
        }
        rc = 0;
    }
    rep->elapsed_ns = spate_clock_now() - L.t0;
    finish_run(&L);
out:
    free(L.slots);
    spate_buf_fini(&L.wire);
    spate_url_fini(&u);
    return rc;
}
