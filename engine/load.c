/* Load generation for `spate bench`: one request rendered once and shared read-only, a fixed set
 * of connection slots kept busy (closed model) or fed from a fixed-rate schedule (open model).
 * Every slot's connection is set up before the measured period starts, so the period measures
 * the number of open connections asked for, not a ramp. The hot path allocates nothing: slots,
 * connections and the request all live for the run. */
#include "buf.h"
#include "clock.h"
#include "conn.h"
#include "ctx.h"
#include "http1.h"
#include "sized.h"
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
    uint64_t t_setup, t0;        /* ns: set-up began; the measured period began */
    uint64_t origin;             /* ns: its planned start, the schedule's and the end's origin */
    uint64_t want;               /* with -n: requests to send in all (-n less skipped slots) */
    int limited;                 /* -n was given: `want` applies */
    int stopping;                /* no new requests */
    int setup_over;              /* set-up has ended (the measured period started or is due) */
    int cut;                     /* the run is over: duration ended, stop_fd, or out of memory */
    unsigned open;               /* slots with a live connection or one still to come */
    unsigned opening, next_open; /* connections being set up; first slot never opened */
    /* open model: this run's slot k is the schedule's slot slot_k + k * slot_n */
    uint64_t period_fs, next_k; /* femtoseconds between two slots of the whole schedule */
    unsigned slot_k, slot_n;
    struct slot *free_head; /* connected slots waiting for a scheduled request */
    struct spate_timer tick;
    struct spate_timer start; /* the common start, when set-up ended before it */
    struct spate_timer stop;
    struct spate_timer progress;
    struct spate_io stop_io;
    struct spate_load_report *rep;
};

struct slot {
    struct load *L;
    struct spate_conn *c;
    struct slot *next_free;
    struct spate_timer timer; /* request timeout, or the reconnect pause */
    uint64_t t_start;         /* latency origin of the request in flight, 0 = none */
    unsigned char busy, waiting_reconnect, is_free, opening;
    unsigned char up;   /* c is connected (set-up or handshake done) */
    unsigned char down; /* set-up failed: opened again when the measured period starts */
};

static const struct spate_conn_ops slot_ops;
static void feed_slot(struct load *L, struct slot *s);
static void opened(struct load *L, struct slot *s);
static void reconnect_later(struct load *L, struct slot *s, uint64_t pause);

/* ---------- the open model's schedule ---------- */

/* The same integer arithmetic as the command's scale-out split (cli/split.c), so that every
 * process of a test computes the same instants: slot i of the whole schedule is due
 * floor(i * period_fs / 1e6) ns after the origin. 128-bit products keep it exact. */
__extension__ typedef unsigned __int128 u128;
#define FS_PER_NS 1000000u

/* ns after the origin at which this run's k-th request is due. */
static uint64_t due_ns(const struct load *L, uint64_t k)
{
    u128 t = ((u128)k * L->slot_n + L->slot_k) * L->period_fs / FS_PER_NS;
    return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

/* How many of this run's slots are due strictly before t_ns after the origin. */
static uint64_t slots_before(const struct load *L, uint64_t t_ns)
{
    u128 all = ((u128)t_ns * FS_PER_NS + L->period_fs - 1) / L->period_fs;
    if (all <= L->slot_k) return 0;
    all = (all - L->slot_k + L->slot_n - 1) / L->slot_n;
    return all > UINT64_MAX ? UINT64_MAX : (uint64_t)all;
}

static uint64_t due_at(const struct load *L, uint64_t k)
{
    uint64_t d = due_ns(L, k);
    return d > UINT64_MAX - L->origin ? UINT64_MAX : L->origin + d;
}

static void opts_defaults(struct spate_load_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->size = sizeof(*o);
    o->connections = 64;
    o->stop_fd = -1;
}

void spate_load_opts_init_sized(struct spate_load_opts *o, size_t size)
{
    struct spate_load_opts d;
    opts_defaults(&d);
    spate_sized_out(o, size, &d, sizeof(d));
    o->size = size;
}

static int more_wanted(struct load *L)
{
    if (L->stopping) return 0;
    if (L->limited && L->rep->sent >= L->want) return 0;
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
        .at_ns = now > L->origin ? now - L->origin : 0,
    };
    s->t_start = 0;
    s->busy = 0;
    L->rep->finished++;
    L->rep->responses += k == SPATE_OK;
    spate_loop_untimer(&L->ctx->loop, &s->timer);
    if (L->cb) L->cb(L->user, &x);
    if (L->limited && L->rep->finished >= L->want) L->stopping = 1;
}

