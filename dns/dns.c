/* c-ares glue: drives one ares channel from the spate loop (sockets through ARES_OPT_SOCK_STATE_CB,
 * timeouts through one loop timer), answers literals, pins and localhost itself, and puts the
 * TTL cache and query coalescing in front of c-ares. */
#include "dns.h"
#include "err.h"
#include "cache.h"
#include "clock.h"
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TTL 3600 /* seconds: clamp for record TTLs */
#define TRIES 2
#define DEFAULT_TIMEOUT 2.0
#define MSG_MAX 400

/* A c-ares socket registered with the loop. Records are recycled, not freed, until destroy: the
 * loop may still hold a stale event for a socket c-ares closed earlier in the same batch. */
struct dsock {
    struct spate_io io;
    struct spate_dns *d;
    struct dsock *next;
    int fd;
    int live;
};

/* Where a query is: waiting on its run's lookup, posted (its answer known, delivered from the
 * loop), or being delivered right now. */
enum qstate { Q_WAITING, Q_POSTED, Q_DELIVERING };

struct spate_dns_query {
    struct spate_list link; /* in its run's waiters (Q_WAITING) or the resolver's posted list */
    struct spate_work work; /* Q_POSTED: in the loop's queue */
    struct spate_dns *d;
    spate_dns_cb cb;
    void *arg;
    unsigned port;
    enum qstate state;
    /* A posted answer: the held entry's (with status, if nonzero, overriding it), else n
     * addresses at ip (a literal in lit, a pin's, localhost's), else the error status about
     * host (owned). */
    struct spate_dns_entry *e;
    int status, cached;
    const struct spate_dns_ip *ip;
    unsigned n;
    struct spate_dns_ip lit;
    char *host;
};

/* One in-flight ares_getaddrinfo; every waiter on the name shares it. Owned by c-ares until its
 * callback runs (exactly once, also from ares_destroy), then freed by finish() or drop(). */
struct run {
    struct spate_dns *d;
    struct spate_dns_entry *e; /* holds a ref */
    struct spate_list waiters; /* spate_dns_query.link, in the order they asked */
    int status;
    int starting; /* inside ares_getaddrinfo: a synchronous answer is finished by the caller */
    int done;
};

struct pin {
    char host[SPATE_DNS_MAX_NAME + 1];
    unsigned port, n;
    struct spate_dns_ip ip[SPATE_DNS_MAX_ADDRS];
};

struct spate_dns {
    struct spate_loop *loop;
    ares_channel ch;
    struct spate_timer tmo; /* ares_timeout() */
    struct dsock *socks;
    struct spate_dns_cache cache;
    struct pin *pins;
    size_t n_pins;
    double fixed_ttl;
    struct spate_dns_stats stats;
    unsigned depth;           /* frames that may run user callbacks; teardown waits for 0 */
    int doomed;               /* destroy was called */
    int closing;              /* teardown: c-ares callbacks drop their waiters silently */
    struct spate_list posted; /* spate_dns_query.link of the queries in Q_POSTED */
    struct spate_reap reap;
};

static const struct spate_dns_ip loopback[2] = {
    {.family = AF_INET, .b = {127, 0, 0, 1}},
    {.family = AF_INET6, .b = {[15] = 1}},
};

/* ---- names and literals ---- */

