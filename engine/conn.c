/* Connection state machine. Sockets are registered once, edge-triggered for both directions,
 * so a request/response exchange costs no epoll_ctl at all; each state's handler simply retries
 * its I/O on any event and the transport says what it still waits for. */
#include "conn.h"
#include "../dns/dns.h"
#include "../tls/tls.h"
#include "clock.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_event(struct spate_io *io, unsigned ev);
static void on_timer(struct spate_timer *t);

static struct spate_conn *of_io(struct spate_io *io)
{
    return spate_container_of(io, struct spate_conn, io);
}

static struct spate_conn *of_timer(struct spate_timer *t)
{
    return spate_container_of(t, struct spate_conn, timer);
}

static void format_addr(const union spate_sockaddr *a, char *buf, size_t len)
{
    char s[INET6_ADDRSTRLEN] = "";
    if (a->sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->in4.sin_addr, s, sizeof(s));
        snprintf(buf, len, "%s:%u", s, ntohs(a->in4.sin_port));
    } else if (a->sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->in6.sin6_addr, s, sizeof(s));
        snprintf(buf, len, "[%s]:%u", s, ntohs(a->in6.sin6_port));
    } else {
        snprintf(buf, len, "%s", "");
    }
}

void spate_conn_peer(const struct spate_conn *c, char *buf, size_t len)
{
    format_addr(&c->peer, buf, len);
}

/* Every failure goes through here: the owner learns the kind, ctx->msg says why. */
static void fail(struct spate_conn *c, enum spate_error_kind k)
{
    spate_loop_untimer(&c->ctx->loop, &c->timer);
    c->state = SPATE_CONN_CLOSED;
    c->ops->fail(c, k);
}

static void set_timer(struct spate_conn *c, uint64_t deadline)
{
    if (deadline)
        spate_loop_timer(&c->ctx->loop, &c->timer, deadline);
    else
        spate_loop_untimer(&c->ctx->loop, &c->timer);
}

/* ---------- resolve and connect ----------
 * The answer's addresses are tried in the order RFC 8305 section 4 asks for: families
 * alternating, each family in the answer's order. A connect in progress is a dial, held in a
 * slot; slot 0 dials on the connection's own socket (c->io, c->tr), so the usual case, the first
 * address answering, moves nothing. With a race delay the next address starts when no dial has
 * connected for that long, and at once when one fails; the first to connect wins and the others
 * are closed (RFC 8305 section 5). Without one, the addresses are tried one at a time, each
 * with its share of the remaining connect budget. Every address is tried until the connect
 * deadline ends the whole connect. */

/* dials in progress at once per connection; the oldest yields to a new one */
#define RACE_SLOTS 8

struct spate_dial {
    struct spate_io io; /* slots 1..: the dial's socket (slot 0 dials on the connection's io) */
    struct spate_conn *c;
    uint64_t t0; /* when its connect started; 0 = the slot is free */
    unsigned ai; /* its address, an index into addrs */
};

struct spate_conn_setup {
    struct spate_reap reap;      /* frees the block after the batch: a fetched event may name it */
    union spate_sockaddr *addrs; /* the answer in the order tried (inside this block) */
    unsigned naddrs, next;       /* next: the address the next dial takes */
    unsigned nslots, pending;    /* slots, and dials in progress */
    uint64_t t_next;             /* when the next address starts unless a dial fails first;
                                    0 = only then */
    enum spate_error_kind kind;  /* how the last failed dial ended (timeout until one did) ... */
    int last_err;                /* ... its errno (kind connect) ... */
    unsigned last_ai;            /* ... and its address */
    struct spate_dial slots[];
};

static struct spate_io *dial_io(struct spate_conn *c, unsigned k)
{
    return k ? &c->setup->slots[k].io : &c->io;
}