static void send_now(struct load *L, struct slot *s, uint64_t t_start)
{
    s->busy = 1;
    s->t_start = t_start;
    L->rep->sent++;
    spate_conn_send(s->c, L->wire.data, L->wire.len, L->head, NULL, NULL, NULL);
}

static void open_slot(struct load *L, struct slot *s, int again)
{
    s->waiting_reconnect = 0;
    s->down = 0;
    s->opening = 1;
    L->opening++;
    L->rep->connections_requested++;
    L->rep->reconnects += again != 0;
    s->c = spate_conn_open(L->ctx, &L->target, &slot_ops, s);
    if (!s->c) {
        L->stopping = L->cut = 1; /* out of memory: end the run, it cannot be measured honestly */
        L->open--;
        opened(L, s);
    }
}

/* ---------- set-up: every connection before the measured period ---------- */

/* The measured period begins at t0 (the planned origin, or later when set-up overran it). */
static void start_measuring(struct load *L, uint64_t t0)
{
    struct spate_load_report *r = L->rep;
    r->measuring = 1;
    L->t0 = t0;
    r->late_ns = t0 - L->origin;
    r->connections_up = 0;
    for (unsigned i = 0; i < L->nslots; i++)
        r->connections_up += L->slots[i].up;
    if (r->late_ns && L->period_fs) { /* the slots due before a late start are not sent */
        r->skipped = slots_before(L, r->late_ns);
        if (L->limited && r->skipped > L->want) r->skipped = L->want;
        L->next_k = r->skipped;
        if (L->limited) L->want -= r->skipped;
    }
    if (L->o->duration > 0) /* a late start still ends with the others */
        spate_loop_timer(&L->ctx->loop, &L->stop, L->origin + spate_clock_from_sec(L->o->duration));
    for (unsigned i = 0; i < L->nslots && !L->cut; i++) {
        struct slot *s = &L->slots[i];
        if (s->up)
            feed_slot(L, s);
        else if (s->down)
            reconnect_later(L, s, 0);
    }
}

static void on_start(struct spate_timer *t)
{
    struct load *L = spate_container_of(t, struct load, start);
    start_measuring(L, L->origin); /* the instant itself: every process counts from it */
}

/* Set-up is over: the measured period starts now, or waits with the connections open until the
 * common start (start_at, or the instant setup_done returns). The wall-clock start is turned into
 * this process's monotonic clock once, here. */
static void setup_over(struct load *L)
{
    uint64_t now = spate_clock_now();
    L->rep->setup_ns = now - L->t_setup;
    L->setup_over = 1;
    double at = L->o->start_at;
    if (L->o->setup_done) {
        double t = L->o->setup_done(L->user, L->rep);
        if (t < 0) { /* no start after all: the run ends before measuring */
            L->stopping = L->cut = 1;
            return;
        }
        if (t > 0) at = t;
        now = spate_clock_now(); /* the callback may have waited */
    }
    uint64_t wall = spate_clock_wall_ns();
    if (!(at > 0)) {
        L->origin = now;
        L->rep->start_unix = (double)wall / 1e9;
        start_measuring(L, now);
        return;
    }
    double ahead_ns = at * 1e9 - (double)wall; /* < 0: the start is past */
    L->rep->start_unix = at;
    if (ahead_ns > 0) {
        L->origin = now + (uint64_t)ahead_ns;
        spate_loop_timer(&L->ctx->loop, &L->start, L->origin);
        return;
    }
    uint64_t behind = (uint64_t)-ahead_ns;
    L->origin = behind < now ? now - behind : 0;
    L->rep->start_unix = (double)wall / 1e9;
    start_measuring(L, now);
}

/* Opens never-opened slots while fewer than MAX_OPENING connections are being set up: 10,000
 * simultaneous TLS handshakes would each hold their handshake state at the same moment, and
 * that peak, not the steady state, would set the memory a run needs. When the last one has come
 * up or failed, the measured period starts. */
