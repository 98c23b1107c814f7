/* Unit tests for engine/conn.c, the connection state machine: every state (resolving,
 * connecting with Happy Eyeballs racing, TLS handshake, sending, awaiting the head, body, idle,
 * closed) and every event (readable, writable, error, EOF, timeout, connect refused). The kernel
 * does what only it can (loopback listeners, connects, a refused port, a listener whose full
 * backlog leaves a connect pending); once connected, a FAKE transport (ctx->attach) returns the
 * results this test scripts: WANT_READ, WANT_WRITE, EOF, ERR with each cause, partial writes,
 * short reads. An event is raised by writing a byte from the server's end of the socket (a new
 * edge); the fake never reads the socket, it plays the script. The owner callbacks are counted:
 * each must fire once, with the right kind and message. */
#include "../dns/dns.h"
#include "clock.h"
#include "conn.h"
#include "ctx.h"
#include "loop.h"
#include "tap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the fake transport ---- */

#define STEPS 16

struct step {
    ssize_t rc; /* > 0: bytes (read: taken from data; write: accepted at most); else SPATE_IO_* */
    const char *data;          /* read: the bytes handed over */
    enum spate_io_cause cause; /* with SPATE_IO_ERR */
    int sys_errno;
};

/* One script per test; every call past its end waits (WANT_READ). */
struct spate_transport_impl {
    struct step hs[STEPS], rd[STEPS], wr[STEPS];
    int nhs, nrd, nwr, ihs, ird, iwr;
    char written[4096];
    size_t nwritten;
    const char *why; /* describe's words */
    int peek, idle_ok, unclean, released, attached;
    int rd_calls; /* reads asked for, past the script's end too */
};

static struct spate_transport_impl fk;

static ssize_t next(struct spate_transport *t, const struct step *s, int n, int *i)
{
    if (*i >= n) return SPATE_IO_WANT_READ;
    const struct step *st = &s[(*i)++];
    if (st->rc == SPATE_IO_ERR) {
        t->cause = st->cause;
        t->sys_errno = st->sys_errno;
        t->verify = st->cause == SPATE_CAUSE_TLS_VERIFY ? 20 : 0;
    }
    return st->rc;
}

static int f_handshake(struct spate_transport *t)
{
    return (int)next(t, t->impl->hs, t->impl->nhs, &t->impl->ihs);
}

static ssize_t f_read(struct spate_transport *t, void *buf, size_t n)
{
    struct spate_transport_impl *f = t->impl;
    int at = f->ird;
    f->rd_calls++;
    ssize_t rc = next(t, f->rd, f->nrd, &f->ird);
    if (rc <= 0) return rc;
    if ((size_t)rc > n) rc = (ssize_t)n;
    memcpy(buf, f->rd[at].data, (size_t)rc);
    return rc;
}

static ssize_t f_write(struct spate_transport *t, const void *buf, size_t n)
{
    struct spate_transport_impl *f = t->impl;
    ssize_t rc = next(t, f->wr, f->nwr, &f->iwr);
    if (rc == SPATE_IO_WANT_READ) rc = SPATE_IO_WANT_WRITE; /* past the script: wait */
    if (rc <= 0) return rc;
    if ((size_t)rc > n) rc = (ssize_t)n;
    if (f->nwritten + (size_t)rc <= sizeof(f->written))
        memcpy(f->written + f->nwritten, buf, (size_t)rc);
    f->nwritten += (size_t)rc;
    return rc;
}

static int f_pending(struct spate_transport *t)
{
    (void)t;
    return 0;
}
static int f_idle_ok(struct spate_transport *t)
{
    return t->impl->idle_ok;
}
static int f_peek(struct spate_transport *t)
{
    return t->impl->peek;
}
static int f_unclean_eof(const struct spate_transport *t)
{
    return t->impl->unclean;
}
static void f_describe(struct spate_transport *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s", t->impl->why ? t->impl->why : "fake failure");
}
static void f_release(struct spate_transport *t)
{
    t->impl->released++;
    t->impl = NULL;
}

