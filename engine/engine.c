/* The engine: owns the loop, resolver, TLS context and pool, and runs each request's lifecycle:
 * queue -> slot (global cap, per-host cap, rate) -> connection -> response -> retry or done. */
#include "../dns/dns.h"
#include "../tls/tls.h"
#include "clock.h"
#include "conn.h"
#include "ctx.h"
#include "http1.h"
#include "limit.h"
#include "pool.h"
#include "request.h"
#include "retry.h"
#include "spate.h"
#include "url.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif
#include <fcntl.h>

#define READ_BUF (64 * 1024)
#define NAP_MIN_INFLIGHT 8 /* fewer in flight: a nap would mostly add latency, not batch */

struct spate_engine {
    struct spate_ctx ctx;
    struct spate_config cfg;
    uint64_t nap_ns;
    char *user_agent; /* owned */
    size_t ua_len;
    char *cacert; /* owned */
    struct spate_pool pool;
    struct spate_limit lim;
    size_t active; /* submitted and not yet completed */
    uint64_t rng;
    struct spate_req *all;   /* every active request (for cancel on destroy) */
    struct spate_req *spare; /* finished request objects kept for reuse (linked by next) */
    struct spate_req *dl_head, *dl_tail; /* running attempts in deadline order (see below) */
    struct spate_timer dl_timer;
    size_t nspare;
    /* the host loop's wake-up (see "Waking the host loop" in spate.h): readable after a
     * spate_submit made outside a callback, drained by the next step */
    struct spate_io wake_io;
    int wake_wfd; /* write end (== wake_io.fd for an eventfd) */
    unsigned char woken;
    unsigned cb_depth;        /* > 0 while one of the host's callbacks runs */
    struct spate_req *cb_req; /* the request whose head or body callback runs, if any */
};

static struct spate_engine *engine_of(struct spate_ctx *x)
{
    return (struct spate_engine *)((char *)x - offsetof(struct spate_engine, ctx));
}

static void start_attempt(void *owner, struct spate_req *r);
static int wake_init(struct spate_engine *e);
static void attempt_ended(struct spate_req *r, enum spate_error_kind k, const char *msg);

/* ---------- small helpers ---------- */