static socklen_t sa_len(const union spate_sockaddr *a)
{
    return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

static void set_peer(struct spate_conn *c, unsigned ai)
{
    c->peer = c->setup->addrs[ai];
    format_addr(&c->peer, c->peer_str, sizeof(c->peer_str));
}

/* Closes the connection's own socket (slot 0's dial, or the established connection). */
static void close_fd(struct spate_conn *c)
{
    if (c->tr.ops && c->tr.ops->release) c->tr.ops->release(&c->tr);
    c->tr.ops = NULL;
    int fd = c->io.fd >= 0 ? c->io.fd : c->tr.fd;
    spate_loop_del(&c->ctx->loop, &c->io);
    if (fd >= 0) close(fd);
    c->tr.fd = -1;
}

/* Closes dial k (if in progress) and frees its slot. */
static void close_dial(struct spate_conn *c, unsigned k)
{
    struct spate_conn_setup *s = c->setup;
    if (!s->slots[k].t0) return;
    s->slots[k].t0 = 0;
    s->pending--;
    if (k == 0) {
        close_fd(c);
        return;
    }
    struct spate_io *io = &s->slots[k].io;
    int fd = io->fd;
    spate_loop_del(&c->ctx->loop, io);
    if (fd >= 0) close(fd);
}

static void free_setup(struct spate_reap *r)
{
    free(spate_container_of(r, struct spate_conn_setup, reap));
}

/* Ends the connect phase: closes every dial still in progress and lets the block go. */
static void end_setup(struct spate_conn *c)
{
    struct spate_conn_setup *s = c->setup;
    if (!s) return;
    for (unsigned k = 0; k < s->nslots; k++)
        close_dial(c, k);
    c->setup = NULL;
    s->reap.fn = free_setup;
    spate_loop_defer(&c->ctx->loop, &s->reap);
}

/* Allocates the setup block with the answer copied in RFC 8305 order: families alternating,
 * starting with the answer's first. NULL when out of memory. */
static struct spate_conn_setup *new_setup(const struct spate_dns_addr *src, unsigned n,
                                          unsigned nslots)
{
    struct spate_conn_setup *s =
        calloc(1, sizeof(*s) + nslots * sizeof(s->slots[0]) + n * sizeof(*s->addrs));
    if (!s) return NULL;
    s->addrs = (union spate_sockaddr *)(void *)(s->slots + nslots);
    s->naddrs = n;
    s->nslots = nslots;
    s->kind = SPATE_E_TIMEOUT; /* what giving up means before any dial failed */
    int fam = src[0].sa.ss_family;
    for (unsigned o = 0, i = 0, j = 0; o < n;) {
        while (i < n && src[i].sa.ss_family != fam)
            i++;
        while (j < n && src[j].sa.ss_family == fam)
            j++;
        if (i < n) memcpy(&s->addrs[o++], &src[i++].sa, sizeof(*s->addrs));
        if (j < n) memcpy(&s->addrs[o++], &src[j++].sa, sizeof(*s->addrs));
    }
    return s;
}

/* When the dial just started ends its turn (see the top of this section), 0 = never. */
static uint64_t next_start(struct spate_conn *c, uint64_t now)
{
    struct spate_conn_setup *s = c->setup;
    if (c->ctx->race_delay) return s->next < s->naddrs ? now + c->ctx->race_delay : 0;
    if (!c->connect_deadline || now >= c->connect_deadline) return 0;
    unsigned left = s->naddrs - s->next + 1; /* this one included */
    return now + (c->connect_deadline - now) / left;
}

static void arm_connect_timer(struct spate_conn *c)
{
    uint64_t d = c->connect_deadline, n = c->setup->t_next;
    set_timer(c, d && (!n || d < n) ? d : n);
}

/* Opens a socket and starts a non-blocking connect to a on slot k's io: 0 or an errno. */
static int open_dial(struct spate_conn *c, unsigned k, const union spate_sockaddr *a)
{
    int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    c->ctx->stats.connects++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc;
    do
        rc = connect(fd, &a->sa, sa_len(a));
    while (rc < 0 && errno == EINTR);
    int err = rc < 0 && errno != EINPROGRESS ? errno : 0;
    /* registered only once connecting: a socket not yet connecting polls as hung up */
    if (!err)
        err = -spate_loop_add(&c->ctx->loop, dial_io(c, k), fd,
                              SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE);
    if (err) {
        close(fd);
        return err;
    }
    if (k == 0) spate_tcp_attach(&c->tr, fd);
    return 0;
}

/* Tells the owner that no address connected: the last failure's kind, a message naming its
 * address and, for a name with several, how many were tried. */
static void give_up(struct spate_conn *c)
{
    struct spate_conn_setup *s = c->setup;
    char tried[64] = "";
    if (s->naddrs > 1)
        snprintf(tried, sizeof(tried), "; %u of %u addresses tried", s->next, s->naddrs);
    set_peer(c, s->last_ai);
    if (s->kind == SPATE_E_TIMEOUT) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "connect timeout connecting to %s (host %s%s)",
                 c->peer_str, c->target->host, tried);
    } else {
        char why[96];
        snprintf(why, sizeof(why), "%s", strerror(s->last_err));
        why[0] = (char)tolower((unsigned char)why[0]); /* "connection refused", as curl says */
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s (%s, host %s%s)", why, c->peer_str,
                 c->target->host, tried);
    }
    enum spate_error_kind k = s->kind;
    end_setup(c);
    fail(c, k);
}

