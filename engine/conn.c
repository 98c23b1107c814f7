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
static void try_connect(struct spate_conn *c);

static struct spate_conn *of_io(struct spate_io *io)
{
    return (struct spate_conn *)((char *)io - offsetof(struct spate_conn, io));
}

static struct spate_conn *of_timer(struct spate_timer *t)
{
    return (struct spate_conn *)((char *)t - offsetof(struct spate_conn, timer));
}

void spate_conn_peer(const struct spate_conn *c, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN] = "";
    if (c->peer.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &c->peer.in4.sin_addr, a, sizeof(a));
        snprintf(buf, len, "%s:%u", a, ntohs(c->peer.in4.sin_port));
    } else if (c->peer.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &c->peer.in6.sin6_addr, a, sizeof(a));
        snprintf(buf, len, "[%s]:%u", a, ntohs(c->peer.in6.sin6_port));
    } else {
        snprintf(buf, len, "%s", "");
    }
}

/* Every failure goes through here: the owner learns the kind, ctx->msg says why. */
static void fail(struct spate_conn *c, enum spate_error_kind k)
{
    spate_loop_untimer(&c->ctx->loop, &c->timer);
    c->state = SPATE_CONN_CLOSED;
    if (c->opening) {
        /* the owner has not even got the pointer yet: tell it from the next timer tick */
        c->deferred = k;
        c->deferred_msg = strdup(c->ctx->msg);
        spate_loop_timer(&c->ctx->loop, &c->timer, 1);
        return;
    }
    c->ops->fail(c, k);
}

static void deliver_deferred(struct spate_conn *c)
{
    snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s",
             c->deferred_msg ? c->deferred_msg : "out of memory");
    free(c->deferred_msg);
    c->deferred_msg = NULL;
    c->ops->fail(c, c->deferred);
}

static void set_timer(struct spate_conn *c, uint64_t deadline)
{
    if (deadline)
        spate_loop_timer(&c->ctx->loop, &c->timer, deadline);
    else
        spate_loop_untimer(&c->ctx->loop, &c->timer);
}

/* ---------- resolve and connect ---------- */

static void close_fd(struct spate_conn *c)
{
    if (c->tr.ops && c->tr.ops->release) c->tr.ops->release(&c->tr);
    c->tr.ops = NULL;
    int fd = c->io.fd >= 0 ? c->io.fd : c->tr.fd;
    spate_loop_del(&c->ctx->loop, &c->io);
    if (fd >= 0) close(fd);
    c->tr.fd = -1;
}

static void free_addrs(struct spate_conn *c)
{
    free(c->addrs);
    c->addrs = NULL;
    c->naddrs = c->ai = 0;
}

/* Per-address deadline: the remaining connect budget shared by the addresses left to try, so
 * one black-holed address cannot eat the whole budget of a host that has others. */
static uint64_t address_deadline(struct spate_conn *c)
{
    if (!c->connect_deadline) return 0;
    uint64_t now = spate_clock_now();
    if (now >= c->connect_deadline) return now;
    unsigned left = c->naddrs - c->ai;
    return now + (c->connect_deadline - now) / (left ? left : 1);
}

static void next_address(struct spate_conn *c, enum spate_error_kind k)
{
    close_fd(c);
    c->ai++;
    if (c->ai < c->naddrs && spate_clock_now() < c->connect_deadline)
        try_connect(c);
    else
        fail(c, k);
}

static void connect_failed(struct spate_conn *c, int err)
{
    char a[80];
    spate_conn_peer(c, a, sizeof(a));
    char why[96];
    snprintf(why, sizeof(why), "%s", strerror(err));
    why[0] = (char)tolower((unsigned char)why[0]); /* "connection refused", as curl says it */
    snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s (%s, host %s)", why, a, c->target->host);
    next_address(c, SPATE_E_CONNECT);
}

static void try_connect(struct spate_conn *c)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->ai].sa;
    socklen_t len = c->addrs[c->ai].len;
    memset(&c->peer, 0, sizeof(c->peer));
    memcpy(&c->peer, sa, len < sizeof(c->peer) ? len : sizeof(c->peer));
    c->peer_str[0] = 0;
    spate_conn_peer(c, c->peer_str, sizeof(c->peer_str));
    c->ctx->stats.connects++;
    c->t_tcp0 = spate_clock_now();
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "cannot create socket: %s", strerror(errno));
        fail(c, SPATE_E_CONNECT);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    spate_tcp_attach(&c->tr, fd);
    c->state = SPATE_CONN_CONNECTING;
    int rc;
    do
        rc = connect(fd, sa, len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        connect_failed(c, errno);
        return;
    }
    if (spate_loop_add(&c->ctx->loop, &c->io, fd, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE) <
        0) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "cannot watch socket: %s", strerror(errno));
        fail(c, SPATE_E_CONNECT);
        return;
    }
    set_timer(c, address_deadline(c));
}