const char *spate_error_kind_name(enum spate_error_kind k)
{
    static const char *const names[] = {"",          "dns",   "connect",  "tls",
                                        "timeout",   "reset", "protocol", "http",
                                        "too_large", "input", "canceled"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

static void on_deadline(struct spate_timer *t);

void spate_config_init(struct spate_config *c)
{
    memset(c, 0, sizeof(*c));
    c->concurrency = 100;
    c->connect_timeout = 10;
    c->happy_eyeballs_delay = 0.25;
    c->timeout = 30;
    c->backoff = 0.5;
    c->backoff_max = 30;
    c->retry_after_max = 60;
    c->max_redirs = 10;
    c->dns_ttl = -1;
    c->dns_cache_size = 10000;
    c->max_body = 64ull << 20;
    c->max_header_bytes = 64 << 10;
    c->max_headers = 256;
    c->user_agent = "spate/" SPATE_VERSION;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

static double secs(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / 1e9 : 0;
}

/* The wall clock in Unix seconds (for the result's start; durations use the monotonic clock). */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------- engine life ---------- */

static int start_tls_ctx(struct spate_engine *e, char *err, size_t errlen)
{
    if (e->ctx.tls) return 0;
    struct spate_tls_opts o = {.cacert = e->cacert, .insecure = e->cfg.insecure};
    return spate_tls_create(&e->ctx.tls, &o, err, errlen);
}

int spate_engine_create(struct spate_engine **out, const struct spate_config *cfg, char *err,
                        size_t errlen)
{
    char dummy[8];
    if (!err) err = dummy, errlen = sizeof(dummy);
    *out = NULL;
    struct spate_engine *e = calloc(1, sizeof(*e));
    if (!e) return -ENOMEM;
    e->cfg = *cfg;
    if (!e->cfg.concurrency) e->cfg.concurrency = 1;
    e->user_agent = dup_str(cfg->user_agent);
    e->ua_len = e->user_agent ? strlen(e->user_agent) : 0;
    e->cacert = dup_str(cfg->cacert);
    e->rng = (uint64_t)spate_clock_now() | 1;
    e->nap_ns = (uint64_t)cfg->coalesce_us * 1000;
    spate_timer_init(&e->dl_timer, on_deadline);
    struct spate_ctx *x = &e->ctx;
    x->loop.bfd = -1; /* nothing to close if we fail before the loop exists */
    e->wake_wfd = -1;
    x->lim.max_body = cfg->max_body;
    x->lim.max_header_bytes = cfg->max_header_bytes;
    x->lim.max_headers = cfg->max_headers;
    x->connect_timeout = spate_clock_from_sec(cfg->connect_timeout);
    x->race_delay = spate_clock_from_sec(cfg->happy_eyeballs_delay);
    x->read_timeout = spate_clock_from_sec(cfg->read_timeout);
    x->rbuf_len = READ_BUF;
    x->rbuf = malloc(READ_BUF);
    spate_limit_init(&e->lim, &x->loop, cfg->concurrency, cfg->per_host, cfg->rate, start_attempt,
                     e);
    e->lim.pool = &e->pool;
    int rc = -ENOMEM;
    if (!x->rbuf || (cfg->user_agent && !e->user_agent) || (cfg->cacert && !e->cacert)) goto fail;
    if ((rc = spate_loop_init(&x->loop)) < 0) {
        snprintf(err, errlen, "cannot create event loop: %s", strerror(-rc));
        goto fail;
    }
    if ((rc = wake_init(e)) < 0) {
        snprintf(err, errlen, "cannot create the wake-up descriptor: %s", strerror(-rc));
        goto fail;
    }
    if ((rc = spate_pool_init(&e->pool, &x->loop)) < 0) goto fail;
    struct spate_dns_opts d = {
        .fixed_ttl = cfg->dns_ttl,
        .servers = cfg->dns_servers,
        .n_servers = cfg->n_dns_servers,
        .pins = cfg->resolve,
        .n_pins = cfg->n_resolve,
        /* two tries (the second doubled: 3/4 of the budget) must end inside the connect
         * budget, so a silent DNS server reads as a DNS failure, not a connect timeout */
        .timeout = cfg->connect_timeout > 0 ? cfg->connect_timeout / 4 : 0,
        .cache_size = !cfg->dns_cache_size             ? -1
                      : cfg->dns_cache_size > LONG_MAX ? LONG_MAX
                                                       : (long)cfg->dns_cache_size,
    };
    if ((rc = spate_dns_create(&x->dns, &x->loop, &d, err, errlen)) < 0) goto fail;
    *out = e;
    return 0;
fail:
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    spate_engine_destroy(e);
    return rc;
}

/* ---------- request objects ---------- */

/* A finished request object goes back to a short list with its small buffers, so a batch of a
 * million requests does not pay for a calloc and three buffer allocations each. */
#define SPARE_MAX 1024
#define SPARE_BUF_MAX 4096 /* a buffer that grew beyond this is freed, not kept */

static void set_method(struct spate_req *r, const char *m)
{
    if (r->method != r->method_buf) free(r->method);
    size_t n = strlen(m);
    if (n < sizeof(r->method_buf)) {
        memcpy(r->method_buf, m, n + 1);
        r->method = r->method_buf;
    } else {
        r->method = strdup(m);
    }
}

static void keep_small(struct spate_buf *b)
{
    if (b->cap > SPARE_BUF_MAX) spate_buf_fini(b);
    spate_buf_reset(b);
}

/* Frees what the request owns; its buffers are emptied but kept. */
static void clear_req(struct spate_req *r)
{
    if (r->method != r->method_buf) free(r->method);
    spate_url_fini(&r->url);
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r->message);
    free(r->location);
    keep_small(&r->wire);
    keep_small(&r->acc);
    keep_small(&r->hstore);
    keep_small(&r->bodybuf);
}

static void free_bufs(struct spate_req *r)
{
    spate_buf_fini(&r->wire);
    spate_buf_fini(&r->acc);
    spate_buf_fini(&r->hstore);
    spate_buf_fini(&r->bodybuf);
}

static void free_req(struct spate_req *r)
{
    struct spate_engine *e = r->e;
    clear_req(r);
    if (r->host) spate_pool_unref(&e->pool, r->host);
    r->host = NULL;
    if (e->nspare >= SPARE_MAX) {
        free_bufs(r);
        free(r);
        return;
    }
    r->next = e->spare;
    e->spare = r;
    e->nspare++;
}

/* A zeroed request object (the spare ones keep their buffers' memory). */
static struct spate_req *new_req(struct spate_engine *e)
{
    struct spate_req *r = e->spare;
    if (!r) return calloc(1, sizeof(*r));
    e->spare = r->next;
    e->nspare--;
    struct spate_buf keep[4] = {r->wire, r->acc, r->hstore, r->bodybuf};
    memset(r, 0, sizeof(*r));
    r->wire = keep[0];
    r->acc = keep[1];
    r->hstore = keep[2];
    r->bodybuf = keep[3];
    return r;
}

static void free_spares(struct spate_engine *e)
{
    while (e->spare) {
        struct spate_req *r = e->spare;
        e->spare = r->next;
        free_bufs(r);
        free(r);
    }
    e->nspare = 0;
}

static const char *default_method(const struct spate_request *q)
{
    if (q->method && *q->method) return q->method;
    return q->body ? "POST" : "GET";
}

/* Everything but the URL, which the caller parses. */
static int check_parts(const struct spate_request *q, char *err, size_t errlen)
{
    if (!q->url) {
        snprintf(err, errlen, "no URL given");
        return -EINVAL;
    }
    int rc = spate_http1_check_method(default_method(q), err, errlen);
    for (size_t i = 0; !rc && i < q->nheaders; i++) {
        if (!q->headers[i].name || !q->headers[i].value) {
            snprintf(err, errlen, "header %zu has no name or value", i);
            return -EINVAL;
        }
        rc = spate_http1_check_header(q->headers[i].name, q->headers[i].value, err, errlen);
    }
    return rc;
}

int spate_request_check(const struct spate_request *q, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) err = dummy, errlen = sizeof(dummy);
    if (!q) {
        snprintf(err, errlen, "no request given");
        return -EINVAL;
    }
    int rc = check_parts(q, err, errlen);
    if (rc) return rc;
    return spate_url_check(q->url, err, errlen);
}

/* The request's host entry, with a reference that free_req gives back. */
static struct spate_host *host_for(struct spate_engine *e, const struct spate_url *u)
{
    return spate_pool_host(&e->pool, u->https, u->host, u->host_ip, u->port);
}

static int render(struct spate_engine *e, struct spate_req *r, char *err, size_t errlen)
{
    struct spate_http1_req h = {
        .method = r->method,
        .authority = r->url.authority,
        .target = r->url.target,
        .userinfo = r->url.userinfo,
        .headers = r->headers,
        .nheaders = r->nheaders,
        .user_agent = e->user_agent,
        .body = r->body,
        .body_len = r->body_len,
        .has_body = r->has_body,
    };
    spate_buf_reset(&r->wire);
    return spate_http1_render(&r->wire, &h, err, errlen);
}

/* A bound on the rendered head's size (every part it may hold, with room for the fixed text),
 * so a request that surely fits is rendered only when it starts: a queued request then holds
 * no copy of its head and body. */
static size_t head_bound(const struct spate_engine *e, const struct spate_req *r, size_t url_len)
{
    /* the target may triple (percent-encoded bytes), the userinfo too and then grow by 4/3 in
     * base64; authority is shorter than the URL */
    size_t n = 256 + strlen(r->method) + 8 * url_len + e->ua_len;
    for (size_t i = 0; i < r->nheaders; i++)
        n += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;
    return n;
}

/* What of a parsed URL the head holds, as a length to bound it by (see head_bound). */
static size_t url_parts_len(const struct spate_url *u)
{
    return strlen(u->target) + strlen(u->authority) + (u->userinfo ? strlen(u->userinfo) : 0);
}

static int copy_request(struct spate_req *r, const struct spate_request *q)
{
    set_method(r, default_method(q));
    if (!r->method) return -ENOMEM;
    if (q->nheaders) {
        r->headers = calloc(q->nheaders, sizeof(*r->headers));
        if (!r->headers) return -ENOMEM;
        for (size_t i = 0; i < q->nheaders; i++, r->nheaders++) {
            r->headers[i].name = strdup(q->headers[i].name);
            r->headers[i].value = strdup(q->headers[i].value);
            if (!r->headers[i].name || !r->headers[i].value) {
                r->nheaders++;
                return -ENOMEM;
            }
        }
    }
    if (q->body) {
        r->has_body = 1;
        r->body_len = q->body_len;
        r->body = malloc(q->body_len ? q->body_len : 1);
        if (!r->body) return -ENOMEM;
        memcpy(r->body, q->body, q->body_len);
    }
    return 0;
}

/* The options the host gave, each 0 taking the engine's value. */
static int apply_opts(struct spate_engine *e, struct spate_req *r,
                      const struct spate_request_opts *o, char *err, size_t errlen)
{
    struct spate_request_opts v = {0};
    r->retries = e->cfg.retries;
    r->follow = e->cfg.follow_redirects != 0;
    r->max_redirs = e->cfg.max_redirs;
    if (!o) return 0;
    if (o->size < sizeof(size_t)) {
        snprintf(err, errlen, "spate_request_opts.size must be set (to sizeof the struct)");
        return -EINVAL;
    }
    /* an older caller's shorter struct: the fields it does not know stay 0 */
    memcpy(&v, o, o->size < sizeof(v) ? o->size : sizeof(v));
    if (v.timeout != v.timeout) {
        snprintf(err, errlen, "timeout is not a number");
        return -EINVAL;
    }
    if (v.timeout < 0)
        r->timeout_ns = UINT64_MAX;
    else if (v.timeout > 0)
        r->timeout_ns = spate_clock_from_sec(v.timeout) ? spate_clock_from_sec(v.timeout) : 1;
    if (spate_conn_timeout_opt("connect_timeout", v.connect_timeout, &r->connect_ns, err, errlen) ||
        spate_conn_timeout_opt("read_timeout", v.read_timeout, &r->read_ns, err, errlen))
        return -EINVAL;
    if (v.retries > 0) r->retries = (unsigned)v.retries;
    if (v.retries < 0) r->retries = 0;
    if (v.follow_redirects) r->follow = v.follow_redirects > 0;
    if (v.max_redirs) r->max_redirs = v.max_redirs;
    r->max_body = v.max_body;
    r->on_head = v.on_head;
    return 0;
}

/* After a submit outside a callback, the engine fd turns readable so the host loop comes round
 * (its timer may be armed for much later). Inside a callback the engine is running anyway. */
static void wake_host(struct spate_engine *e)
{
    if (e->cb_depth || e->woken || e->wake_wfd < 0) return;
    uint64_t one = 1;
    if (write(e->wake_wfd, &one, e->wake_wfd == e->wake_io.fd ? sizeof(one) : 1) > 0) e->woken = 1;
}

static void on_wake(struct spate_io *io, unsigned events)
{
    struct spate_engine *e =
        (struct spate_engine *)((char *)io - offsetof(struct spate_engine, wake_io));
    char buf[64];
    (void)events;
    while (read(io->fd, buf, sizeof(buf)) > 0)
        ;
    e->woken = 0;
}

static int wake_init(struct spate_engine *e)
{
    int rfd;
#ifdef __linux__
    rfd = e->wake_wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rfd < 0) return -errno;
#else
    int p[2];
    if (pipe(p)) return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
    }
    rfd = p[0];
    e->wake_wfd = p[1];