static int expired(const struct spate_conn *c, uint64_t now)
{
    return c->connect_deadline && now >= c->connect_deadline;
}

/* A failure of this process (out of descriptors or memory), not of the address. */
static int local_shortage(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* The dial in progress that started first, or -1 when none is. */
static int oldest_dial(const struct spate_conn_setup *s)
{
    int oldest = -1;
    for (unsigned k = 0; k < s->nslots; k++)
        if (s->slots[k].t0 && (oldest < 0 || s->slots[k].t0 < s->slots[oldest].t0)) oldest = (int)k;
    return oldest;
}

/* Starts dials in slot k (free) until one is in progress or no address is left; one that fails
 * to start moves on at once. Then arms the timer, or gives up when nothing is in progress. */
static void dial_next(struct spate_conn *c, unsigned k)
{
    struct spate_conn_setup *s = c->setup;
    uint64_t now;
    while (s->next < s->naddrs && !expired(c, now = spate_clock_now())) {
        unsigned ai = s->next++;
        int err = open_dial(c, k, &s->addrs[ai]);
        if (!err) {
            s->slots[k].t0 = now;
            s->slots[k].ai = ai;
            s->pending++;
            s->t_next = next_start(c, now);
            arm_connect_timer(c);
            return;
        }
        s->kind = SPATE_E_CONNECT;
        s->last_err = err;
        s->last_ai = ai;
        if (local_shortage(err) && s->pending) {
            /* out of descriptors: not the address's fault; the oldest dial gives way to it */
            close_dial(c, (unsigned)oldest_dial(s));
            s->next = ai;
        }
    }
    if (s->pending)
        arm_connect_timer(c);
    else
        give_up(c);
}

/* A free slot for the next dial; when all are busy, the oldest dial is dropped for it. */
static unsigned free_slot(struct spate_conn *c)
{
    struct spate_conn_setup *s = c->setup;
    for (unsigned k = 0; k < s->nslots; k++)
        if (!s->slots[k].t0) return k;
    unsigned oldest = (unsigned)oldest_dial(s);
    close_dial(c, oldest);
    return oldest;
}

static void established(struct spate_conn *c);
static void start_tls(struct spate_conn *c);

/* ctx->attach (a test's fake transport) over the connected socket: 0, or -1 after failing c. */
static int hook_attach(struct spate_conn *c)
{
    if (!c->ctx->attach || c->ctx->attach(c->ctx->attach_arg, &c->tr, c->target) == 0) return 0;
    snprintf(c->ctx->msg, sizeof(c->ctx->msg), "cannot set up the transport (host %s)",
             c->target->host);
    fail(c, SPATE_E_CONNECT);
    return -1;
}

/* A later slot won: its socket becomes the connection's own. 0, or -1 after failing c. */
static int adopt(struct spate_conn *c, int fd)
{
    spate_tcp_attach(&c->tr, fd);
    int rc =
        spate_loop_add(&c->ctx->loop, &c->io, fd, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE);
    if (rc == 0) return 0;
    snprintf(c->ctx->msg, sizeof(c->ctx->msg), "cannot watch socket: %s", strerror(-rc));
    fail(c, SPATE_E_CONNECT);
    return -1;
}

/* Dial k connected first: the others are closed, the connection goes on with its socket. */
static void dial_won(struct spate_conn *c, unsigned k)
{
    struct spate_conn_setup *s = c->setup;
    struct spate_dial *d = &s->slots[k];
    int fd = k ? d->io.fd : c->tr.fd;
    set_peer(c, d->ai);
    /* out of its slot without closing it, so end_setup leaves it open */
    if (k) spate_loop_del(&c->ctx->loop, &d->io);
    d->t0 = 0;
    s->pending--;
    end_setup(c);
    c->t_tcp = spate_loop_update_now(&c->ctx->loop);
    c->hup = 0; /* a failed dial's hang-up on slot 0 is not this connection's */
    c->ctx->stats.established++;
    if (k && adopt(c, fd) < 0) return;
    if (c->target->https) {
        set_timer(c, c->connect_deadline);
        start_tls(c);
    } else if (hook_attach(c) == 0) {
        established(c);
    }
}

/* Dial k failed: the next address starts at once (in its slot), or the connect gives up when
 * none is left and no other dial is in progress. */
static void dial_failed(struct spate_conn *c, unsigned k, int err)
{
    struct spate_conn_setup *s = c->setup;
    s->kind = SPATE_E_CONNECT;
    s->last_err = err;
    s->last_ai = s->slots[k].ai;
    close_dial(c, k);
    dial_next(c, k);
}

/* Any event on dial k's socket: connected, failed, or nothing yet. */
static void dial_event(struct spate_conn *c, unsigned k, unsigned ev)
{
    if (!c->setup || !c->setup->slots[k].t0) return; /* stale: that dial is over */
    if (!(ev & (SPATE_EV_WRITE | SPATE_EV_ERROR))) return;
    /* kqueue hands the socket error over with the event; epoll leaves it to SO_ERROR */
    struct spate_io *io = dial_io(c, k);
    int err = (ev & SPATE_EV_ERROR) ? io->err : 0;
    socklen_t len = sizeof(err);
    if (!err && getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == EINPROGRESS || (err == 0 && !(ev & SPATE_EV_WRITE))) return;
    if (err)
        dial_failed(c, k, err);
    else
        dial_won(c, k);
}

/* Events of slots 1.. (slot 0's come through on_event). */
static void on_dial_event(struct spate_io *io, unsigned ev)
{
    struct spate_dial *d = spate_container_of(io, struct spate_dial, io);
    struct spate_conn *c = d->c;
    if (io->fd < 0 || c->state != SPATE_CONN_CONNECTING) return;
    dial_event(c, (unsigned)(d - c->setup->slots), ev);
}

/* The connect timer: the whole connect's deadline, or the current address's turn is over. */
static void connect_timer(struct spate_conn *c, uint64_t now)
{
    struct spate_conn_setup *s = c->setup;
    if (expired(c, now)) {
        int oldest = oldest_dial(s); /* the message names the dial that waited longest */
        s->kind = SPATE_E_TIMEOUT;
        if (oldest >= 0) s->last_ai = s->slots[oldest].ai;
        give_up(c);
        return;
    }
    if (!s->t_next || now < s->t_next) {
        arm_connect_timer(c);
        return;
    }
    if (c->ctx->race_delay) { /* none connected within the delay: the next address joins in */
        dial_next(c, free_slot(c));
        return;
    }
    /* one at a time: this address had its share of the budget */
    s->kind = SPATE_E_TIMEOUT;
    s->last_ai = s->slots[0].ai;
    close_dial(c, 0);
    dial_next(c, 0);
}

static void on_resolved(void *arg, const struct spate_dns_answer *a)
{
    struct spate_conn *c = arg;
    c->dnsq = NULL;
    c->t_dns = a->cached ? 0 : spate_clock_now(); /* a cache hit costs no lookup time */
    if (!a->ok || a->n == 0) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s",
                 a->error ? a->error : "name resolved to no address");
        fail(c, SPATE_E_DNS);
        return;
    }
    unsigned n = (unsigned)a->n;
    unsigned nslots = c->ctx->race_delay ? (n < RACE_SLOTS ? n : RACE_SLOTS) : 1;
    c->setup = new_setup(a->addrs, n, nslots);
    if (!c->setup) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "out of memory");
        fail(c, SPATE_E_CONNECT);
        return;
    }
    for (unsigned k = 1; k < nslots; k++) {
        c->setup->slots[k].io.fd = -1;
        c->setup->slots[k].io.cb = on_dial_event;
        c->setup->slots[k].c = c;
    }
    c->state = SPATE_CONN_CONNECTING;
    dial_next(c, 0);
}