/* Parses an IPv4 dotted quad or an IPv6 literal (brackets and a %zone optional). 0 or -1. */
static int parse_ip(const char *s, size_t len, struct spate_dns_ip *ip)
{
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    int bracketed = len >= 2 && s[0] == '[' && s[len - 1] == ']';
    if (bracketed) {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(ip, 0, sizeof(*ip));
    if (!bracketed && inet_pton(AF_INET, buf, ip->b) == 1) {
        ip->family = AF_INET;
        return 0;
    }
    char *zone = strchr(buf, '%');
    if (zone) *zone++ = '\0';
    if (inet_pton(AF_INET6, buf, ip->b) != 1) return -1;
    ip->family = AF_INET6;
    if (zone) {
        char *end;
        unsigned long id = strtoul(zone, &end, 10);
        if (*zone == '\0' || *end != '\0') id = if_nametoindex(zone);
        if (id == 0 || id > UINT32_MAX) return -1;
        ip->scope = (uint32_t)id;
    }
    return 0;
}

/* Copies host lowercased into key; 0 when empty or too long for a DNS name. */
static int normalize(const char *host, size_t len, char key[SPATE_DNS_MAX_NAME + 1])
{
    if (len == 0 || len > SPATE_DNS_MAX_NAME) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        key[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    key[len] = '\0';
    return 1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* LDH labels (plus '_') of 1..63 bytes, <= 253 in all; a numeric last label is an IPv4 form that
 * inet_pton refused (127.1, 0x7f.1, 0177.0.0.1) and must not go to DNS. key is lowercased. */
static int valid_name(const char *key)
{
    size_t len = strlen(key);
    if (len && key[len - 1] == '.') len--;
    if (len == 0 || len > 253) return 0;
    size_t label = 0, last = 0;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (c == '.') {
            if (label == 0) return 0;
            label = 0;
            last = i + 1;
            continue;
        }
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_')) return 0;
        if (++label > 63) return 0;
    }
    if (label == 0) return 0;
    size_t i = last, numeric = 1;
    if (len - last >= 2 && key[last] == '0' && key[last + 1] == 'x') {
        for (i = last + 2; i < len; i++)
            numeric &= is_hex(key[i]);
    } else {
        for (; i < len; i++)
            numeric &= is_digit(key[i]);
    }
    return !numeric;
}

/* RFC 6761 6.3: localhost and *.localhost are loopback, never sent to DNS. */
static int is_localhost(const char *key)
{
    size_t len = strlen(key);
    if (len && key[len - 1] == '.') len--;
    if (len == 9) return memcmp(key, "localhost", 9) == 0;
    return len > 10 && memcmp(key + len - 10, ".localhost", 10) == 0;
}

/* Copies host for a message: bytes outside printable ASCII as \xNN, long names cut with "...". */
static void show(char *out, size_t outlen, const char *host)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)host; *p; p++) {
        if (o + 8 >= outlen) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (*p > 0x20 && *p < 0x7f)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
    }
    out[o] = '\0';
}

static void describe(char *buf, size_t len, int status, const char *host)
{
    char h[300];
    show(h, sizeof(h), host);
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
        snprintf(buf, len, "could not resolve host %s (NXDOMAIN)", h);
        break;
    case ARES_ENODATA:
        snprintf(buf, len, "could not resolve host %s (no address records)", h);
        break;
    case ARES_ECONNREFUSED: /* what 1.18.1 reports for SERVFAIL, REFUSED and a closed port */
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
        snprintf(buf, len, "DNS lookup for %s failed (server failure, refused or unreachable)", h);
        break;
    case ARES_ETIMEOUT:
        snprintf(buf, len, "DNS lookup for %s timed out", h);
        break;
    case ARES_EBADNAME:
        snprintf(buf, len, "invalid host name %s", h);
        break;
    case ARES_ENOMEM:
        snprintf(buf, len, "DNS lookup for %s failed (out of memory)", h);
        break;
    default:
        snprintf(buf, len, "DNS lookup for %s failed (%s)", h, ares_strerror(status));
        break;
    }
}

static int negative(int status)
{
    return status == ARES_ENOTFOUND || status == ARES_ENONAME || status == ARES_ENODATA;
}

/* ---- delivering answers ---- */

#define STACK_ADDRS 16 /* answers up to this size are handed over from the stack */

static void deliver_ips(const struct spate_dns_ip *ip, unsigned n, unsigned port, spate_dns_cb cb,
                        void *arg, int cached)
{
    struct spate_dns_addr small[STACK_ADDRS];
    struct spate_dns_addr *out = n <= STACK_ADDRS ? small : malloc(n * sizeof(*out));
    if (!out) { /* the first ones are still an answer */
        out = small;
        n = STACK_ADDRS;
    }
    for (unsigned i = 0; i < n; i++)
        out[i].len = spate_dns_ip_to_sa(&ip[i], port, &out[i].sa);
    struct spate_dns_answer a = {.ok = 1, .n = n, .addrs = out, .cached = cached};
    cb(arg, &a);
    if (out != small) free(out);
}