#endif
    e->wake_io.cb = on_wake;
    int rc = spate_loop_add(&e->ctx.loop, &e->wake_io, rfd, SPATE_EV_READ);
    if (rc < 0) {
        close(rfd);
        if (e->wake_wfd != rfd) close(e->wake_wfd);
        e->wake_wfd = -1;
    }
    return rc;
}

static void wake_fini(struct spate_engine *e)
{
    if (e->wake_wfd < 0) return;
    int rfd = e->wake_io.fd;
    spate_loop_del(&e->ctx.loop, &e->wake_io);
    close(rfd);
    if (e->wake_wfd != rfd) close(e->wake_wfd);
    e->wake_wfd = -1;
}

int spate_submit(struct spate_engine *e, const struct spate_request *q, char *err, size_t errlen)
{
    return spate_submit_ex(e, q, NULL, NULL, err, errlen);
}

int spate_submit_ex(struct spate_engine *e, const struct spate_request *q,
                    const struct spate_request_opts *o, struct spate_req **handle, char *err,
                    size_t errlen)
{
    char dummy[8];
    if (!err) err = dummy, errlen = sizeof(dummy);
    if (!q || !q->done) {
        snprintf(err, errlen, "a request needs a completion callback");
        return -EINVAL;
    }
    int rc = check_parts(q, err, errlen);
    if (rc) return rc;
    struct spate_req *r = new_req(e);
    if (!r) return -ENOMEM;
    r->e = e;
    r->keep_body = q->keep_body;
    r->skip_headers = q->skip_headers;
    r->on_body = q->on_body;
    r->done = q->done;
    r->user = q->user;
    r->retry_after = -1;
    spate_timer_init(&r->timer, NULL);
    rc = apply_opts(e, r, o, err, errlen);
    if (!rc) rc = spate_url_parse(&r->url, q->url, err, errlen);
    if (rc) {
        free_req(r);
        return rc;
    }
    if (!rc) rc = copy_request(r, q);
    /* one that may not fit is rendered now, so spate_submit reports it (and keeps the head) */
    if (!rc && head_bound(e, r, strlen(q->url)) > SPATE_HTTP1_MAX_REQUEST_HEAD)
        rc = render(e, r, err, errlen);
    if (!rc && r->url.https) rc = start_tls_ctx(e, err, errlen);
    if (!rc) {
        r->host = host_for(e, &r->url);
        if (!r->host) rc = -ENOMEM;
    }
    if (rc) {
        if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
        free_req(r);
        return rc;
    }
    spate_limit_push(&e->lim, r);
    e->active++;
    r->anext = e->all;
    if (e->all) e->all->aprev = r;
    e->all = r;
    if (handle) *handle = r;
    wake_host(e);
    return 0;
}