int spate_conn_timeout_opt(const char *what, double sec, uint64_t *ns, char *err, size_t errlen)
{
    if (sec != sec) {
        snprintf(err, errlen, "%s is not a number", what);
        return -EINVAL;
    }
    *ns = sec < 0 ? SPATE_CONN_NO_TIMEOUT : sec > 0 ? spate_clock_from_sec(sec) : 0;
    if (sec > 0 && !*ns) *ns = 1; /* below a nanosecond: still a timeout, not "the default" */
    return 0;
}

/* A per-use timeout (0 = the context's, SPATE_CONN_NO_TIMEOUT = none) as ns, 0 = none. */
static uint64_t pick_timeout(uint64_t own, uint64_t ctx_value)
{
    return own == SPATE_CONN_NO_TIMEOUT ? 0 : own ? own : ctx_value;
}

struct spate_conn *spate_conn_open(struct spate_ctx *ctx, const struct spate_target *target,
                                   const struct spate_conn_ops *ops, void *user)
{
    return spate_conn_open_within(ctx, target, ops, user, 0);
}

struct spate_conn *spate_conn_open_within(struct spate_ctx *ctx, const struct spate_target *target,
                                          const struct spate_conn_ops *ops, void *user,
                                          uint64_t connect_timeout)
{
    struct spate_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->io.fd = -1;
    c->io.cb = on_event;
    spate_list_init(&c->link);
    spate_list_init(&c->lru);
    c->tr.fd = -1;
    c->ctx = ctx;
    c->target = target;
    c->ops = ops;
    c->user = user;
    spate_timer_init(&c->timer, on_timer);
    c->state = SPATE_CONN_RESOLVING;
    c->t_open = spate_clock_now();
    uint64_t budget = pick_timeout(connect_timeout, ctx->connect_timeout);
    if (budget) {
        c->connect_deadline = c->t_open + budget;
        set_timer(c, c->connect_deadline);
    }
    /* the answer comes from the loop, never inside this call: the owner has c before any
     * callback about it */
    if (spate_dns_resolve(ctx->dns, target->host, target->port, on_resolved, c, &c->dnsq) < 0) {
        spate_loop_untimer(&ctx->loop, &c->timer);
        free(c);
        return NULL;
    }
    return c;
}