static void deliver_error(int status, const char *host, spate_dns_cb cb, void *arg, int cached)
{
    char msg[MSG_MAX];
    describe(msg, sizeof(msg), status, host);
    struct spate_dns_answer a = {.ok = 0, .error = msg, .cached = cached};
    cb(arg, &a);
}

/* status != 0 overrides the entry (a failure that did not replace the cached answer). */
static void deliver_entry(const struct spate_dns_entry *e, int status, unsigned port,
                          spate_dns_cb cb, void *arg, int cached)
{
    int st = status ? status : e->status;
    if (st == 0 && e->n)
        deliver_ips(e->ip, e->n, port, cb, arg, cached);
    else
        deliver_error(st ? st : ARES_ENODATA, e->host, cb, arg, cached);
}

static void wlink(struct spate_list *l, struct spate_dns_query *w)
{
    spate_list_append(l, &w->link);
    w->state = Q_WAITING;
}

static void wunlink(struct spate_dns_query *w)
{
    spate_list_remove(&w->link);
    w->state = Q_DELIVERING;
}

/* Frees a query that is on no list, with the entry hold it may have. */
static void free_query(struct spate_dns *d, struct spate_dns_query *q)
{
    if (q->e) spate_dns_cache_release(&d->cache, q->e); /* may free the entry */
    free(q->host);
    free(q);
}

static void enter(struct spate_dns *d);
static void leave(struct spate_dns *d);

/* The loop's turn for a posted query: its owner hears the answer now, after the resolve that
 * found it has long returned. */
static void on_posted(struct spate_work *wk)
{
    struct spate_dns_query *q = spate_container_of(wk, struct spate_dns_query, work);
    struct spate_dns *d = q->d;
    spate_list_remove(&q->link);
    q->state = Q_DELIVERING; /* a cancel from inside the callback is a no-op */
    enter(d);
    if (q->e)
        deliver_entry(q->e, q->status, q->port, q->cb, q->arg, q->cached);
    else if (q->n)
        deliver_ips(q->ip, q->n, q->port, q->cb, q->arg, 1);
    else
        deliver_error(q->status, q->host, q->cb, q->arg, 1);
    free_query(d, q);
    leave(d); /* may tear d down (destroyed from the callback) */
}

/* Queues q's answer (already filled in) for the loop's next turn, behind those before it. */
static void post(struct spate_dns *d, struct spate_dns_query *q)
{
    q->state = Q_POSTED;
    spate_list_append(&d->posted, &q->link);
    spate_work_init(&q->work, on_posted);
    spate_loop_post(d->loop, &q->work);
}

/* Posts e's answer to q, holding e until delivery (status != 0 overrides it). */
static void post_entry(struct spate_dns *d, struct spate_dns_query *q, struct spate_dns_entry *e,
                       int status, int cached)
{
    spate_dns_cache_hold(&d->cache, e);
    q->e = e;
    q->status = status;
    q->cached = cached;
    post(d, q);
}

/* The first waiter of a run, or NULL. */
static struct spate_dns_query *first_waiter(struct run *r)
{
    return spate_list_entry(spate_list_first(&r->waiters), struct spate_dns_query, link);
}

/* ---- the c-ares side ---- */

static void teardown(struct spate_dns *d);

static void enter(struct spate_dns *d)
{
    d->depth++;
}

/* Ends a frame; the last one out performs a destroy requested inside it. d may be gone after. */
static void leave(struct spate_dns *d)
{
    if (--d->depth == 0 && d->doomed) teardown(d);
}

static void rearm(struct spate_dns *d)
{
    struct timeval tv;
    if (!d->ch || !ares_timeout(d->ch, NULL, &tv)) {
        spate_loop_untimer(d->loop, &d->tmo);
        return;
    }
    /* ares_timeout truncates to the millisecond: one more avoids waking just before the deadline */
    uint64_t ns =
        (uint64_t)tv.tv_sec * SPATE_NS_PER_SEC + (uint64_t)tv.tv_usec * 1000u + SPATE_NS_PER_MS;
    /* -ENOMEM leaves it unarmed; the next socket event or resolve re-arms */
    (void)spate_loop_timer(d->loop, &d->tmo, spate_clock_now() + ns);
}