static void on_resolved(void *arg, const struct spate_dns_answer *a)
{
    struct spate_conn *c = arg;
    c->dnsq = NULL;
    c->t_dns = spate_clock_now();
    if (!a->ok || a->n == 0) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s",
                 a->error ? a->error : "name resolved to no address");
        fail(c, SPATE_E_DNS);
        return;
    }
    if (a->cached) c->t_dns = c->t_open; /* a cache hit costs no lookup time */
    c->addrs = malloc(a->n * sizeof(*c->addrs));
    if (!c->addrs) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "out of memory");
        fail(c, SPATE_E_CONNECT);
        return;
    }
    memcpy(c->addrs, a->addrs, a->n * sizeof(*c->addrs));
    c->naddrs = (unsigned)a->n;
    c->ai = 0;
    try_connect(c);
}

struct spate_conn *spate_conn_open(struct spate_ctx *ctx, const struct spate_target *target,
                                   const struct spate_conn_ops *ops, void *user)
{
    struct spate_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->io.fd = -1;
    c->io.cb = on_event;
    c->tr.fd = -1;
    c->ctx = ctx;
    c->target = target;
    c->ops = ops;
    c->user = user;
    spate_timer_init(&c->timer, on_timer);
    c->state = SPATE_CONN_RESOLVING;
    c->t_open = spate_clock_now();
    if (ctx->connect_timeout) {
        c->connect_deadline = c->t_open + ctx->connect_timeout;
        set_timer(c, c->connect_deadline);
    }
    struct spate_dns_query *q = NULL;
    c->opening = 1;
    if (spate_dns_resolve(ctx->dns, target->host, target->port, on_resolved, c, &q) < 0) {
        snprintf(ctx->msg, sizeof(ctx->msg), "out of memory resolving %s", target->host);
        fail(c, SPATE_E_DNS);
    } else if (c->state == SPATE_CONN_RESOLVING) {
        c->dnsq = q;
    }
    c->opening = 0;
    return c;
}

/* ---------- handshake ---------- */

static void established(struct spate_conn *c)
{
    free_addrs(c);
    c->state = SPATE_CONN_IDLE;
    set_timer(c, 0);
    c->ops->ready(c);
}

static void transport_failed(struct spate_conn *c, ssize_t rc, const char *during)
{
    enum spate_error_kind k = c->tr.fail == SPATE_FAIL_TLS ? SPATE_E_TLS : SPATE_E_RESET;
    char why[300];
    if (rc == SPATE_IO_EOF)
        snprintf(why, sizeof(why), "connection closed by server");
    else
        c->tr.ops->describe(&c->tr, why, sizeof(why));
    const char *sep = " ";
    if (!strncmp(why, "TLS handshake failed", 20) && strstr(during, "handshake"))
        sep = during = ""; /* the transport's message already says when */
    char host[300] = "";
    if (!strstr(why, "(host ")) snprintf(host, sizeof(host), " (host %s)", c->target->host);
    snprintf(c->ctx->msg, sizeof(c->ctx->msg), "%s%s%s%s", why, sep, during, host);
    fail(c, k);
}

static void do_handshake(struct spate_conn *c)
{
    int rc = c->tr.ops->handshake(&c->tr);
    if (rc == SPATE_IO_WANT_READ || rc == SPATE_IO_WANT_WRITE) return;
    if (rc != 0) {
        if (c->tr.fail != SPATE_FAIL_TLS) {
            /* a peer that closes or resets mid-handshake is a TLS failure of this host */
            c->tr.fail = SPATE_FAIL_TLS;
        }
        transport_failed(c, rc, "during TLS handshake");
        return;
    }
    c->t_tls = spate_clock_now();
    c->resumed = (unsigned char)spate_tls_resumed(&c->tr);
    c->ctx->stats.tls_handshakes++;
    c->ctx->stats.tls_resumed += c->resumed;
    established(c);
}

static void start_tls(struct spate_conn *c)
{
    char err[256];
    if (!c->ctx->tls || spate_tls_attach(c->ctx->tls, &c->tr, c->target->host, c->target->host_ip,
                                         c->target->port, err, sizeof(err)) < 0) {
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "cannot start TLS: %s",
                 c->ctx->tls ? err : "no TLS context");
        fail(c, SPATE_E_TLS);
        return;
    }
    c->state = SPATE_CONN_HANDSHAKE;
    do_handshake(c);
}