static const struct spate_transport_ops fake_ops = {
    .handshake = f_handshake,
    .read = f_read,
    .write = f_write,
    .pending = f_pending,
    .idle_ok = f_idle_ok,
    .peek = f_peek,
    .unclean_eof = f_unclean_eof,
    .describe = f_describe,
    .release = f_release,
    .short_read_drains = 1,
};

static int attach_fake(void *arg, struct spate_transport *t, const struct spate_target *target)
{
    (void)arg, (void)target;
    t->ops = &fake_ops;
    t->impl = &fk;
    fk.attached++;
    return 0;
}

/* Script helpers: S(rc), D("bytes") (a read handing them over), E(cause, errno). */
#define S(x) ((struct step){.rc = (x)})
#define D(s) ((struct step){.rc = (ssize_t)(sizeof(s) - 1), .data = (s)})
#define E(c, e) ((struct step){.rc = SPATE_IO_ERR, .cause = (c), .sys_errno = (e)})

/* ---- the owner ---- */

static struct {
    int ready, done, fail, idle_dead;
    enum spate_error_kind kind;
    char msg[512];
    enum spate_conn_state state_at_cb;
} ev;

static struct spate_ctx ctx;

static void on_ready(struct spate_conn *c)
{
    ev.ready++;
    ev.state_at_cb = c->state;
}
static void on_done(struct spate_conn *c)
{
    ev.done++;
    ev.state_at_cb = c->state;
}
static void on_fail(struct spate_conn *c, enum spate_error_kind k)
{
    ev.fail++;
    ev.kind = k;
    ev.state_at_cb = c->state;
    snprintf(ev.msg, sizeof(ev.msg), "%s", ctx.msg);
}
static void on_idle_dead(struct spate_conn *c)
{
    ev.idle_dead++;
    ev.state_at_cb = c->state;
}
static const struct spate_conn_ops ops = {on_ready, on_done, on_fail, on_idle_dead};

/* ---- the kernel's side ---- */

/* A listening TCP socket on addr (port 0: any); its port in *port. backlog as given. */
static int listen_on(int family, const char *addr, unsigned *port, int backlog)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    union spate_sockaddr a;
    memset(&a, 0, sizeof(a));
    socklen_t len;
    if (family == AF_INET) {
        a.in4.sin_family = AF_INET;
        a.in4.sin_port = htons((uint16_t)*port);
        inet_pton(AF_INET, addr, &a.in4.sin_addr);
        len = sizeof(a.in4);
    } else {
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_port = htons((uint16_t)*port);
        inet_pton(AF_INET6, addr, &a.in6.sin6_addr);
        len = sizeof(a.in6);
    }
    if (bind(fd, &a.sa, len) < 0 || listen(fd, backlog) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, &a.sa, &len);
    *port = ntohs(family == AF_INET ? a.in4.sin_port : a.in6.sin6_port);
    return fd;
}

/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
static unsigned closed_port(void)
{
    unsigned port = 0;
    int fd = listen_on(AF_INET, "127.0.0.1", &port, 1);
    close(fd);
    return port;
}

/* Runs the loop until cond or secs pass. */
#define RUN_UNTIL(cond, secs)                                                                      \
    do {                                                                                           \
        uint64_t end_ = spate_clock_now() + spate_clock_from_sec(secs);                            \
        while (!(cond) && spate_clock_now() < end_)                                                \
            spate_loop_once(&ctx.loop, 5 * SPATE_NS_PER_MS);                                       \
    } while (0)

static void run_for(double secs)
{
    uint64_t end = spate_clock_now() + spate_clock_from_sec(secs);
    while (spate_clock_now() < end)
        spate_loop_once(&ctx.loop, 5 * SPATE_NS_PER_MS);
}

static void reset(void)
{
    memset(&ev, 0, sizeof(ev));
    memset(&fk, 0, sizeof(fk));
    ctx.connect_timeout = ctx.race_delay = ctx.read_timeout = 0;
    ctx.attach = attach_fake;
}