static void attempt_timed_out(struct spate_req *r);

/* ---------- attempt deadlines ----------
 * Every attempt gets the same --timeout, so deadlines come in the order attempts start: a FIFO
 * list does what a heap would, in O(1) and without touching other requests. One loop timer
 * stands for the list; removing the head does not re-arm it (most attempts end long before
 * their deadline): when it fires early it is simply set again for the current head. */

static void deadline_del(struct spate_engine *e, struct spate_req *r)
{
    if (!r->dl_on) return;
    r->dl_on = 0;
    if (r->dl_prev)
        r->dl_prev->dl_next = r->dl_next;
    else
        e->dl_head = r->dl_next;
    if (r->dl_next)
        r->dl_next->dl_prev = r->dl_prev;
    else
        e->dl_tail = r->dl_prev;
    r->dl_prev = r->dl_next = NULL;
    if (!e->dl_head) spate_loop_untimer(&e->ctx.loop, &e->dl_timer); /* nothing left to time */
}

static void deadline_add(struct spate_engine *e, struct spate_req *r, uint64_t deadline)
{
    deadline_del(e, r);
    r->deadline = deadline;
    r->dl_on = 1;
    r->dl_next = NULL;
    r->dl_prev = e->dl_tail;
    if (e->dl_tail)
        e->dl_tail->dl_next = r;
    else
        e->dl_head = r;
    e->dl_tail = r;
    if (!spate_timer_armed(&e->dl_timer))
        spate_loop_timer(&e->ctx.loop, &e->dl_timer, e->dl_head->deadline);
}

static void on_deadline(struct spate_timer *t)
{
    struct spate_engine *e =
        (struct spate_engine *)((char *)t - offsetof(struct spate_engine, dl_timer));
    uint64_t now = e->ctx.loop.now;
    struct spate_req *r;
    while ((r = e->dl_head) && r->deadline <= now) {
        deadline_del(e, r);
        attempt_timed_out(r);
    }
    if (e->dl_head) spate_loop_timer(&e->ctx.loop, &e->dl_timer, e->dl_head->deadline);
}

/* Stops the attempt's deadline and any backoff wait. */
static void stop_timers(struct spate_engine *e, struct spate_req *r)
{
    spate_loop_untimer(&e->ctx.loop, &r->timer);
    deadline_del(e, r);
}

/* ---------- completion ---------- */

static void build_headers(struct spate_req *r, struct spate_header *v)
{
    const char *p = r->hstore.data;
    for (size_t i = 0; i < r->nresp_headers; i++) {
        v[i].name = p;
        p += strlen(p) + 1;
        v[i].value = p;
        p += strlen(p) + 1;
    }
}

static uint64_t later(uint64_t a, uint64_t b)
{
    return b > a ? b : a;
}

/* The points of the final attempt and the whole life (see struct spate_timing): each mark that
 * did not happen, or came before the previous point, takes the previous point's value. */
static void fill_timing(const struct spate_req *r, uint64_t end_of_life, struct spate_timing *t)
{
    if (!r->t_first) { /* never attempted */
        memset(t, 0, sizeof(*t));
        return;
    }
    uint64_t a = r->t_attempt, dns = later(a, r->m_dns), tcp = later(dns, r->m_tcp),
             tls = later(tcp, r->m_tls), first = later(tls, r->m_first),
             end = later(first, r->m_end);
    t->dns = secs(a, dns);
    t->connect = secs(a, tcp);
    t->tls = secs(a, tls);
    t->ttfb = secs(a, first);
    t->total = secs(a, end);
    t->elapsed = secs(r->t_first, later(end, end_of_life));
}

/* end_of_life: monotonic ns the request ends (the final attempt's end, or a cancel). */
static void complete(struct spate_req *r, uint64_t end_of_life)
{
    struct spate_engine *e = r->e;
    r->phase = REQ_DONE;
    stop_timers(e, r);
    struct spate_header *hv = NULL;
    if (r->nresp_headers && !r->skip_headers) hv = calloc(r->nresp_headers, sizeof(*hv));
    if (hv) build_headers(r, hv);
    struct spate_response resp = {
        .status = r->status,
        .error = r->error,
        .message = r->message ? r->message : "",
        .attempts = r->attempts ? r->attempts : r->t_first != 0, /* 0: never attempted */
        .body_bytes = r->body_bytes,
        .body = r->keep_body ? (r->bodybuf.data ? r->bodybuf.data : "") : NULL,
        .body_len = r->keep_body ? r->bodybuf.len : 0,
        .headers = hv,
        .nheaders = hv ? r->nresp_headers : 0,
        .start = r->t_first ? r->wall_first : 0,
        .remote = r->remote,
        .tls_resumed = r->tls_resumed,
        .reused = r->reused,
    };
    fill_timing(r, end_of_life, &resp.time);
    e->active--;
    if (r->aprev)
        r->aprev->anext = r->anext;
    else
        e->all = r->anext;
    if (r->anext) r->anext->aprev = r->aprev;
    e->cb_depth++;
    r->done(r->user, &resp);
    e->cb_depth--;
    free(hv);
    free_req(r);
}

static void set_error(struct spate_req *r, enum spate_error_kind k, const char *msg)
{
    r->error = k;
    free(r->message);
    r->message = k ? strdup(msg ? msg : "") : NULL;
}