static void on_timer(struct spate_timer *t)
{
    struct spate_dns *d = spate_container_of(t, struct spate_dns, tmo);
    enter(d);
    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(d);
    leave(d);
}

static void on_io(struct spate_io *io, unsigned ev)
{
    struct dsock *s = spate_container_of(io, struct dsock, io);
    struct spate_dns *d = s->d;
    ares_socket_t fd = io->fd;
    /* an error is learnt by reading, or by writing when c-ares waits to write (TCP connect) */
    ares_socket_t r = (ev & (SPATE_EV_READ | SPATE_EV_ERROR)) ? fd : ARES_SOCKET_BAD;
    int wants_w = (ev & SPATE_EV_WRITE) || ((ev & SPATE_EV_ERROR) && (io->mask & SPATE_EV_WRITE));
    ares_socket_t w = wants_w ? fd : ARES_SOCKET_BAD;
    enter(d);
    ares_process_fd(d->ch, r, w); /* may close s's fd and reuse s for another */
    rearm(d);
    leave(d);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct spate_dns *d = data;
    struct dsock *s = NULL, *spare = NULL;
    for (struct dsock *it = d->socks; it && !s; it = it->next) {
        if (it->live && it->fd == fd)
            s = it;
        else if (!it->live && !spare)
            spare = it;
    }
    if (!readable && !writable) {
        if (s) {
            spate_loop_del(d->loop, &s->io);
            s->live = 0;
        }
        return;
    }
    unsigned mask = (readable ? SPATE_EV_READ : 0u) | (writable ? SPATE_EV_WRITE : 0u);
    if (s && s->io.fd >= 0 && s->io.mask != mask) {
        (void)spate_loop_mod(d->loop, &s->io, mask);
        return;
    }
    if (s) {
        /* the same interest announced again: the number was closed and reopened; start afresh */
        spate_loop_del(d->loop, &s->io);
    } else {
        if (!spare) {
            spare = calloc(1, sizeof(*spare));
            if (!spare) return; /* never polled: its queries end by timeout */
            spare->d = d;
            spare->io.fd = -1;
            spare->next = d->socks;
            d->socks = spare;
        }
        s = spare;
        s->live = 1;
        s->fd = fd;
        s->io.cb = on_io;
    }
    /* on failure io.fd stays -1 and its queries end by timeout */
    (void)spate_loop_add(d->loop, &s->io, fd, mask);
}

/* Records a c-ares answer in the entry. Failures that say nothing about the name (SERVFAIL,
 * timeout, ...) leave the previous answer in place, stale, so pooled connections survive them. */
static int store(struct spate_dns *d, struct spate_dns_entry *e, int status,
                 const struct ares_addrinfo *res)
{
    uint64_t now = spate_clock_now();
    if (status == ARES_SUCCESS) {
        struct spate_dns_ip ip[SPATE_DNS_MAX_ADDRS];
        unsigned n = 0;
        int ttl = MAX_TTL;
        for (const struct ares_addrinfo_node *a = res ? res->nodes : NULL; a; a = a->ai_next) {
            if (n < SPATE_DNS_MAX_ADDRS &&
                spate_dns_ip_from_sa(&ip[n], a->ai_addr, (socklen_t)a->ai_addrlen) == 0) {
                n++;
                if (a->ai_ttl < ttl) ttl = a->ai_ttl;
            }
        }
        for (const struct ares_addrinfo_cname *c = res ? res->cnames : NULL; c; c = c->next)
            if (c->ttl < ttl) ttl = c->ttl;
        if (n == 0) {
            status = ARES_ENODATA;
        } else {
            uint64_t ttl_ns = d->fixed_ttl >= 0 ? spate_clock_from_sec(d->fixed_ttl)
                                                : (uint64_t)(ttl > 0 ? ttl : 0) * SPATE_NS_PER_SEC;
            spate_dns_entry_set(e, ip, n, now, ttl_ns);
            return 0;
        }
    }
    if (negative(status)) {
        double neg = SPATE_DNS_NEG_TTL;
        if (d->fixed_ttl >= 0 && d->fixed_ttl < neg) neg = d->fixed_ttl;
        spate_dns_entry_set_negative(e, status, now, spate_clock_from_sec(neg));
    }
    return status;
}