static void open_more(struct load *L)
{
    while (L->next_open < L->nslots && L->opening < MAX_OPENING) {
        if (!more_wanted(L)) {
            L->open -= L->nslots - L->next_open; /* these will never be opened */
            L->next_open = L->nslots;
            break;
        }
        open_slot(L, &L->slots[L->next_open++], 0);
    }
    if (!L->setup_over && !L->cut && !L->opening && L->next_open == L->nslots) setup_over(L);
}

static void opened(struct load *L, struct slot *s)
{
    if (!s->opening) return;
    s->opening = 0;
    L->opening--;
    open_more(L);
}

/* A connection lost before the measured period: the slot waits for it (a failure there is a
 * set-up failure, not a failed request). */
static void lost_in_setup(struct load *L, struct slot *s)
{
    if (s->up) L->rep->connections_up--;
    s->up = 0;
    spate_conn_close(s->c);
    s->c = NULL;
    s->down = 1;
}

/* ---------- the measured period ---------- */

static void reconnect_later(struct load *L, struct slot *s, uint64_t pause)
{
    s->c = NULL;
    s->up = 0;
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
        s->up = 0;
        L->open--;
        return;
    }
    if (!L->period_fs) {
        send_now(L, s, spate_clock_now());
        if (L->o->timeout_ns)
            spate_loop_timer(&L->ctx->loop, &s->timer, s->t_start + L->o->timeout_ns);
        return;
    }
    uint64_t now = spate_clock_now();
    uint64_t due = due_at(L, L->next_k);
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
    struct load *L = spate_container_of(t, struct load, tick);
    while (L->free_head && more_wanted(L)) {
        struct slot *s = L->free_head;
        uint64_t due = due_at(L, L->next_k);
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
    struct load *L = s->L;
    s->up = 1;
    L->rep->connections_established++;
    if (!L->rep->measuring) {
        L->rep->connections_up++;
        opened(L, s); /* the last one to come up starts the measured period */
        return;
    }
    opened(L, s);
    feed_slot(L, s);
}

static void on_done(struct spate_conn *c)
{
    struct slot *s = c->user;
    struct load *L = s->L;
    int reuse = spate_conn_reusable(c);
    record(L, s, spate_conn_status(c), SPATE_OK, NULL, spate_conn_wire_bytes(c));
    if (reuse) {
        feed_slot(L, s);
        return;
    }
    spate_conn_close(c);
    reconnect_later(L, s, 0);
}

static void setup_failed(struct load *L, struct slot *s, enum spate_error_kind k)
{
    struct spate_load_sample x = {.error = k, .message = L->ctx->msg, .setup = 1};
    L->rep->setup_failed++;
    lost_in_setup(L, s);
    if (L->cb) L->cb(L->user, &x);
    opened(L, s);
}

static void on_fail(struct spate_conn *c, enum spate_error_kind k)
{
    struct slot *s = c->user;
    struct load *L = s->L;
    if (!L->rep->measuring) {
        setup_failed(L, s, k);
        return;
    }
    int was_busy = s->busy;
    if (!was_busy && more_wanted(L)) {
        /* a connection that never came up fails the request it was to carry: in the closed
         * model the next one, in the open model only a request that is already due */
        uint64_t now = spate_clock_now();
        uint64_t due = L->period_fs ? due_at(L, L->next_k) : now;
        if (due <= now) {
            L->next_k += L->period_fs != 0;
            L->rep->sent++;
            s->t_start = due;
            was_busy = 1;
        }
    }
    int established = spate_conn_had_exchanges(c);
    if (was_busy) record(L, s, 0, k, L->ctx->msg, 0);
    spate_conn_close(c);
    s->c = NULL;
    opened(L, s);
    reconnect_later(L, s, established ? 0 : RECONNECT_PAUSE);
}