/* ---------- attempts ---------- */

static void on_req_timer(struct spate_timer *t);
static const struct spate_conn_ops conn_ops;

static void release_slot(struct spate_req *r)
{
    if (r->inflight) {
        r->inflight = 0;
        r->e->lim.inflight--;
    }
}

static void forget_conn(struct spate_engine *e, struct spate_conn *c)
{
    struct spate_host *h =
        (struct spate_host *)((char *)c->target - offsetof(struct spate_host, target));
    h->nconns--;
    e->pool.nconns--;
    spate_conn_close(c);
    spate_pool_release(&e->pool, h);
}

static int evict_idle(struct spate_engine *e)
{
    struct spate_conn *c = spate_pool_oldest(&e->pool);
    if (!c) return 0;
    struct spate_host *h =
        (struct spate_host *)((char *)c->target - offsetof(struct spate_host, target));
    spate_pool_unlink(&e->pool, h, c);
    forget_conn(e, c);
    return 1;
}

static void body_reset(struct spate_req *r)
{
    spate_buf_reset(&r->bodybuf);
    spate_buf_reset(&r->hstore);
    r->nresp_headers = 0;
    r->body_bytes = 0;
    r->status = 0;
    r->retry_after = -1;
    free(r->location);
    r->location = NULL;
    if (r->streamed && r->on_body) {
        struct spate_engine *e = r->e;
        struct spate_req *outer = e->cb_req;
        e->cb_depth++;
        e->cb_req = r; /* a spate_cancel of r from here only marks it */
        r->on_body(r->user, NULL, 0);
        e->cb_depth--;
        e->cb_req = outer;
    }
    r->streamed = 0;
}

static void on_header(void *owner, const char *name, size_t nlen, const char *val, size_t vlen)
{
    struct spate_req *r = owner;
    if (nlen == 8 && !strncasecmp(name, "Location", 8) && !r->location)
        r->location = strndup(val, vlen);
    if (nlen == 11 && !strncasecmp(name, "Retry-After", 11)) {
        double s;
        if (spate_retry_after_parse(val, vlen, time(NULL), &s)) r->retry_after = s;
    }
    if (r->skip_headers && !r->on_head) return;
    if (spate_buf_reserve(&r->hstore, nlen + vlen + 2))
        return; /* out of memory: the header is dropped from the result, nothing else */
    spate_buf_add(&r->hstore, name, nlen);
    spate_buf_add(&r->hstore, "", 1);
    spate_buf_add(&r->hstore, val, vlen);
    spate_buf_add(&r->hstore, "", 1);
    r->nresp_headers++;
}

static int on_body(void *owner, const char *p, size_t n)
{
    struct spate_req *r = owner;
    if (r->stop) return -1;
    r->body_bytes += n;
    if (r->max_body && r->body_bytes > r->max_body) {
        r->stop = 2;
        return -1;
    }
    if (r->keep_body && spate_buf_add(&r->bodybuf, p, n)) return -1;
    if (r->on_body) {
        r->streamed = 1;
        struct spate_engine *e = r->e;
        struct spate_req *outer = e->cb_req;
        e->cb_depth++;
        e->cb_req = r;
        int rc = r->on_body(r->user, p, n);
        e->cb_depth--;
        e->cb_req = outer;
        if (rc && !r->stop) r->stop = 1;
        return r->stop ? -1 : 0;
    }
    return 0;
}

static int is_redirect(int s);

/* The final response's head, to the host's head callback. */
static void call_head(struct spate_req *r, int status)
{
    struct spate_engine *e = r->e;
    struct spate_header *hv = NULL;
    if (r->nresp_headers) hv = calloc(r->nresp_headers, sizeof(*hv));
    if (hv) build_headers(r, hv);
    struct spate_req *outer = e->cb_req;
    e->cb_depth++;
    e->cb_req = r;
    int rc = r->on_head(r->user, status, hv, hv ? r->nresp_headers : 0);
    e->cb_depth--;
    e->cb_req = outer;
    free(hv);
    if (rc && !r->stop) r->stop = 1;
}

/* A redirect that will be followed: its body is of no use to anyone. */
static int on_unwanted_body(void *owner, int status)
{
    struct spate_req *r = owner;
    if (r->follow && is_redirect(status) && r->location) return 1;
    if (r->on_head && !r->stop) call_head(r, status);
    return r->stop != 0; /* stopped: the body is not read (the connection closes) */
}

static const struct spate_http1_sink sink = {
    .header = on_header,
    .body = on_body,
    .unwanted_body = on_unwanted_body,
};

static void send_on(struct spate_req *r, struct spate_conn *c)
{
    r->conn = c;
    c->user = r;
    memcpy(r->remote, c->peer_str, sizeof(c->peer_str));
    /* headers are assembled only for someone: the result, a redirect or a Retry-After */
    struct spate_engine *e = r->e;
    int want = !r->skip_headers || r->follow || r->retries || r->on_head;
    (void)e;
    c->read_timeout = r->read_ns; /* this exchange's, the request's option */
    spate_conn_send(c, r->wire.data, r->wire.len, !strcmp(r->method, "HEAD"), &sink, r,
                    want ? &r->acc : NULL);
}

/* A pooled connection to a name is only reused while its address is still in the name's
 * record set. An expired entry starts a refresh (its answer lands in the cache for the next
 * checkout) and the connection is used meanwhile, as the previous answer allowed. */
static int addr_still_current(struct spate_engine *e, struct spate_conn *c)
{
    if (c->target->host_ip) return 1;
    if (!spate_dns_fresh(e->ctx.dns, c->target->host, c->target->port)) return 1;
    return spate_dns_addr_current(e->ctx.dns, c->target->host, &c->peer.sa);
}

static struct spate_conn *take_idle(struct spate_engine *e, struct spate_host *h)
{
    struct spate_conn *c;
    while ((c = spate_pool_take(&e->pool, h))) {
        if (addr_still_current(e, c)) return c;
        forget_conn(e, c);
    }
    return NULL;
}