/* ---------- handshake ---------- */

static void established(struct spate_conn *c)
{
    c->state = SPATE_CONN_IDLE;
    set_timer(c, 0);
    c->ops->ready(c);
}

static void transport_failed(struct spate_conn *c, ssize_t rc, const char *during)
{
    enum spate_io_cause cause = rc == SPATE_IO_EOF ? SPATE_CAUSE_NONE : c->tr.cause;
    enum spate_error_kind k = spate_io_cause_tls(c->tr.cause) ? SPATE_E_TLS : SPATE_E_RESET;
    char why[300];
    if (rc == SPATE_IO_EOF)
        snprintf(why, sizeof(why), "connection closed by server");
    else
        c->tr.ops->describe(&c->tr, why, sizeof(why));
    const char *sep = " ";
    if (cause == SPATE_CAUSE_TLS_HANDSHAKE && c->state == SPATE_CONN_HANDSHAKE)
        sep = during = ""; /* "TLS handshake failed: ..." already says when */
    char host[300] = "";
    if (cause != SPATE_CAUSE_TLS_VERIFY) /* the verify message names the host itself */
        snprintf(host, sizeof(host), " (host %s)", c->target->host);
    snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s%s%s%s", why, sep, during, host);
    fail(c, k);
}

static void do_handshake(struct spate_conn *c)
{
    int rc = c->tr.ops->handshake(&c->tr);
    if (rc == SPATE_IO_WANT_READ || rc == SPATE_IO_WANT_WRITE) return;
    if (rc != 0) {
        if (!spate_io_cause_tls(c->tr.cause)) {
            /* a peer that closes or resets mid-handshake is a TLS failure of this host */
            c->tr.cause = SPATE_CAUSE_TLS_HANDSHAKE;
        }
        transport_failed(c, rc, "during TLS handshake");
        return;
    }
    c->t_tls = spate_loop_update_now(&c->ctx->loop);
    c->resumed = (unsigned char)spate_tls_resumed(&c->tr);
    c->ctx->stats.tls_handshakes++;
    c->ctx->stats.tls_resumed += c->resumed;
    established(c);
}

static void start_tls(struct spate_conn *c)
{
    char err[256];
    if (c->ctx->attach) {
        if (hook_attach(c) < 0) return;
    } else if (!c->ctx->tls ||
               spate_tls_attach(c->ctx->tls, &c->tr, c->target->host, c->target->host_ip,
                                c->target->port, err, sizeof(err)) < 0) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "cannot start TLS: %s",
                 c->ctx->tls ? err : "no TLS context");
        fail(c, SPATE_E_TLS);
        return;
    }
    c->state = SPATE_CONN_HANDSHAKE;
    do_handshake(c);
}