static void on_idle_dead(struct spate_conn *c)
{
    struct slot *s = c->user;
    struct load *L = s->L;
    if (!L->rep->measuring) {
        lost_in_setup(L, s);
        return;
    }
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
    struct slot *s = spate_container_of(t, struct slot, timer);
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

/* ---------- the end of the run ---------- */

static void on_stop(struct spate_timer *t)
{
    struct load *L = spate_container_of(t, struct load, stop);
    L->stopping = L->cut = 1;
}

static void on_stop_fd(struct spate_io *io, unsigned ev)
{
    struct load *L = spate_container_of(io, struct load, stop_io);
    (void)ev;
    L->stopping = L->cut = 1;
    L->rep->interrupted = 1;
    spate_loop_del(&L->ctx->loop, io); /* level-triggered and never drained here */
}

static void stamp(struct load *L, uint64_t now)
{
    if (L->rep->measuring)
        L->rep->elapsed_ns = now - L->t0;
    else if (!L->setup_over)
        L->rep->setup_ns = now - L->t_setup;
}

static void on_progress(struct spate_timer *t)
{
    struct load *L = spate_container_of(t, struct load, progress);
    uint64_t now = spate_clock_now();
    stamp(L, now);
    L->o->progress(L->user, L->rep);
    spate_loop_timer(&L->ctx->loop, &L->progress, now + L->o->progress_ns);
}

/* Requests neither answered nor failed when the run ended: those in flight (latency origin
 * known) and, in the open model, those due by now but never sent because every connection was
 * busy. Counted apart with the age of the oldest; a wait so far is not a latency. */
static void account_outstanding(struct load *L, uint64_t now)
{
    struct spate_load_report *r = L->rep;
    uint64_t oldest = 0;
    for (unsigned i = 0; i < L->nslots; i++) {
        struct slot *s = &L->slots[i];
        if (!s->busy) continue;
        r->unfinished++;
        if (s->t_start && now - s->t_start > oldest) oldest = now - s->t_start;
    }
    if (L->period_fs && r->measuring && now >= L->origin) {
        uint64_t upto = now - L->origin + 1; /* own slots due by now, within the period */
        if (L->o->duration > 0 && upto > spate_clock_from_sec(L->o->duration))
            upto = spate_clock_from_sec(L->o->duration); /* a slot due at the end is not in it */
        uint64_t due = slots_before(L, upto);
        if (L->o->requests && due > L->o->requests) due = L->o->requests;
        if (due > L->next_k) {
            r->unsent = due - L->next_k;
            uint64_t first = due_at(L, L->next_k);
            if (now - first > oldest) oldest = now - first;
        }
    }
    r->oldest_ns = oldest;
}

static void finish_run(struct load *L)
{
    for (unsigned i = 0; i < L->nslots; i++) {
        struct slot *s = &L->slots[i];
        spate_loop_untimer(&L->ctx->loop, &s->timer);
        if (s->c) spate_conn_close(s->c);
    }
    spate_loop_untimer(&L->ctx->loop, &L->tick);
    spate_loop_untimer(&L->ctx->loop, &L->start);
    spate_loop_untimer(&L->ctx->loop, &L->stop);
    spate_loop_untimer(&L->ctx->loop, &L->progress);
    spate_loop_del(&L->ctx->loop, &L->stop_io);
    spate_loop_once(&L->ctx->loop, 0); /* reap the closed connections */
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

static int watch(struct load *L, char *err, size_t errlen)
{
    const struct spate_load_opts *o = L->o;
    if (o->stop_fd >= 0) {
        int rc = spate_loop_add(&L->ctx->loop, &L->stop_io, o->stop_fd, SPATE_EV_READ);
        if (rc) {
            snprintf(err, errlen, "cannot watch the stop descriptor: %s", strerror(-rc));
            return rc;
        }
    }
    if (o->progress && o->progress_ns)
        spate_loop_timer(&L->ctx->loop, &L->progress, L->t_setup + o->progress_ns);
    return 0;
}

/* Runs until the count is reached (every request ended), the duration is over or stop_fd. */
static int drive(struct load *L, char *err, size_t errlen)
{
    struct spate_load_report *r = L->rep;
    while (!L->cut) {
        if (r->measuring && (!L->open || (L->stopping && r->finished >= r->sent))) break;
        int rc = spate_loop_once(&L->ctx->loop, UINT64_MAX);
        if (rc < 0) {
            snprintf(err, errlen, "event loop failed: %s", strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static int schedule(struct load *L, char *err, size_t errlen)
{
    const struct spate_load_opts *o = L->o;
    L->want = o->requests;
    L->limited = o->requests != 0;
    L->slot_n = o->slot_n ? o->slot_n : 1;
    L->slot_k = o->slot_k;
    if (L->slot_k >= L->slot_n) {
        snprintf(err, errlen, "slot_k %u is not below slot_n %u", o->slot_k, L->slot_n);
        return -EINVAL;
    }
    if (!(o->rate > 0)) return 0;
    double p = 1e15 / o->rate;
    if (!(p >= 1 && p < 1.8e19)) {
        snprintf(err, errlen, "rate %g is out of range", o->rate);
        return -EINVAL;
    }
    /* round half to even, as nearbyint does in cli/split.c, without libm in the library */
    uint64_t f = (uint64_t)p;
    double frac = p - (double)f;
    L->period_fs = f + (frac > 0.5 || (frac == 0.5 && (f & 1)));
    return 0;
}

static int alloc_slots(struct load *L, char *err, size_t errlen)
{
    const struct spate_load_opts *o = L->o;
    L->nslots = o->connections ? o->connections : 64;
    if (o->requests && o->requests < L->nslots) L->nslots = (unsigned)o->requests;
    L->slots = calloc(L->nslots, sizeof(*L->slots));
    if (!L->slots) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < L->nslots; i++) {
        L->slots[i].L = L;
        spate_timer_init(&L->slots[i].timer, on_slot_timer);
    }
    L->open = L->nslots;
    L->rep->connections_wanted = L->nslots;
    return 0;
}

/* The program's options (of its own size) over the defaults. -EINVAL when size was never set. */
static int opts_read(struct spate_load_opts *full, const struct spate_load_opts *o, char *err,
                     size_t errlen)
{
    opts_defaults(full);
    if (!spate_sized_in(full, sizeof(*full), o)) {
        snprintf(err, errlen,
                 "spate_load_opts.size is not set: initialise it with spate_load_opts_init");
        return -EINVAL;
    }
    full->size = sizeof(*full);
    return 0;
}

static int run(struct spate_engine *e, const struct spate_load_opts *o, spate_load_cb cb,
               void *user, struct spate_load_report *rep, char *err, size_t errlen)
{
    struct load L;
    struct spate_url u;
    memset(&L, 0, sizeof(L));
    memset(rep, 0, sizeof(*rep));
    rep->size = sizeof(*rep); /* the struct the callbacks see, this library's */
    memset(&u, 0, sizeof(u));
    L.ctx = spate_engine_ctx(e);
    L.o = o;
    L.cb = cb;
    L.user = user;
    L.rep = rep;
    L.stop_io.fd = -1;
    L.stop_io.cb = on_stop_fd;
    spate_buf_init(&L.wire);
    spate_timer_init(&L.tick, on_tick);
    spate_timer_init(&L.start, on_start);
    spate_timer_init(&L.stop, on_stop);
    spate_timer_init(&L.progress, on_progress);
    int rc = prepare(&L, &u, err, errlen);
    if (!rc && u.https) rc = spate_engine_need_tls(e, err, errlen);
    if (!rc) rc = alloc_slots(&L, err, errlen);
    if (rc) goto out;
    rc = schedule(&L, err, errlen);
    if (rc) goto out;
    L.t_setup = spate_clock_now();
    rc = watch(&L, err, errlen);
    if (!rc) {
        open_more(&L);
        rc = drive(&L, err, errlen);
    }
    uint64_t now = spate_clock_now();
    stamp(&L, now);
    account_outstanding(&L, now);
    finish_run(&L);
out:
    free(L.slots);
    spate_buf_fini(&L.wire);
    spate_url_fini(&u);
    return rc;
}

int spate_load_run_sized(struct spate_engine *e, const struct spate_load_opts *given,
                         spate_load_cb cb, void *user, struct spate_load_report *rep,
                         size_t rep_size, char *err, size_t errlen)
{
    /* a report as large as this library's (or larger: a newer program's, its extra fields 0) is
     * filled as the run goes; an older program's shorter one gets its part at the end, and the
     * callbacks see this library's whole report */
    struct spate_load_report own;
    int direct = rep_size >= sizeof(own);
    if (rep_size < sizeof(rep->size)) {
        snprintf(err, errlen, "spate_load_run: the report's size is too small (%zu)", rep_size);
        return -EINVAL;
    }
    memset(rep, 0, rep_size); /* on every return, a failure too */
    rep->size = direct ? sizeof(own) : rep_size;
    struct spate_load_opts o;
    if (opts_read(&o, given, err, errlen)) return -EINVAL;
    int rc = run(e, &o, cb, user, direct ? rep : &own, err, errlen);
    if (!direct) {
        spate_sized_out(rep, rep_size, &own, sizeof(own));
        rep->size = rep_size;
    }
    return rc;
}
