/* The public face: engine lifetime (the loop, resolver, TLS context, pool and limiter it owns),
 * submitting, the calls a host loop makes (run, step, fd, timeout, stats), waking the host loop
 * and cancel. A request's life runs in request.c (the object), attempt.c (its attempts),
 * redirect.c and response.c. */
#include "engine.h"
#include "../dns/dns.h"
#include "../tls/tls.h"
#include "attempt.h"
#include "clock.h"
#include "conn.h"
#include "sized.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif
#include <fcntl.h>

#define READ_BUF (64 * 1024)
#define NAP_MIN_INFLIGHT 8 /* fewer in flight: a nap would mostly add latency, not batch */

static int wake_init(struct spate_engine *e);
static void wake_fini(struct spate_engine *e);

const char *spate_error_kind_name(enum spate_error_kind k)
{
    static const char *const names[] = {"",          "dns",   "connect",  "tls",
                                        "timeout",   "reset", "protocol", "http",
                                        "too_large", "input", "canceled"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

static void config_defaults(struct spate_config *c)
{
    memset(c, 0, sizeof(*c));
    c->size = sizeof(*c);
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

void spate_config_init_sized(struct spate_config *c, size_t size)
{
    struct spate_config d;
    config_defaults(&d);
    spate_sized_out(c, size, &d, sizeof(d));
    c->size = size;
}

/* The program's config (of its own size) over the defaults: what an older, shorter struct
 * does not hold keeps its default. -EINVAL when size was never set. */
static int config_read(struct spate_config *full, const struct spate_config *cfg, char *err,
                       size_t errlen)
{
    config_defaults(full);
    if (!spate_sized_in(full, sizeof(*full), cfg)) {
        snprintf(err, errlen, "spate_config.size is not set: initialise it with spate_config_init");
        return -EINVAL;
    }
    full->size = sizeof(*full);
    return 0;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---------- engine life ---------- */

int spate_engine_need_tls(struct spate_engine *e, char *err, size_t errlen)
{
    if (e->ctx.tls) return 0;
    struct spate_tls_opts o = {.cacert = e->cacert, .insecure = e->cfg.insecure};
    return spate_tls_create(&e->ctx.tls, &o, err, errlen);
}

/* The parts that cannot fail: configuration, the connections' shared context, the limiter. */
static void set_up(struct spate_engine *e, const struct spate_config *cfg)
{
    e->cfg = *cfg;
    if (!e->cfg.concurrency) e->cfg.concurrency = 1;
    e->user_agent = dup_str(cfg->user_agent);
    e->ua_len = e->user_agent ? strlen(e->user_agent) : 0;
    e->cacert = dup_str(cfg->cacert);
    e->rng = (uint64_t)spate_clock_now() | 1;
    e->nap_ns = (uint64_t)cfg->coalesce_us * 1000;
    spate_list_init(&e->started);
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
    spate_deadlines_init(&e->dl, &x->loop, spate_attempt_expired);
    spate_limit_init(&e->lim, &x->loop, cfg->concurrency, cfg->per_host, cfg->rate,
                     spate_attempt_start, e);
    e->lim.pool = &e->pool;
}

static int start_dns(struct spate_engine *e, const struct spate_config *cfg, char *err,
                     size_t errlen)
{
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
    return spate_dns_create(&e->ctx.dns, &e->ctx.loop, &d, err, errlen);
}

int spate_engine_create(struct spate_engine **out, const struct spate_config *given, char *err,
                        size_t errlen)
{
    char dummy[8];
    if (!err) err = dummy, errlen = sizeof(dummy);
    *out = NULL;
    struct spate_config full;
    const struct spate_config *cfg = &full;
    if (config_read(&full, given, err, errlen)) return -EINVAL;
    struct spate_engine *e = calloc(1, sizeof(*e));
    if (!e) return -ENOMEM;
    set_up(e, cfg);
    struct spate_ctx *x = &e->ctx;
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
    if ((rc = start_dns(e, cfg, err, errlen)) < 0) goto fail;
    *out = e;
    return 0;
fail:
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    spate_engine_destroy(e);
    return rc;
}

/* ---------- waking the host loop ---------- */

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
    struct spate_engine *e = spate_container_of(io, struct spate_engine, wake_io);
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

/* ---------- submitting ---------- */

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
    int rc = spate_req_check_parts(q, err, errlen);
    if (rc) return rc;
    struct spate_req *r = spate_req_new(e);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = spate_req_fill(r, q, o, err, errlen);
    if (rc) {
        spate_req_free(r);
        return rc;
    }
    spate_limit_push(&e->lim, r);
    e->active++;
    if (handle) *handle = r;
    wake_host(e);
    return 0;
}

/* ---------- running ---------- */

struct spate_ctx *spate_engine_ctx(struct spate_engine *e)
{
    return &e->ctx;
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
        e->ctx.loop.nap_ns = spate_limit_inflight(&e->lim) >= NAP_MIN_INFLIGHT ? e->nap_ns : 0;
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
    if (spate_limit_startable(&e->lim)) return 0;
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

void spate_engine_stats_sized(const struct spate_engine *e, struct spate_stats *out, size_t size)
{
    struct spate_stats st = e->ctx.stats;
    struct spate_dns_stats d;
    spate_dns_get_stats(e->ctx.dns, &d);
    st.dns_queries = d.queries;
    st.dns_cache_hits = d.cache_hits;
    st.in_flight = spate_limit_inflight(&e->lim);
    st.size = size < sizeof(st) ? size : sizeof(st);
    spate_sized_out(out, size, &st, sizeof(st));
}

/* ---------- cancel ---------- */

static int never_started(const struct spate_req *r)
{
    return !r->att; /* allocated when the first attempt starts */
}

static int any_req(const struct spate_req *r)
{
    (void)r;
    return 1;
}

/* Appends to *tail's list the started requests whose attempt runs or which wait to retry (they
 * are in no queue: ->next is free to list them); a request whose callback runs is only marked.
 * Returns how many were marked. */
static size_t list_running(struct spate_engine *e, struct spate_req ***tail)
{
    size_t n = 0;
    struct spate_list *l, *tmp;
    spate_list_foreach(l, tmp, &e->started)
    {
        struct spate_req *r = spate_container_of(l, struct spate_attempt, link)->r;
        if (r == e->cb_req) { /* its head or body callback runs: it stops as that returns */
            r->stop = 1;
            n++;
        } else if (!r->held && (r->phase == REQ_RUNNING || r->phase == REQ_BACKOFF)) {
            /* (a held one is on the list of a bulk cancel that runs this callback: its own) */
            r->next = NULL;
            r->held = 1;
            **tail = r;
            *tail = &r->next;
        }
    }
    return n;
}

/* Marks every request of a list taken out of the limiter as held by the caller; returns it. */
static struct spate_req *hold(struct spate_req *list)
{
    for (struct spate_req *r = list; r; r = r->next)
        r->held = 1;
    return list;
}

/* Ends the first request of a held list and returns the rest. A done callback run earlier in
 * the same bulk cancel may have canceled it already (spate_cancel): then only its memory is left
 * to free, as response.c leaves a held request's to its holder. */
static struct spate_req *end_held(struct spate_req *r, const char *why)
{
    struct spate_req *rest = r->next;
    r->next = NULL;
    r->held = 0;
    if (r->phase == REQ_DONE)
        spate_req_free(r);
    else
        spate_attempt_cancel(r, why);
    return rest;
}

/* Engine teardown: every request completes, canceled: the queued ones (taken from the limiter,
 * which then starts nothing more), the started ones, and any a callback submits meanwhile. */
static void cancel_all(struct spate_engine *e)
{
    static const char why[] = "canceled: the engine was destroyed";
    e->bulk = 1; /* never reset: the engine is going */
    struct spate_req *q = hold(spate_limit_sift(&e->lim, any_req));
    spate_limit_clear(&e->lim);
    for (;;) {
        if (!q) q = hold(spate_limit_sift(&e->lim, any_req));
        struct spate_list *n = spate_list_first(&e->started);
        if (q) { /* first: a re-queued started request is on both lists */
            q = end_held(q, why);
        } else if (n) {
            spate_attempt_cancel(spate_container_of(n, struct spate_attempt, link)->r, why);
        } else {
            break;
        }
    }
}

size_t spate_engine_cancel(struct spate_engine *e, enum spate_cancel_scope which, const char *why)
{
    if (e->bulk) return 0; /* called from a callback of destroy: that one covers it */
    int all = which == SPATE_CANCEL_ALL;
    struct spate_req *list = hold(spate_limit_sift(&e->lim, all ? any_req : never_started));
    struct spate_req **tail = &list;
    while (*tail)
        tail = &(*tail)->next;
    size_t n = all ? list_running(e, &tail) : 0;
    while (list) { /* callbacks may submit: those requests are not on this list */
        list = end_held(list, why ? why : "canceled");
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
    spate_attempt_cancel(r, "canceled");
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
        spate_deadlines_fini(&e->dl);
        spate_limit_fini(&e->lim);
        spate_pool_fini(&e->pool);
        spate_dns_destroy(e->ctx.dns);
        spate_loop_fini(&e->ctx.loop);
        spate_tls_destroy(e->ctx.tls);
    }
    spate_req_free_spares(e);
    spate_attempt_free_spares(e);
    free(e->ctx.rbuf);
    free(e->user_agent);
    free(e->cacert);
    free(e);
}