/* Answers every waiter of a completed run, then frees it. */
static void finish(struct spate_dns *d, struct run *r)
{
    struct spate_dns_query *w;
    while ((w = first_waiter(r))) {
        wunlink(w);
        if (!d->doomed) deliver_entry(r->e, r->status, w->port, w->cb, w->arg, 0);
        free(w);
    }
    spate_dns_cache_release(&d->cache, r->e); /* may free the entry: nothing follows */
    free(r);
}

/* A run c-ares answered inside ares_getaddrinfo: its waiters hear it from the loop, like any
 * answer known at once; then it is freed. */
static void settle(struct spate_dns *d, struct run *r)
{
    struct spate_dns_query *w;
    while ((w = first_waiter(r))) {
        wunlink(w);
        post_entry(d, w, r->e, r->status, 0);
    }
    spate_dns_cache_release(&d->cache, r->e);
    free(r);
}

/* Frees a run and its waiters without calling anyone (teardown). */
static void drop(struct run *r)
{
    struct spate_dns_query *w;
    while ((w = first_waiter(r))) {
        wunlink(w);
        free(w);
    }
    spate_dns_cache_release(&r->d->cache, r->e);
    free(r);
}

static void on_ares(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct run *r = arg;
    struct spate_dns *d = r->d;
    (void)timeouts;
    if (r->e->pending == r) r->e->pending = NULL;
    if (d->closing) {
        ares_freeaddrinfo(res);
        drop(r);
        return;
    }
    r->status = store(d, r->e, status, res);
    ares_freeaddrinfo(res);
    if (r->starting)
        r->done = 1; /* inside ares_getaddrinfo: start_run() settles it */
    else
        finish(d, r);
}

/* ---- public API ---- */

/* Starts a lookup of e's name, with w (or nobody: a refresh) as its first waiter. When c-ares
 * answers inside the call (hosts file, .onion, no memory), the answer is in e afterwards and
 * w's delivery is posted. 0 or -ENOMEM. */
static int start_run(struct spate_dns *d, struct spate_dns_entry *e, struct spate_dns_query *w)
{
    struct run *r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->d = d;
    r->e = e;
    spate_list_init(&r->waiters);
    spate_dns_cache_hold(&d->cache, e);
    e->pending = r;
    if (w) wlink(&r->waiters, w);
    r->starting = 1;
    d->stats.queries++;
    struct ares_addrinfo_hints hints = {.ai_flags = ARES_AI_NOSORT, .ai_family = AF_UNSPEC};
    ares_getaddrinfo(d->ch, e->host, NULL, &hints, on_ares, r);
    if (r->done)
        settle(d, r);
    else
        r->starting = 0;
    rearm(d);
    return 0;
}

/* An answer known without a lookup: n (> 0) addresses at ip, copied if they are q's literal. */
static int post_ips(struct spate_dns *d, struct spate_dns_query *q, const struct spate_dns_ip *ip,
                    unsigned n)
{
    q->ip = ip;
    q->n = n;
    q->cached = 1;
    post(d, q);
    return 0;
}

/* A failure known without a lookup (an invalid name): status about host. 0 or -ENOMEM. */
static int post_error(struct spate_dns *d, struct spate_dns_query *q, int status, const char *host)
{
    if (!(q->host = strdup(host))) return -ENOMEM;
    q->status = status;
    q->cached = 1;
    post(d, q);
    return 0;
}

/* Every answer reaches q's callback from the loop: known ones are posted, others wait for the
 * lookup (a new one, or the one in flight for the name). 0 or -ENOMEM (q then unused). */