/* Starts an attempt; the limiter checked the slots and the rate. */
static void start_attempt(void *owner, struct spate_req *r)
{
    struct spate_engine *e = owner;
    struct spate_host *h = r->host;
    uint64_t now = spate_loop_update_now(&e->ctx.loop);
    r->phase = REQ_RUNNING;
    r->inflight = 1;
    e->lim.inflight++;
    if (!r->t_first) {
        r->t_first = now;
        r->wall_first = wall_now();
    }
    r->t_attempt = now;
    r->m_dns = r->m_tcp = r->m_tls = r->m_first = r->m_end = 0;
    r->resp_started = 0;
    body_reset(r);
    if (r->stop) { /* canceled from the body callback's reset call */
        attempt_ended(r, SPATE_E_CANCELED, "canceled");
        return;
    }
    if (!r->wire.len) { /* the head, rendered on first use */
        char err[160];
        int rc = render(e, r, err, sizeof(err));
        if (rc) {
            attempt_ended(r, SPATE_E_INPUT, rc == -ENOMEM ? "out of memory" : err);
            return;
        }
    }
    if (!r->timeout_ns) {
        if (e->cfg.timeout > 0) deadline_add(e, r, now + spate_clock_from_sec(e->cfg.timeout));
    } else if (r->timeout_ns != UINT64_MAX) { /* its own: a timer, out of the FIFO list */
        r->timer.cb = on_req_timer;
        spate_loop_timer(&e->ctx.loop, &r->timer, now + r->timeout_ns);
    }
    struct spate_conn *c = r->force_new ? NULL : take_idle(e, h);
    if (c) {
        r->reused = 1;
        e->ctx.stats.reused++;
        send_on(r, c);
        return;
    }
    r->reused = 0;
    if (e->pool.nconns >= e->cfg.concurrency) evict_idle(e);
    h->nconns++;
    e->pool.nconns++;
    r->conn = spate_conn_open_within(&e->ctx, &h->target, &conn_ops, r, r->connect_ns);
    if (!r->conn) {
        h->nconns--;
        e->pool.nconns--;
        attempt_ended(r, SPATE_E_CONNECT, "out of memory opening a connection");
    }
}

/* ---------- outcome of an attempt ---------- */

static int retryable(struct spate_req *r, enum spate_error_kind k, int got_bytes)
{
    struct spate_engine *e = r->e;
    if (r->attempts - r->hop_attempts > r->retries) return 0;
    if (!e->cfg.retry_all_methods && !spate_http1_idempotent(r->method)) return 0;
    switch (k) {
    case SPATE_E_DNS:
    case SPATE_E_CONNECT:
    case SPATE_E_TIMEOUT:
        return 1;
    case SPATE_E_RESET:
        return !got_bytes;
    case SPATE_E_HTTP:
        return spate_retry_status(r->status);
    default:
        return 0;
    }
}

static void schedule_retry(struct spate_req *r)
{
    struct spate_engine *e = r->e;
    uint64_t wait;
    if (r->retry_after >= 0 && (r->status == 429 || r->status == 503)) {
        double s =
            r->retry_after < e->cfg.retry_after_max ? r->retry_after : e->cfg.retry_after_max;
        wait = spate_clock_from_sec(s);
        spate_limit_hold(&e->lim, r->host, spate_clock_now() + wait);
    } else {
        wait = spate_retry_backoff(e->cfg.backoff, e->cfg.backoff_max, r->attempts, &e->rng);
    }
    r->phase = REQ_BACKOFF;
    r->timer.cb = on_req_timer;
    spate_loop_timer(&e->ctx.loop, &r->timer, spate_clock_now() + wait);
}

/* Every attempt ends here exactly once (the connection already detached). */
static void attempt_ended(struct spate_req *r, enum spate_error_kind k, const char *msg)
{
    struct spate_engine *e = r->e;
    if (!r->m_end) r->m_end = spate_clock_now();
    r->conn = NULL;
    r->attempts++;
    stop_timers(e, r);
    release_slot(r);
    set_error(r, k, msg);
    int got = r->status != 0 || r->resp_started;
    if (k != SPATE_OK && retryable(r, k, got))
        schedule_retry(r);
    else
        complete(r, r->m_end);
    spate_limit_pump(&e->lim);
}

static int is_redirect(int s)
{
    return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* Headers that carry credentials must not follow a request to another origin. */
static void drop_credentials(struct spate_req *r)
{
    static const char *const secret[] = {"Authorization", "Cookie", "Proxy-Authorization", "Host"};
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        int drop = 0;
        for (size_t j = 0; j < sizeof(secret) / sizeof(secret[0]); j++)
            drop |= !strcasecmp(r->headers[i].name, secret[j]);
        if (drop) {
            free((char *)r->headers[i].name);
            free((char *)r->headers[i].value);
        } else {
            r->headers[n++] = r->headers[i];
        }
    }
    r->nheaders = n;
}

/* Follows r->location: 0 when the request was re-queued for the new URL, else -1 with msg. */
static int follow(struct spate_req *r, char *msg, size_t len)
{
    struct spate_engine *e = r->e;
    struct spate_url next;
    char err[200];
    if (r->redirects >= r->max_redirs) {
        snprintf(msg, len, "too many redirects (%u): a redirect loop? last Location: %.200s",
                 r->max_redirs, r->location);
        return -1;
    }
    if (spate_url_resolve(&next, &r->url, r->location, err, sizeof(err))) {
        snprintf(msg, len, "redirect refused: %.150s (Location: %.150s)", err, r->location);
        return -1;
    }
    if (!spate_url_same_origin(&next, &r->url)) drop_credentials(r);
    if ((r->status == 303 && strcmp(r->method, "HEAD")) ||
        ((r->status == 301 || r->status == 302) && !strcmp(r->method, "POST"))) {
        set_method(r, "GET");
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
        r->has_body = 0;
    }
    struct spate_host *h =
        spate_pool_host(&e->pool, next.https, next.host, next.host_ip, next.port);
    int rc = r->method && h ? 0 : -ENOMEM;
    if (!rc && next.https) rc = start_tls_ctx(e, err, sizeof(err));
    spate_url_fini(&r->url);
    r->url = next;
    if (!rc && head_bound(e, r, url_parts_len(&r->url)) > SPATE_HTTP1_MAX_REQUEST_HEAD)
        rc = render(e, r, err, sizeof(err));
    else
        spate_buf_reset(&r->wire); /* rendered when the next hop starts */
    if (rc) {
        if (h) spate_pool_unref(&e->pool, h);
        snprintf(msg, len, "cannot follow redirect: %s", rc == -ENOMEM ? "out of memory" : err);
        return -1;
    }
    spate_pool_unref(&e->pool, r->host);
    r->host = h;
    r->redirects++;
    r->attempts = 0;
    r->hop_attempts = 0;
    spate_limit_push_front(&e->lim, r); /* keeps its place at the front */
    return 0;
}