/* ---------- exchange ---------- */

/* The current exchange's read timeout in ns, 0 = none. */
static uint64_t read_limit(const struct spate_conn *c)
{
    return pick_timeout(c->read_timeout, c->ctx->read_timeout);
}

static void read_timer(struct spate_conn *c)
{
    uint64_t limit = read_limit(c);
    set_timer(c, limit ? c->last_io + limit : 0);
}

static void try_send(struct spate_conn *c);

void spate_conn_send(struct spate_conn *c, const char *out, size_t len, int head_request,
                     const struct spate_http1_sink *sink, void *owner, struct spate_buf *acc)
{
    spate_http1_resp_init(&c->resp, &c->ctx->lim, sink, owner, acc, head_request);
    c->out = out;
    c->out_len = len;
    c->out_off = 0;
    c->wire_bytes = 0;
    c->leftover = 0;
    c->last_io = c->ctx->loop.now; /* stamped when the attempt started or the connection came up */
    c->t_first = 0;
    c->state = SPATE_CONN_SENDING;
    read_timer(c);
    try_send(c);
}

static void finish(struct spate_conn *c, size_t used, size_t got)
{
    c->leftover = used < got;
    c->exchanges++;
    c->state = SPATE_CONN_IDLE;
    set_timer(c, 0);
    c->ops->done(c);
}

static void parse_failed(struct spate_conn *c)
{
    spate_http1_describe(&c->resp, c->ctx->msg, sizeof(c->ctx->msg));
    fail(c, c->resp.kind);
}

/* Returns 1 when the exchange ended (done or failed): the caller must not touch c->resp. */
static int feed(struct spate_conn *c, const char *p, size_t n)
{
    size_t used = 0;
    c->wire_bytes += n;
    switch (spate_http1_feed(&c->resp, p, n, &used)) {
    case SPATE_H1_MORE:
        return 0;
    case SPATE_H1_DONE:
        c->wire_bytes -= n - used;
        finish(c, used, n);
        return 1;
    default:
        parse_failed(c);
        return 1;
    }
}

static void at_eof(struct spate_conn *c)
{
    c->unclean_eof = (unsigned char)c->tr.ops->unclean_eof(&c->tr);
    if (spate_http1_eof(&c->resp) == SPATE_H1_DONE) {
        c->resp.keep_alive = 0;
        finish(c, 0, 0);
        return;
    }
    spate_http1_describe(&c->resp, c->ctx->msg, sizeof(c->ctx->msg));
    fail(c, c->resp.kind);
}

static void do_read(struct spate_conn *c)
{
    for (;;) {
        ssize_t n = c->tr.ops->read(&c->tr, c->ctx->rbuf, c->ctx->rbuf_len);
        if (n > 0) {
            /* read now, not taken from the loop: the fields printed are these stamps */
            c->last_io = spate_loop_update_now(&c->ctx->loop);
            if (!c->t_first) c->t_first = c->last_io;
            if (feed(c, c->ctx->rbuf, (size_t)n)) return;
            /* over TCP a short read drained the socket, unless the peer closed too (that FIN
             * raises no new edge); TLS returns one record per read, so only WANT_READ says
             * the socket is drained */
            if (spate_transport_drained(&c->tr, (size_t)n, c->ctx->rbuf_len) && !c->hup) return;
            continue;
        }
        if (n == SPATE_IO_WANT_READ || n == SPATE_IO_WANT_WRITE) return;
        if (n == SPATE_IO_EOF) {
            c->last_io = spate_loop_update_now(&c->ctx->loop); /* a body ended by the close */
            at_eof(c);
            return;
        }
        transport_failed(c, n,
                         spate_http1_started(&c->resp) ? "while reading the response"
                                                       : "before any response");
        return;
    }
}

static void try_send(struct spate_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = c->tr.ops->write(&c->tr, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n == SPATE_IO_WANT_READ || n == SPATE_IO_WANT_WRITE) return;
        /* the server may have answered (413, 401) and closed before taking the whole body:
         * that answer is still queued on our side and is the real outcome */
        if (c->tr.ops->peek(&c->tr)) {
            c->hup = 1;
            do_read(c);
            if (c->state != SPATE_CONN_SENDING) return;
        }
        transport_failed(c, n, "while sending the request");
        return;
    }
    c->state = SPATE_CONN_RECEIVING;
}