static int resolve_in(struct spate_dns *d, const char *host, struct spate_dns_query *q)
{
    char key[SPATE_DNS_MAX_NAME + 1];
    size_t len = strlen(host);
    if (parse_ip(host, len, &q->lit) == 0) return post_ips(d, q, &q->lit, 1);
    if (!normalize(host, len, key)) return post_error(d, q, ARES_EBADNAME, host);
    for (size_t i = d->n_pins; i-- > 0;) { /* the last pin given wins */
        const struct pin *p = &d->pins[i];
        if (p->port == q->port && strcmp(p->host, key) == 0) return post_ips(d, q, p->ip, p->n);
    }
    if (is_localhost(key)) return post_ips(d, q, loopback, 2);
    if (!valid_name(key)) return post_error(d, q, ARES_EBADNAME, host);

    struct spate_dns_entry *e = spate_dns_cache_get(&d->cache, key);
    if (e && spate_dns_entry_fresh(e, spate_clock_now())) {
        d->stats.cache_hits++;
        post_entry(d, q, e, 0, 1);
        return 0;
    }
    if (!e && !(e = spate_dns_cache_add(&d->cache, key))) return -ENOMEM;
    if (e->pending) { /* coalesce with the query already in flight */
        wlink(&((struct run *)e->pending)->waiters, q);
        return 0;
    }
    return start_run(d, e, q);
}

int spate_dns_resolve(struct spate_dns *d, const char *host, unsigned port, spate_dns_cb cb,
                      void *arg, struct spate_dns_query **q)
{
    if (q) *q = NULL;
    if (!d || !host || !cb || port > 65535 || d->doomed) return -EINVAL;
    struct spate_dns_query *w = calloc(1, sizeof(*w));
    if (!w) return -ENOMEM;
    w->d = d;
    w->cb = cb;
    w->arg = arg;
    w->port = port;
    spate_list_init(&w->link);
    spate_work_init(&w->work, on_posted);
    enter(d);
    int rc = resolve_in(d, host, w);
    leave(d);
    if (rc < 0)
        free(w); /* on no list, holds nothing */
    else if (q)
        *q = w;
    return rc;
}

void spate_dns_cancel(struct spate_dns_query *q)
{
    if (!q || q->state == Q_DELIVERING) return; /* being delivered: its delivery frees it */
    if (q->state == Q_POSTED) spate_loop_unpost(&q->work);
    spate_list_remove(&q->link);
    free_query(q->d, q);
}

int spate_dns_fresh(struct spate_dns *d, const char *host, unsigned port)
{
    struct spate_dns_ip lit;
    char key[SPATE_DNS_MAX_NAME + 1];
    if (!d || !host || d->doomed) return 0;
    size_t len = strlen(host);
    if (parse_ip(host, len, &lit) == 0 || !normalize(host, len, key) || is_localhost(key) ||
        !valid_name(key))
        return 1; /* answered without a lookup, always the same */
    for (size_t i = 0; i < d->n_pins; i++)
        if (d->pins[i].port == port && strcmp(d->pins[i].host, key) == 0) return 1;
    struct spate_dns_entry *e = spate_dns_cache_get(&d->cache, key);
    if (e && spate_dns_entry_fresh(e, spate_clock_now())) {
        d->stats.cache_hits++; /* the answer this checkout relies on, as a resolve would count */
        return 1;
    }
    /* stale or unknown: a lookup with nobody waiting refreshes it for the next checkout (or the
     * one in flight will); c-ares may answer at once (hosts file) */
    if (!e && !(e = spate_dns_cache_add(&d->cache, key))) return 0;
    if (!e->pending) {
        enter(d);
        int rc = start_run(d, e, NULL);
        leave(d);
        if (rc < 0) return 0;
    }
    e = spate_dns_cache_get(&d->cache, key); /* a cache of 0 names has dropped it already */
    return e && spate_dns_entry_fresh(e, spate_clock_now());
}

int spate_dns_addr_current(struct spate_dns *d, const char *host, const struct sockaddr *addr)
{
    struct spate_dns_ip ip, lit;
    char key[SPATE_DNS_MAX_NAME + 1];
    if (!d || !host || !addr) return 0;
    socklen_t salen = addr->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                                  : (socklen_t)sizeof(struct sockaddr_in);
    if (spate_dns_ip_from_sa(&ip, addr, salen) < 0) return 0;
    size_t len = strlen(host);
    if (parse_ip(host, len, &lit) == 0) return 1;
    if (!normalize(host, len, key)) return 0;
    unsigned port = ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
    for (size_t i = 0; i < d->n_pins; i++)
        if (d->pins[i].port == port && strcmp(d->pins[i].host, key) == 0) return 1;
    if (is_localhost(key)) return 1;
    const struct spate_dns_entry *e = spate_dns_cache_get(&d->cache, key);
    return e && e->status == 0 && spate_dns_ip_in(&ip, e->ip, e->n);
}