static void response_done(struct spate_req *r)
{
    if (r->stop) { /* stopped from the head callback; what came of the body is not used */
        attempt_ended(r, SPATE_E_CANCELED, "canceled");
        return;
    }
    if (r->follow && is_redirect(r->status) && r->location) {
        char m[400];
        struct spate_engine *e = r->e;
        r->conn = NULL;
        stop_timers(e, r);
        release_slot(r);
        /* a hop is not an attempt: attempts count tries of the final URL */
        if (follow(r, m, sizeof(m)) == 0) {
            spate_limit_pump(&e->lim);
            return;
        }
        attempt_ended(r, SPATE_E_HTTP, m);
        return;
    }
    if (r->status >= 400 && !r->e->cfg.no_fail) {
        char m[64];
        snprintf(m, sizeof(m), "HTTP status %d", r->status);
        attempt_ended(r, SPATE_E_HTTP, m);
    } else {
        attempt_ended(r, SPATE_OK, NULL);
    }
}

/* Copies the attempt's marks from its connection when the attempt ends (the connection may be
 * pooled or closed right after). A pooled connection's set-up belongs to an earlier request. */
static void take_marks(struct spate_req *r, const struct spate_conn *c)
{
    if (!r->reused) {
        r->m_dns = c->t_dns;
        r->m_tcp = c->t_tcp;
        r->m_tls = c->t_tls;
        r->tls_resumed = c->resumed;
    }
    r->m_first = c->t_first; /* 0 until a byte of this exchange came */
}

static void on_ready(struct spate_conn *c)
{
    send_on(c->user, c);
}

static void on_done(struct spate_conn *c)
{
    struct spate_req *r = c->user;
    struct spate_engine *e = r->e;
    struct spate_host *h = r->host;
    r->status = c->resp.status;
    take_marks(r, c);
    r->m_end = c->last_io; /* read when the last byte came */
    if (spate_conn_reusable(c)) {
        c->user = NULL;
        spate_pool_put(&e->pool, h, c);
    } else {
        forget_conn(e, c);
    }
    response_done(r);
}

static void on_fail(struct spate_conn *c, enum spate_error_kind k)
{
    struct spate_req *r = c->user;
    struct spate_engine *e = r->e;
    int started = c->state != SPATE_CONN_RESOLVING && spate_http1_started(&c->resp);
    int unsent = c->out_off == 0;
    r->resp_started = (unsigned char)started; /* a response had begun: not retried */
    memcpy(r->remote, c->peer_str, sizeof(c->peer_str));
    take_marks(r, c);
    r->m_end = spate_clock_now();
    forget_conn(e, c);
    /* a pooled connection the server had already closed: not the request's fault */
    if (r->reused && !started && k == SPATE_E_RESET && !r->stale_resent &&
        (spate_http1_idempotent(r->method) || unsent || e->cfg.retry_all_methods)) {
        r->stale_resent = 1;
        r->force_new = 1;
        e->ctx.stats.stale_resends++;
        r->conn = NULL;
        stop_timers(e, r);
        release_slot(r);
        spate_limit_push_front(&e->lim, r); /* it keeps its place at the front */
        spate_limit_pump(&e->lim);
        return;
    }
    r->force_new = 0;
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
    struct spate_engine *e = engine_of(c->ctx);
    struct spate_host *h =
        (struct spate_host *)((char *)c->target - offsetof(struct spate_host, target));
    spate_pool_unlink(&e->pool, h, c);
    forget_conn(e, c);
    spate_limit_pump(&e->lim);
}

static const struct spate_conn_ops conn_ops = {
    .ready = on_ready,
    .done = on_done,
    .fail = on_fail,
    .idle_dead = on_idle_dead,
};

/* The end of a backoff wait. */
static void on_req_timer(struct spate_timer *t)
{
    struct spate_req *r = (struct spate_req *)((char *)t - offsetof(struct spate_req, timer));
    struct spate_engine *e = r->e;
    if (r->phase == REQ_RUNNING) { /* its own attempt timeout */
        attempt_timed_out(r);
        return;
    }
    if (r->phase != REQ_BACKOFF) return;
    r->force_new = 0;
    spate_limit_push_front(&e->lim, r); /* before requests that have not started yet */
    spate_limit_pump(&e->lim);
}

static void attempt_timed_out(struct spate_req *r)
{
    struct spate_engine *e = r->e;
    if (r->phase != REQ_RUNNING) return;
    char m[160];
    double t = r->timeout_ns ? (double)r->timeout_ns / 1e9 : e->cfg.timeout;
    snprintf(m, sizeof(m), "timeout: no complete response from %s within %g s", r->url.host, t);
    if (r->conn) {
        struct spate_conn *c = r->conn;
        take_marks(r, c);
        forget_conn(e, c);
    }
    attempt_ended(r, SPATE_E_TIMEOUT, m);
}

/* ---------- running ---------- */

struct spate_ctx *spate_engine_ctx(struct spate_engine *e)
{
    return &e->ctx;
}