/* A byte from the server's end: a new readable edge on the connection's socket. */
static void poke(int srv)
{
    char b = 'x';
    if (write(srv, &b, 1) != 1) diag("poke: %s", strerror(errno));
    spate_loop_once(&ctx.loop, 20 * SPATE_NS_PER_MS);
}

static struct spate_target tgt(const char *host, unsigned port, int https)
{
    return (struct spate_target){
        .host = host,
        .host_ip = strchr(host, ':') ? 6 : (host[0] >= '0' && host[0] <= '9' ? 4 : 0),
        .port = (uint16_t)port,
        .https = https};
}

/* Opens a connection to lfd's address and runs it until connected (then ready, handshaking or
 * failed by the script); the server's end in *srv. */
static struct spate_conn *open_ready(int lfd, const struct spate_target *t, int *srv)
{
    struct spate_conn *c = spate_conn_open(&ctx, t, &ops, NULL);
    RUN_UNTIL(c->state >= SPATE_CONN_HANDSHAKE, 2);
    *srv = accept(lfd, NULL, NULL);
    return c;
}

static const char REQ[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

static void send_req(struct spate_conn *c)
{
    spate_conn_send(c, REQ, sizeof(REQ) - 1, 0, NULL, NULL, NULL);
}

/* ---- resolving ---- */

static void test_resolving(void)
{
    reset();
    struct spate_target t = tgt("bad..name", 80, 0);
    struct spate_conn *c = spate_conn_open(&ctx, &t, &ops, NULL);
    int inside = ev.fail;
    ok(c && c->state == SPATE_CONN_RESOLVING && inside == 0,
       "resolving: open returns in RESOLVING, no callback inside the call");
    spate_loop_once(&ctx.loop, 0);
    ok(ev.fail == 1 && ev.kind == SPATE_E_DNS && ev.ready == 0, "  bad name: fail once, kind dns");
    is_str(ev.msg, "invalid host name bad..name", "  the message names the host");
    spate_conn_close(c);

    /* closed while its answer is posted: nobody is called, nothing is used after free */
    reset();
    t = tgt("127.0.0.1", closed_port(), 0);
    c = spate_conn_open(&ctx, &t, &ops, NULL);
    spate_conn_close(c);
    run_for(0.05);
    ok(ev.fail + ev.ready == 0, "resolving: closed before the answer's turn: no callback");

    /* a DNS server that never answers: the connect timeout ends the lookup */
    reset();
    unsigned dport = 0;
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    bind(u, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(u, (struct sockaddr *)&sa, &sl);
    dport = ntohs(sa.sin_port);
    char server[64], err[200];
    snprintf(server, sizeof(server), "127.0.0.1:%u", dport);
    const char *servers[] = {server};
    struct spate_dns_opts o = {.fixed_ttl = -1, .servers = servers, .n_servers = 1, .timeout = 5};
    struct spate_dns *real = ctx.dns, *silent = NULL;
    spate_dns_create(&silent, &ctx.loop, &o, err, sizeof(err));
    ctx.dns = silent;
    ctx.connect_timeout = 100 * SPATE_NS_PER_MS;
    t = tgt("silent.test", 80, 0);
    uint64_t t0 = spate_clock_now();
    c = spate_conn_open(&ctx, &t, &ops, NULL);
    RUN_UNTIL(ev.fail, 2);
    double dt = (double)(spate_clock_now() - t0) / 1e9;
    ok(ev.fail == 1 && ev.kind == SPATE_E_DNS && dt >= 0.1 && dt < 1.0,
       "resolving: silent DNS server, connect timeout 100 ms: fail once, kind dns (%.3f s)", dt);
    is_str(ev.msg, "DNS lookup for silent.test timed out (no answer within the connect timeout)",
           "  its message");
    spate_conn_close(c);
    ctx.dns = real;
    spate_dns_destroy(silent);
    close(u);
}

/* ---- connecting ---- */

static void test_connecting(void)
{
    reset();
    unsigned port = closed_port();
    struct spate_target t = tgt("127.0.0.1", port, 0);
    struct spate_conn *c = spate_conn_open(&ctx, &t, &ops, NULL);
    RUN_UNTIL(ev.fail, 2);
    char want[128];
    snprintf(want, sizeof(want), "connection refused (127.0.0.1:%u, host 127.0.0.1)", port);
    ok(ev.fail == 1 && ev.kind == SPATE_E_CONNECT && ev.ready == 0 && fk.attached == 0,
       "connecting: refused: fail once, kind connect, no transport attached");
    is_str(ev.msg, want, "  the message names the address");
    spate_conn_close(c);

    /* a listener whose backlog is full: the kernel drops our SYN and the connect stays pending */
    reset();
    unsigned bport = 0;
    int lfd = listen_on(AF_INET, "127.0.0.2", &bport, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)bport)};
    inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
    int fill[2];
    for (int i = 0; i < 2; i++) { /* backlog 0 takes one; a second makes sure it is full */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    usleep(50000);
    ctx.connect_timeout = 150 * SPATE_NS_PER_MS;
    t = tgt("127.0.0.2", bport, 0);
    uint64_t t0 = spate_clock_now();
    c = spate_conn_open(&ctx, &t, &ops, NULL);
    RUN_UNTIL(ev.fail || ev.ready, 2);
    double dt = (double)(spate_clock_now() - t0) / 1e9;
    snprintf(want, sizeof(want), "connect timeout connecting to 127.0.0.2:%u (host 127.0.0.2)",
             bport);
    ok(ev.fail == 1 && ev.kind == SPATE_E_TIMEOUT && dt >= 0.15 && dt < 1.0,
       "connecting: no SYN-ACK, connect timeout 150 ms: fail once, kind timeout (%.3f s)", dt);
    is_str(ev.msg, want, "  the message names the address");
    spate_conn_close(c);

    /* Happy Eyeballs: the first address hangs, the second races it after the delay and wins */
    char pin[80], err[200];
    snprintf(pin, sizeof(pin), "race.test:%u:127.0.0.2,127.0.0.3", bport);
    const char *pins[] = {pin};
    unsigned p3 = bport;
    int l3 = listen_on(AF_INET, "127.0.0.3", &p3, 16);
    struct spate_dns_opts o = {.fixed_ttl = -1, .pins = pins, .n_pins = 1};
    struct spate_dns *real = ctx.dns, *pinned = NULL;
    spate_dns_create(&pinned, &ctx.loop, &o, err, sizeof(err));
    ctx.dns = pinned;
    reset();
    ctx.race_delay = 60 * SPATE_NS_PER_MS;
    ctx.connect_timeout = 2 * SPATE_NS_PER_SEC;
    t = tgt("race.test", bport, 0);
    t0 = spate_clock_now();
    c = spate_conn_open(&ctx, &t, &ops, NULL);
    RUN_UNTIL(ev.fail || ev.ready, 3);
    dt = (double)(spate_clock_now() - t0) / 1e9;
    snprintf(want, sizeof(want), "127.0.0.3:%u", bport);
    ok(l3 >= 0 && ev.ready == 1 && ev.fail == 0 && strcmp(c->peer_str, want) == 0 && dt >= 0.06 &&
           dt < 0.4,
       "Happy Eyeballs, race delay 60 ms: the second address wins after the delay (%s, %.3f s)",
       c->peer_str, dt);
    ok(ev.state_at_cb == SPATE_CONN_IDLE && fk.attached == 1 && c->setup == NULL,
       "  ready in IDLE, transport attached once, the losing dial's setup gone");
    spate_conn_close(c);

    /* without a race delay: one at a time, each with its share of the connect budget */
    reset();
    ctx.connect_timeout = 300 * SPATE_NS_PER_MS;
    t0 = spate_clock_now();
    c = spate_conn_open(&ctx, &t, &ops, NULL);
    RUN_UNTIL(ev.fail || ev.ready, 3);
    dt = (double)(spate_clock_now() - t0) / 1e9;
    ok(ev.ready == 1 && strcmp(c->peer_str, want) == 0 && dt >= 0.15 && dt < 0.3,
       "no race delay, 2 addresses, 300 ms budget: the first gets half, then the second wins "
       "(%.3f s)",
       dt);
    spate_conn_close(c);
    ctx.dns = real;
    spate_dns_destroy(pinned);
    run_for(0.01);
    close(l3);
    close(fill[0]);
    close(fill[1]);
    close(lfd);
}

/* ---- TLS handshake through the fake ---- */

static void test_handshake(int lfd, unsigned port)
{
    struct spate_target t = tgt("127.0.0.1", port, 1);
    int srv;
    reset();
    fk.hs[fk.nhs++] = S(SPATE_IO_WANT_READ);
    fk.hs[fk.nhs++] = S(0);
    struct spate_conn *c = open_ready(lfd, &t, &srv);
    ok(ev.ready == 0 && c->state == SPATE_CONN_HANDSHAKE && fk.ihs == 1,
       "handshake: WANT_READ keeps it in HANDSHAKE, not ready");
    poke(srv);
    ok(ev.ready == 1 && ev.fail == 0 && c->state == SPATE_CONN_IDLE && fk.ihs == 2 && c->t_tls,
       "  a readable event finishes it: ready once, t_tls stamped");
    spate_conn_close(c);
    close(srv);

    static const struct {
        struct step st;
        const char *why, *msg;
        enum spate_error_kind kind;
    } cases[] = {
        {E(SPATE_CAUSE_TLS_HANDSHAKE, 0), "TLS handshake failed: alert",
         "TLS handshake failed: alert (host 127.0.0.1)", SPATE_E_TLS},
        {E(SPATE_CAUSE_TLS_VERIFY, 0), "certificate verify failed for 127.0.0.1",
         "certificate verify failed for 127.0.0.1 during TLS handshake", SPATE_E_TLS},
        {E(SPATE_CAUSE_RESET, ECONNRESET), "Connection reset by peer",
         "Connection reset by peer (host 127.0.0.1)", SPATE_E_TLS},
        {S(SPATE_IO_EOF), NULL, "connection closed by server during TLS handshake (host 127.0.0.1)",
         SPATE_E_TLS},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reset();
        fk.hs[fk.nhs++] = cases[i].st;
        fk.why = cases[i].why;
        c = open_ready(lfd, &t, &srv);
        ok(ev.fail == 1 && ev.ready == 0 && ev.kind == cases[i].kind &&
               ev.state_at_cb == SPATE_CONN_CLOSED,
           "handshake %s: fail once, kind tls", cases[i].why ? cases[i].why : "EOF");
        is_str(ev.msg, cases[i].msg, "  message");
        spate_conn_close(c);
        close(srv);
    }

    reset();
    ctx.connect_timeout = 80 * SPATE_NS_PER_MS;
    c = open_ready(lfd, &t, &srv); /* the script is empty: the handshake waits forever */
    RUN_UNTIL(ev.fail, 2);
    ok(ev.fail == 1 && ev.kind == SPATE_E_TIMEOUT, "handshake timeout: fail once, kind timeout");
    is_str(ev.msg, "connect timeout: TLS handshake with 127.0.0.1 did not finish", "  message");
    spate_conn_close(c);
    close(srv);
}

/* ---- sending, awaiting the head, the body ---- */

static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static void test_exchange(int lfd, unsigned port)
{
    struct spate_target t = tgt("127.0.0.1", port, 0);
    int srv;

    /* partial writes: 5 bytes, then WANT_WRITE; the rest on the next event */
    reset();
    fk.wr[fk.nwr++] = S(5);
    fk.wr[fk.nwr++] = S(SPATE_IO_WANT_WRITE);
    fk.wr[fk.nwr++] = S(4096);
    struct spate_conn *c = open_ready(lfd, &t, &srv);
    send_req(c);
    ok(c->state == SPATE_CONN_SENDING && fk.nwritten == 5 && c->out_off == 5,
       "sending: a partial write (5 bytes) then WANT_WRITE stays in SENDING");
    poke(srv);
    ok(c->state == SPATE_CONN_RECEIVING && fk.nwritten == sizeof(REQ) - 1 &&
           memcmp(fk.written, REQ, sizeof(REQ) - 1) == 0,
       "  the next event sends the rest, byte for byte, and awaits the head");

    /* the response in short reads: head split, then body */
    fk.rd[fk.nrd++] = D("HTTP/1.1 200 OK\r\nContent-");
    fk.rd_calls = 0;
    poke(srv);
    ok(c->state == SPATE_CONN_RECEIVING && ev.done == 0 && c->t_first && fk.rd_calls == 1,
       "awaiting the head: a short read of half a head: still receiving, first byte stamped, "
       "and no second read (a short TCP read drained the socket: %d reads)",
       fk.rd_calls);
    fk.rd[fk.nrd++] = D("Length: 5\r\n\r\nhel");
    poke(srv);
    ok(c->state == SPATE_CONN_RECEIVING && ev.done == 0 && c->resp.status == 200,
       "body: head complete (200), 3 of 5 body bytes: still receiving");
    fk.rd[fk.nrd++] = D("lo");
    poke(srv);
    ok(ev.done == 1 && ev.fail == 0 && c->state == SPATE_CONN_IDLE &&
           c->wire_bytes == sizeof(RESP) - 1 && spate_conn_reusable(c),
       "body: the last 2 bytes: done once, %zu wire bytes, reusable", (size_t)c->wire_bytes);

    /* idle: the server closes it (idle_ok says no) -> idle_dead once */
    spate_conn_idle(c);
    fk.idle_ok = 1;
    poke(srv);
    ok(ev.idle_dead == 0 && c->state == SPATE_CONN_IDLE,
       "idle: an event while idle_ok: stays idle");
    fk.idle_ok = 0;
    poke(srv);
    ok(ev.idle_dead == 1 && c->state == SPATE_CONN_CLOSED,
       "idle: the peer closed: idle_dead once, CLOSED");
    poke(srv);
    ok(ev.idle_dead == 1 && ev.fail == 0 && ev.done == 1, "closed: later events call nobody");
    spate_conn_close(c);
    close(srv);

    /* EOF before any response; after part of one; a body delimited by the close */
    static const struct {
        const char *first;
        int clean, done;
        enum spate_error_kind kind;
        const char *msg;
    } eofs[] = {
        {NULL, 1, 0, SPATE_E_RESET, "server closed the connection without a response"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 1, 0, SPATE_E_RESET,
         "connection closed before the end of the response body (truncated)"},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", 1, 1, 0, NULL},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", 0, 1, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(eofs) / sizeof(eofs[0]); i++) {
        reset();
        fk.unclean = !eofs[i].clean;
        c = open_ready(lfd, &t, &srv);
        fk.wr[fk.nwr++] = S(4096);
        if (eofs[i].first) {
            fk.rd[fk.nrd].rc = (ssize_t)strlen(eofs[i].first);
            fk.rd[fk.nrd++].data = eofs[i].first;
        }
        fk.rd[fk.nrd++] = S(SPATE_IO_EOF);
        send_req(c);
        poke(srv); /* a short read drains the socket: the EOF needs its own edge */
        if (eofs[i].first) poke(srv);
        if (eofs[i].done)
            ok(ev.done == 1 && ev.fail == 0 && !c->resp.keep_alive && !spate_conn_reusable(c) &&
                   c->unclean_eof == !eofs[i].clean,
               "EOF ends a close-delimited body (%s): done once, not reusable",
               eofs[i].clean ? "clean" : "unclean");
        else
            ok(ev.fail == 1 && ev.done == 0 && ev.kind == eofs[i].kind &&
                   strcmp(ev.msg, eofs[i].msg) == 0,
               "EOF %s: fail once, kind reset (%s)", eofs[i].first ? "mid-body" : "before any byte",
               ev.msg);
        spate_conn_close(c);
        close(srv);
    }

    /* errors with each cause, while reading and while sending */
    static const struct {
        struct step st;
        int in_write, peek;
        enum spate_error_kind kind;
        const char *msg;
    } errs[] = {
        {E(SPATE_CAUSE_RESET, ECONNRESET), 0, 0, SPATE_E_RESET,
         "fake failure before any response (host 127.0.0.1)"},
        {E(SPATE_CAUSE_TLS_RECORD, 0), 0, 0, SPATE_E_TLS,
         "fake failure before any response (host 127.0.0.1)"},
        {E(SPATE_CAUSE_RESET, EPIPE), 1, 0, SPATE_E_RESET,
         "fake failure while sending the request (host 127.0.0.1)"},
        {E(SPATE_CAUSE_TLS_RECORD, 0), 1, 0, SPATE_E_TLS,
         "fake failure while sending the request (host 127.0.0.1)"},
        {E(SPATE_CAUSE_RESET, EPIPE), 1, 1, 0, NULL}, /* the server answered first: that counts */
    };
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        reset();
        c = open_ready(lfd, &t, &srv);
        if (errs[i].in_write) {
            fk.wr[fk.nwr++] = errs[i].st;
            fk.peek = errs[i].peek;
            if (errs[i].peek)
                fk.rd[fk.nrd++] = D("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
        } else {
            fk.wr[fk.nwr++] = S(4096);
            fk.rd[fk.nrd++] = errs[i].st;
        }
        send_req(c);
        poke(srv);
        if (errs[i].msg) {
            ok(ev.fail == 1 && ev.done == 0 && ev.kind == errs[i].kind,
               "error while %s, cause %d: fail once, kind %d",
               errs[i].in_write ? "sending" : "reading", (int)errs[i].st.cause, (int)errs[i].kind);
            is_str(ev.msg, errs[i].msg, "  message");
        } else {
            ok(ev.done == 1 && ev.fail == 0 && c->resp.status == 413 && !spate_conn_reusable(c),
               "write failed but the server's answer waits (peek): done once with its 413");
        }
        spate_conn_close(c);
        close(srv);
    }

    /* read timeout: no byte within 60 ms */
    reset();
    ctx.read_timeout = 60 * SPATE_NS_PER_MS;
    c = open_ready(lfd, &t, &srv);
    fk.wr[fk.nwr++] = S(4096);
    send_req(c);
    uint64_t t0 = c->last_io; /* the silence is counted from the send's start */
    RUN_UNTIL(ev.fail, 2);
    double dt = (double)(spate_clock_now() - t0) / 1e9;
    ok(ev.fail == 1 && ev.kind == SPATE_E_TIMEOUT && dt >= 0.06 && dt < 1.0,
       "awaiting the head, read timeout 60 ms: fail once, kind timeout (%.3f s of silence)", dt);
    is_str(ev.msg, "read timeout: no data from 127.0.0.1 for 0.06 s", "  message");
    spate_conn_close(c);
    close(srv);

    /* a response that is not HTTP: the parser's verdict, once */
    reset();
    c = open_ready(lfd, &t, &srv);
    fk.wr[fk.nwr++] = S(4096);
    fk.rd[fk.nrd++] = D("SSH-2.0-OpenSSH\r\n");
    send_req(c);
    poke(srv);
    ok(ev.fail == 1 && ev.done == 0 && ev.kind == SPATE_E_PROTOCOL,
       "a response that is not HTTP: fail once, kind protocol (%s)", ev.msg);
    spate_conn_close(c);
    close(srv);
    ok(fk.released == 1, "closing releases the transport once");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    char err[200];
    if (spate_loop_init(&ctx.loop) < 0 ||
        spate_dns_create(&ctx.dns, &ctx.loop, NULL, err, sizeof(err)) < 0) {
        ok(0, "loop and resolver");
        return done();
    }
    ctx.rbuf_len = 16384;
    ctx.rbuf = malloc(ctx.rbuf_len);
    ctx.lim = (struct spate_http1_limits){
        .max_header_bytes = 65536, .max_headers = 100, .max_body = UINT64_MAX};
    unsigned port = 0;
    int lfd = listen_on(AF_INET, "127.0.0.1", &port, 64);
    test_resolving();
    test_connecting();
    test_handshake(lfd, port);
    test_exchange(lfd, port);
    close(lfd);
    spate_dns_destroy(ctx.dns);
    spate_loop_fini(&ctx.loop);
    free(ctx.rbuf);
    return done();
}