void spate_dns_get_stats(const struct spate_dns *d, struct spate_dns_stats *s)
{
    if (d)
        *s = d->stats;
    else
        memset(s, 0, sizeof(*s));
}

/* ---- create and destroy ---- */

static int parse_port(const char *s, size_t len, unsigned *port)
{
    unsigned v = 0;
    if (len == 0 || len > 5) return -1;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535) return -1;
    *port = v;
    return 0;
}

/* "ADDR", "ADDR:PORT", "[v6]", "[v6]:PORT" or a bare IPv6 address. */
static int parse_server(const char *s, struct ares_addr_port_node *n)
{
    struct spate_dns_ip ip;
    unsigned port = 53;
    size_t len = strlen(s), alen = len;
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb) return -1;
        alen = (size_t)(rb - s) + 1;
        if (rb[1] != '\0' && (rb[1] != ':' || parse_port(rb + 2, strlen(rb + 2), &port) < 0))
            return -1;
    } else if (colon && strchr(s, ':') == colon) { /* exactly one colon: IPv4:PORT */
        alen = (size_t)(colon - s);
        if (parse_port(colon + 1, strlen(colon + 1), &port) < 0) return -1;
    }
    if (parse_ip(s, alen, &ip) < 0 || ip.scope) return -1;
    memset(n, 0, sizeof(*n));
    n->family = ip.family;
    if (ip.family == AF_INET)
        memcpy(&n->addr.addr4, ip.b, 4);
    else
        memcpy(&n->addr.addr6, ip.b, 16);
    n->udp_port = n->tcp_port = (int)port;
    return 0;
}

/* curl's --resolve: "HOST:PORT:ADDR[,ADDR...]". */
static int parse_pin(const char *s, struct pin *p)
{
    const char *c1 = strchr(s, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || !normalize(s, (size_t)(c1 - s), p->host) ||
        parse_port(c1 + 1, (size_t)(c2 - c1 - 1), &p->port) < 0)
        return -1;
    p->n = 0;
    for (const char *a = c2 + 1;;) {
        const char *comma = strchr(a, ',');
        size_t alen = comma ? (size_t)(comma - a) : strlen(a);
        if (p->n == SPATE_DNS_MAX_ADDRS || parse_ip(a, alen, &p->ip[p->n]) < 0) return -1;
        p->n++;
        if (!comma) return 0;
        a = comma + 1;
    }
}

static void reap_dns(struct spate_reap *rp)
{
    struct spate_dns *d = spate_container_of(rp, struct spate_dns, reap);
    while (d->socks) {
        struct dsock *s = d->socks;
        d->socks = s->next;
        free(s);
    }
    free(d);
}

static void teardown(struct spate_dns *d)
{
    d->closing = 1;
    if (d->ch) ares_destroy(d->ch); /* runs every pending callback with ARES_EDESTRUCTION: drop() */
    d->ch = NULL;
    struct spate_list *node; /* answers posted but not delivered: never delivered */
    while ((node = spate_list_first(&d->posted))) {
        struct spate_dns_query *q = spate_container_of(node, struct spate_dns_query, link);
        spate_loop_unpost(&q->work);
        spate_list_remove(node);
        free_query(d, q);
    }
    spate_loop_untimer(d->loop, &d->tmo);
    spate_dns_cache_fini(&d->cache);
    free(d->pins);
    d->pins = NULL;
    for (struct dsock *s = d->socks; s; s = s->next)
        spate_loop_del(d->loop, &s->io);
    if (d->socks) {
        /* the loop may be dispatching a batch that still names these records */
        d->reap.fn = reap_dns;
        spate_loop_defer(d->loop, &d->reap);
    } else {
        free(d);
    }
}

void spate_dns_destroy(struct spate_dns *d)
{
    if (!d || d->doomed) return;
    d->doomed = 1;
    if (d->depth == 0) teardown(d);
}