int spate_engine_need_tls(struct spate_engine *e, char *err, size_t errlen)
{
    return start_tls_ctx(e, err, errlen);
}

int spate_run(struct spate_engine *e)
{
    if (e->cb_depth) return -EDEADLK; /* the wait would nest over the batch being dispatched */
    spate_limit_pump(&e->lim);
    while (e->active) {
        uint64_t cap = UINT64_MAX;
        if (e->cfg.before_wait) {
            e->cb_depth++;
            int ms = e->cfg.before_wait(e->cfg.before_wait_arg);
            e->cb_depth--;
            if (ms >= 0) cap = (uint64_t)ms * SPATE_NS_PER_MS;
            spate_limit_pump(&e->lim); /* what before_wait submitted starts before the wait */
        }
        e->ctx.loop.nap_ns = e->lim.inflight >= NAP_MIN_INFLIGHT ? e->nap_ns : 0;
        int rc = spate_loop_once(&e->ctx.loop, cap);
        if (rc < 0) return rc;
    }
    return 0;
}

int spate_engine_fd(const struct spate_engine *e)
{
    return e->ctx.loop.bfd;
}

int spate_engine_timeout_ms(struct spate_engine *e)
{
    struct spate_limit *l = &e->lim;
    if (l->q_head && l->inflight < l->concurrency && !spate_timer_armed(&l->rate_timer)) return 0;
    uint64_t ns = spate_loop_next_timeout(&e->ctx.loop);
    if (ns == UINT64_MAX) return -1;
    return ns / SPATE_NS_PER_MS > 1000000000 ? 1000000000
                                             : (int)((ns + SPATE_NS_PER_MS - 1) / SPATE_NS_PER_MS);
}

int spate_engine_step(struct spate_engine *e)
{
    if (e->cb_depth) return -EDEADLK;
    /* events first: an idle connection the server closed while the caller was polling must be
     * seen before the limiter hands it out */
    int rc = spate_loop_once(&e->ctx.loop, 0);
    if (rc < 0) return rc;
    spate_limit_pump(&e->lim);
    return e->active > (size_t)0x7fffffff ? 0x7fffffff : (int)e->active;
}

void spate_engine_stats(const struct spate_engine *e, struct spate_stats *out)
{
    *out = e->ctx.stats;
    struct spate_dns_stats d;
    spate_dns_get_stats(e->ctx.dns, &d);
    out->dns_queries = d.queries;
    out->dns_cache_hits = d.cache_hits;
    out->in_flight = e->lim.inflight;
}

/* r is in no limiter queue. The attempt it cuts counts as one. */
static void cancel(struct spate_req *r, const char *why)
{
    uint64_t now = spate_clock_now();
    set_error(r, SPATE_E_CANCELED, why);
    if (r->phase == REQ_RUNNING) { /* the attempt in flight ends here, and counts */
        r->attempts++;
        r->m_end = now;
    }
    if (r->conn) {
        take_marks(r, r->conn);
        forget_conn(r->e, r->conn);
        r->conn = NULL;
    }
    release_slot(r);
    complete(r, now);
}

static void cancel_all(struct spate_engine *e)
{
    spate_limit_clear(&e->lim);
    while (e->all)
        cancel(e->all, "canceled: the engine was destroyed");
}

static int never_started(const struct spate_req *r)
{
    return !r->t_first;
}

static int any_req(const struct spate_req *r)
{
    (void)r;
    return 1;
}

size_t spate_engine_cancel(struct spate_engine *e, enum spate_cancel_scope which, const char *why)
{
    int all = which == SPATE_CANCEL_ALL;
    struct spate_req *list = spate_limit_sift(&e->lim, all ? any_req : never_started);
    struct spate_req **tail = &list;
    while (*tail)
        tail = &(*tail)->next;
    size_t n = 0;
    /* attempts running and backoff waits are in no queue: ->next is free to list them */
    for (struct spate_req *r = e->all; all && r; r = r->anext)
        if (r == e->cb_req) { /* its head or body callback runs: it stops as that returns */
            r->stop = 1;
            n++;
        } else if (r->phase == REQ_RUNNING || r->phase == REQ_BACKOFF) {
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        }
    while (list) { /* callbacks may submit: those requests are not on this list */
        struct spate_req *r = list;
        list = r->next;
        r->next = NULL;
        cancel(r, why ? why : "canceled");
        n++;
    }
    spate_limit_pump(&e->lim);
    return n;
}

static int is_target(const struct spate_req *r)
{
    return r->stop == 3;
}

/* Where r waits: the limiter's queues, a running attempt or a backoff wait. */
int spate_cancel(struct spate_engine *e, struct spate_req *r)
{
    if (!r || r->e != e) return -EINVAL;
    if (r->phase == REQ_DONE) return -EALREADY;
    if (r == e->cb_req) { /* inside its own head or body callback: stops as it returns */
        if (!r->stop) r->stop = 1;
        return 0;
    }
    if (r->phase == REQ_QUEUED || r->phase == REQ_HOSTWAIT) {
        /* only r is marked: nothing else runs between marking and sifting. O(queued). */
        r->stop = 3;
        spate_limit_sift(&e->lim, is_target);
    }
    r->stop = 1;
    cancel(r, "canceled");
    spate_limit_pump(&e->lim);
    return 0;
}

void spate_engine_destroy(struct spate_engine *e)
{
    if (!e) return;
    if (e->cb_depth) return; /* from a callback: refused (see spate.h) */
    if (e->ctx.rbuf) {
        wake_fini(e);
        cancel_all(e);
        spate_loop_untimer(&e->ctx.loop, &e->dl_timer);
        spate_limit_fini(&e->lim);
        spate_pool_fini(&e->pool);
        spate_dns_destroy(e->ctx.dns);
        spate_loop_fini(&e->ctx.loop);
        spate_tls_destroy(e->ctx.tls);
    }
    free_spares(e);
    free(e->ctx.rbuf);
    free(e->user_agent);
    free(e->cacert);
    free(e);
}