void spate_conn_idle(struct spate_conn *c)
{
    c->idle_batch = c->ctx->loop.batch;
    c->state = SPATE_CONN_IDLE;
    c->out = NULL;
    set_timer(c, 0);
}

int spate_conn_reusable(const struct spate_conn *c)
{
    return c->resp.complete && c->resp.keep_alive && !c->leftover && !c->unclean_eof && !c->hup &&
           c->out_off == c->out_len && c->state == SPATE_CONN_IDLE;
}

int spate_conn_idle_ok(struct spate_conn *c)
{
    if (c->state != SPATE_CONN_IDLE || !c->tr.ops) return 0;
    /* Idle since an earlier batch: the server had time to close it or send something, and
     * its readiness may still sit unseen in the backend, so look. Idle only since this batch
     * (the common keep-alive hand-over): nothing can have come that a look would catch but
     * the stale-connection re-send would not, and the look would cost a syscall per request. */
    if (c->idle_batch == c->ctx->loop.batch) return 1;
    return c->tr.ops->idle_ok(&c->tr);
}

/* ---------- dispatch ---------- */

static void on_event(struct spate_io *io, unsigned ev)
{
    struct spate_conn *c = of_io(io);
    if (ev & SPATE_EV_ERROR) c->hup = 1;
    switch (c->state) {
    case SPATE_CONN_CONNECTING:
        dial_event(c, 0, ev);
        break;
    case SPATE_CONN_HANDSHAKE:
        do_handshake(c);
        break;
    case SPATE_CONN_SENDING:
        /* a server may answer (413, 401) before taking the whole body: read that first */
        if (ev & (SPATE_EV_READ | SPATE_EV_ERROR)) do_read(c);
        if (c->state == SPATE_CONN_SENDING) try_send(c);
        break;
    case SPATE_CONN_RECEIVING:
        do_read(c);
        break;
    case SPATE_CONN_IDLE:
        if (!c->tr.ops->idle_ok(&c->tr)) {
            c->state = SPATE_CONN_CLOSED;
            c->ops->idle_dead(c);
        }
        break;
    default:
        break;
    }
}

static void on_timer(struct spate_timer *t)
{
    struct spate_conn *c = of_timer(t);
    uint64_t now = spate_clock_now();
    switch (c->state) {
    case SPATE_CONN_RESOLVING:
        c->t_dns = now; /* the lookup took all this time */
        snprintf(c->ctx->msg, sizeof(c->ctx->msg),
                 "DNS lookup for %s timed out (no answer within the connect timeout)",
                 c->target->host);
        fail(c, SPATE_E_DNS);
        break;
    case SPATE_CONN_CONNECTING:
        connect_timer(c, now);
        break;
    case SPATE_CONN_HANDSHAKE:
        snprintf(c->ctx->msg, sizeof(c->ctx->msg),
                 "connect timeout: TLS handshake with %s did not finish", c->target->host);
        fail(c, SPATE_E_TIMEOUT);
        break;
    case SPATE_CONN_SENDING:
    case SPATE_CONN_RECEIVING:
        if (!read_limit(c)) break; /* a timer of an earlier phase */
        if (now < c->last_io + read_limit(c)) {
            read_timer(c); /* bytes came since the timer was set: check again later */
            break;
        }
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "read timeout: no data from %s for %.3g s",
                 c->target->host, (double)read_limit(c) / 1e9);
        fail(c, SPATE_E_TIMEOUT);
        break;
    default:
        break;
    }
}

static void reap(struct spate_reap *r)
{
    struct spate_conn *c = spate_container_of(r, struct spate_conn, reap);
    free(c);
}

void spate_conn_close(struct spate_conn *c)
{
    if (!c || c->reap.fn) return;
    if (c->dnsq) spate_dns_cancel(c->dnsq);
    c->dnsq = NULL;
    spate_loop_untimer(&c->ctx->loop, &c->timer);
    end_setup(c);
    close_fd(c);
    c->state = SPATE_CONN_CLOSED;
    c->reap.fn = reap;
    spate_loop_defer(&c->ctx->loop, &c->reap);
}