static int init_channel(struct spate_dns *d, const struct spate_dns_opts *o, char *err,
                        size_t errlen)
{
    static char lookups[] = "fb"; /* /etc/hosts, then DNS */
    double t = o->timeout > 0 && o->timeout < 3600 ? o->timeout : DEFAULT_TIMEOUT;
    struct ares_options ao;
    memset(&ao, 0, sizeof(ao));
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
    ao.timeout = (int)(t * 1000 + 0.5) > 0 ? (int)(t * 1000 + 0.5) : 1;
    ao.tries = TRIES;
    ao.lookups = lookups;
    ao.sock_state_cb = on_sock_state;
    ao.sock_state_cb_data = d;
    if (o->n_servers) {
        /* explicit servers: query names as written, whatever resolv.conf says about search */
        mask |= ARES_OPT_FLAGS | ARES_OPT_DOMAINS;
        ao.flags = ARES_FLAG_NOSEARCH;
        ao.ndomains = 0;
    }
    int rc = ares_init_options(&d->ch, &ao, mask);
    if (rc != ARES_SUCCESS) {
        d->ch = NULL;
        return rc == ARES_ENOMEM
                   ? -ENOMEM
                   : spate_errf(err, errlen, "DNS init failed: %s", ares_strerror(rc));
    }
    if (!o->n_servers) return 0;
    struct ares_addr_port_node *nodes = calloc(o->n_servers, sizeof(*nodes));
    if (!nodes) return -ENOMEM;
    for (size_t i = 0; i < o->n_servers; i++) {
        if (!o->servers[i] || parse_server(o->servers[i], &nodes[i]) < 0) {
            free(nodes);
            return spate_errf(err, errlen,
                              "invalid DNS server '%s' (want ADDR[:PORT] or [V6]:PORT)",
                              o->servers[i] ? o->servers[i] : "");
        }
        nodes[i].next = i + 1 < o->n_servers ? &nodes[i + 1] : NULL;
    }
    rc = ares_set_servers_ports(d->ch, nodes);
    free(nodes);
    if (rc != ARES_SUCCESS)
        return rc == ARES_ENOMEM ? -ENOMEM
                                 : spate_errf(err, errlen, "DNS servers: %s", ares_strerror(rc));
    return 0;
}

/* ares_library_init once per process, whichever thread's engine comes first (it is not
 * thread-safe itself); never undone, as other engines may still use c-ares. */
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
    lib_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

int spate_dns_create(struct spate_dns **out, struct spate_loop *loop,
                     const struct spate_dns_opts *o, char *err, size_t errlen)
{
    static const struct spate_dns_opts defaults = {.fixed_ttl = -1};
    int rc;
    *out = NULL;
    if (!o) o = &defaults;
    pthread_once(&lib_once, lib_init);
    if (lib_rc != ARES_SUCCESS)
        return spate_errf(err, errlen, "DNS library init failed: %s", ares_strerror(lib_rc));
    struct spate_dns *d = calloc(1, sizeof(*d));
    if (!d) return -ENOMEM;
    d->loop = loop;
    spate_list_init(&d->posted);
    d->fixed_ttl = o->fixed_ttl >= 0 ? o->fixed_ttl : -1; /* NaN counts as "use the TTL" */
    spate_timer_init(&d->tmo, on_timer);
    size_t cap = o->cache_size > 0    ? (size_t)o->cache_size
                 : o->cache_size == 0 ? SPATE_DNS_CACHE_DEFAULT
                                      : 0;
    rc = spate_dns_cache_init(&d->cache, cap);
    if (rc < 0) goto fail;
    if (o->n_pins) {
        rc = -ENOMEM;
        d->pins = calloc(o->n_pins, sizeof(*d->pins));
        if (!d->pins) goto fail;
        for (size_t i = 0; i < o->n_pins; i++) {
            if (!o->pins[i] || parse_pin(o->pins[i], &d->pins[i]) < 0) {
                rc = spate_errf(err, errlen, "invalid resolve pin '%s' (want HOST:PORT:ADDR)",
                                o->pins[i] ? o->pins[i] : "");
                goto fail;
            }
        }
        d->n_pins = o->n_pins;
    }
    rc = init_channel(d, o, err, errlen);
    if (rc < 0) goto fail;
    *out = d;
    return 0;
fail:
    teardown(d);
    return rc;
}

const char *spate_dns_library_version(void)
{
    return ares_version(NULL);
}