static void check_connect(struct spate_conn *c, unsigned ev)
{
    if (!(ev & (SPATE_EV_WRITE | SPATE_EV_ERROR))) return;
    /* kqueue hands the socket error over with the event; epoll leaves it to SO_ERROR */
    int err = (ev & SPATE_EV_ERROR) ? c->io.err : 0;
    socklen_t len = sizeof(err);
    if (!err && getsockopt(c->tr.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == EINPROGRESS || (err == 0 && !(ev & SPATE_EV_WRITE))) return;
    if (err) {
        connect_failed(c, err);
        return;
    }
    c->t_tcp = spate_clock_now();
    c->ctx->stats.established++;
    if (c->target->https) {
        set_timer(c, c->connect_deadline);
        start_tls(c);
    } else {
        established(c);
    }
}

/* ---------- exchange ---------- */

static void read_timer(struct spate_conn *c)
{
    if (c->ctx->read_timeout)
        set_timer(c, c->last_io + c->ctx->read_timeout);
    else
        set_timer(c, 0);
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
    c->last_io = c->ctx->loop.now; /* the caller stamped it when the attempt started */
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
    if (!c->t_first) c->t_first = c->ctx->loop.now; /* when the wait that brought it ended */
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
    if (c->tr.tls) c->unclean_eof = (unsigned char)spate_tls_unclean_eof(&c->tr);
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
            c->last_io = c->ctx->loop.now;
            if (feed(c, c->ctx->rbuf, (size_t)n)) return;
            /* over TCP a short read drained the socket, unless the peer closed too (that FIN
             * raises no new edge); TLS returns one record per read, so only WANT_READ says
             * the socket is drained */
            if ((size_t)n < c->ctx->rbuf_len && !c->tr.tls && !c->hup) return;
            continue;
        }
        if (n == SPATE_IO_WANT_READ || n == SPATE_IO_WANT_WRITE) return;
        if (n == SPATE_IO_EOF) {
            at_eof(c);
            return;
        }
        transport_failed(c, n,
                         spate_http1_started(&c->resp) ? "while reading the response"
                                                       : "before any response");
        return;
    }
}

static int peek_readable(struct spate_conn *c)
{
    char b;
    return recv(c->tr.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
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
        if (c->tr.ops->pending(&c->tr) || peek_readable(c)) {
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
        check_connect(c, ev);
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
    if (c->deferred) {
        deliver_deferred(c);
        return;
    }
    switch (c->state) {
    case SPATE_CONN_RESOLVING:
        c->t_dns = now; /* the lookup took all this time */
        snprintf(c->ctx->msg, sizeof(c->ctx->msg),
                 "DNS lookup for %s timed out (no answer within the connect timeout)",
                 c->target->host);
        fail(c, SPATE_E_DNS);
        break;
    case SPATE_CONN_CONNECTING: {
        char a[80];
        spate_conn_peer(c, a, sizeof(a));
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "connect timeout connecting to %s (host %s)", a,
                 c->target->host);
        next_address(c, SPATE_E_TIMEOUT);
        break;
    }
    case SPATE_CONN_HANDSHAKE:
        snprintf(c->ctx->msg, sizeof(c->ctx->msg),
                 "connect timeout: TLS handshake with %s did not finish", c->target->host);
        fail(c, SPATE_E_TIMEOUT);
        break;
    case SPATE_CONN_SENDING:
    case SPATE_CONN_RECEIVING:
        if (now < c->last_io + c->ctx->read_timeout) {
            read_timer(c); /* bytes came since the timer was set: check again later */
            break;
        }
        snprintf(c->ctx->msg, sizeof(c->ctx->msg), "read timeout: no data from %s for %.3g s",
                 c->target->host, (double)c->ctx->read_timeout / 1e9);
        fail(c, SPATE_E_TIMEOUT);
        break;
    default:
        break;
    }
}

static void reap(struct spate_reap *r)
{
    struct spate_conn *c = (struct spate_conn *)((char *)r - offsetof(struct spate_conn, reap));
    free(c);
}

void spate_conn_close(struct spate_conn *c)
{
    if (!c || c->reap.fn) return;
    if (c->dnsq) spate_dns_cancel(c->dnsq);
    c->dnsq = NULL;
    spate_loop_untimer(&c->ctx->loop, &c->timer);
    free_addrs(c);
    close_fd(c);
    free(c->deferred_msg);
    c->deferred_msg = NULL;
    c->state = SPATE_CONN_CLOSED;
    c->reap.fn = reap;
    spate_loop_defer(&c->ctx->loop, &c->reap);
}
