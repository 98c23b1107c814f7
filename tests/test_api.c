/* The per-request API an embedder drives from its own loop: spate_submit_ex's handle and
 * spate_cancel (queued, connecting, mid-body: the done callback runs once, kind canceled, and a
 * cut connection is never reused), the head callback (before the body, right status and
 * headers; stopping from it), per-request options (timeouts overriding the engine's; retries,
 * redirects, their limit and the body limit, each checked against the server's own count; the
 * size field: 0 refused, an older caller's shorter struct read no further than its size), the
 * embedding contract (step and run refused with -EDEADLK from a callback, submit from a
 * callback works, the engine fd turns readable after a submit).
 *
 * The server is a forked process of our own on loopback: each connection is served by a child
 * of it that knows the connection's serial number (sent back as X-Conn, so a test sees whether
 * a request came on a new connection); /ok answers at once, /slow after 600 ms, /drip sends
 * the head and 10 bytes of a 1 MB body, then nothing; /big sends a 1000-byte body, /redir a 302
 * to /ok, /loop a 302 to itself, /fail a 503; the hits on /loop and /fail are counted in memory
 * the server's children share. */
#include "spate.h"
#include "tap.h"
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct spate_engine *engine;

/* ---------- the server ---------- */

/* Hits on /loop and /fail, counted by the server's children (shared memory mapped before the
 * server forks): the ground truth for attempts and redirects. */
static volatile unsigned *hits_loop, *hits_fail;

static void reply_raw(int fd, const char *status, const char *extra, const char *body)
{
    char out[2048];
    int n = snprintf(out, sizeof(out), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n%s", status,
                     extra, strlen(body), body);
    if (write(fd, out, (size_t)n) < 0) _exit(0);
}

static void reply(int fd, int serial, const char *body)
{
    char out[512];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/x-spate\r\nX-Conn: %d\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     serial, strlen(body), body);
    if (write(fd, out, (size_t)n) < 0) _exit(0);
}

/* One connection: requests one after the other (keep-alive) until the peer closes. */
static void serve(int fd, int serial)
{
    char in[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, in + have, sizeof(in) - 1 - have);
        if (n <= 0) _exit(0);
        have += (size_t)n;
        in[have] = 0;
        char *end = strstr(in, "\r\n\r\n");
        if (!end) continue;
        if (!strncmp(in, "GET /slow", 9)) {
            usleep(600 * 1000);
            reply(fd, serial, "slow");
        } else if (!strncmp(in, "GET /drip", 9)) {
            char out[256];
            int k = snprintf(out, sizeof(out),
                             "HTTP/1.1 200 OK\r\nX-Conn: %d\r\nContent-Length: 1000000\r\n\r\n"
                             "0123456789",
                             serial);
            if (write(fd, out, (size_t)k) < 0) _exit(0);
            while (read(fd, in, sizeof(in)) > 0) /* nothing more, until the peer goes */
                ;
            _exit(0);
        } else if (!strncmp(in, "GET /big", 8)) {
            char body[1001];
            memset(body, 'b', 1000);
            body[1000] = 0;
            reply_raw(fd, "200 OK", "", body);
        } else if (!strncmp(in, "GET /redir", 10)) {
            reply_raw(fd, "302 Found", "Location: /ok\r\n", "");
        } else if (!strncmp(in, "GET /loop", 9)) {
            __atomic_fetch_add(hits_loop, 1, __ATOMIC_SEQ_CST);
            reply_raw(fd, "302 Found", "Location: /loop\r\n", "");
        } else if (!strncmp(in, "GET /fail", 9)) {
            __atomic_fetch_add(hits_fail, 1, __ATOMIC_SEQ_CST);
            reply_raw(fd, "503 Service Unavailable", "Retry-After: 0\r\n", "");
        } else {
            reply(fd, serial, "hello");
        }
        size_t used = (size_t)(end + 4 - in);
        memmove(in, in + used, have - used);
        have -= used;
    }
}

static pid_t server_start(int *port)
{
    unsigned *shared =
        mmap(NULL, 2 * sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return -1;
    hits_loop = &shared[0];
    hits_fail = &shared[1];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    if (pid) {
        close(fd);
        return pid;
    }
    /* the server dies with the test, even one that crashed, and holds none of its output open
     * (a TAP harness waits for that pipe's end) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    setpgid(0, 0);
    signal(SIGCHLD, SIG_IGN); /* no zombies */
    for (int serial = 1;; serial++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        if (!fork()) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(fd);
            serve(c, serial);
        }
        close(c);
    }
}

/* A listener whose accept queue is full (backlog 0, filled by two connections of ours): a
 * further SYN goes unanswered, so a connect to it stays pending. */
static int syn_sink(int *port, int fill[2])
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 0) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    *port = ntohs(a.sin_port);
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    usleep(100 * 1000);
    return fd;
}

/* ---------- what the callbacks saw ---------- */

#define MAX_CALLS 64
struct call {
    int tag, status;
    enum spate_error_kind error;
    unsigned attempts;
    unsigned long long body_bytes;
    char conn[16]; /* X-Conn */
    char message[160];
    int body_before_head; /* body bytes had come before the head callback */
    int step_rc, run_rc;  /* spate_engine_step / spate_run from inside the callback */
};
static struct call calls[MAX_CALLS];
static int ncalls;
static int heads, head_status, head_stop, body_seen, body_before_head, try_reentry;
static char head_ctype[64], head_conn[16];
static long body_bytes;
static int resubmit_tag; /* > 0: the done callback submits one request with this tag */
static char url_ok[64];

static const char *header(const struct spate_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(h[i].name, name)) return h[i].value;
    return "";
}

static void on_done(void *user, const struct spate_response *r);

static struct spate_req *submit(int tag, const char *u, const struct spate_request_opts *o)
{
    struct spate_request q = {.url = u, .done = on_done, .user = (void *)(long)tag};
    struct spate_req *h = NULL;
    char err[200];
    if (spate_submit_ex(engine, &q, o, &h, err, sizeof(err))) diag("submit: %s", err);
    return h;
}

static void on_done(void *user, const struct spate_response *r)
{
    if (ncalls >= MAX_CALLS) return;
    struct call *c = &calls[ncalls++];
    c->tag = (int)(long)user;
    c->status = r->status;
    c->error = r->error;
    c->attempts = r->attempts;
    c->body_bytes = r->body_bytes;
    snprintf(c->conn, sizeof(c->conn), "%s", header(r->headers, r->nheaders, "X-Conn"));
    snprintf(c->message, sizeof(c->message), "%s", r->message);
    if (try_reentry) {
        c->step_rc = spate_engine_step(engine);
        c->run_rc = spate_run(engine);
        spate_engine_destroy(engine); /* refused: the test goes on with this engine */
    }
    if (resubmit_tag) {
        int t = resubmit_tag;
        resubmit_tag = 0;
        submit(t, url_ok, NULL);
    }
}

static int on_head(void *user, int status, const struct spate_header *h, size_t n)
{
    (void)user;
    heads++;
    head_status = status;
    body_before_head = body_seen;
    snprintf(head_ctype, sizeof(head_ctype), "%s", header(h, n, "Content-Type"));
    snprintf(head_conn, sizeof(head_conn), "%s", header(h, n, "X-Conn"));
    return head_stop;
}

static int on_body(void *user, const char *p, size_t n)
{
    (void)user;
    (void)p;
    body_seen = 1;
    body_bytes += (long)n;
    return 0;
}

/* Cancels its own request from its body callback. */
static struct spate_req *self;
static int self_rc = 1, self_calls;
static int cancel_self(void *user, const char *p, size_t n)
{
    (void)user, (void)p, (void)n;
    self_calls++;
    self_rc = spate_cancel(engine, self);
    self_calls += ncalls * 100; /* its done callback must not have run yet */
    return 0;
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Our own poll loop around the engine, for ms milliseconds or until `until` calls ran. */
static void pump(int ms, int until)
{
    long t0 = now_ms();
    while (now_ms() - t0 < ms && ncalls < until) {
        int wait = spate_engine_timeout_ms(engine);
        long left = ms - (now_ms() - t0);
        if (wait < 0 || wait > left) wait = (int)left;
        struct pollfd p = {.fd = spate_engine_fd(engine), .events = POLLIN};
        poll(&p, 1, wait);
        spate_engine_step(engine);
    }
}

static unsigned in_flight(void)
{
    struct spate_stats st;
    spate_engine_stats(engine, &st);
    return (unsigned)st.in_flight;
}

static int fd_readable(void)
{
    struct pollfd p = {.fd = spate_engine_fd(engine), .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

/* The next fresh_engine's concurrency and read timeout (then back to 1 and none). */
static unsigned next_concurrency = 1;
static double next_read_timeout;

static void fresh_engine(double timeout)
{
    struct spate_config cfg;
    spate_config_init(&cfg);
    cfg.concurrency = next_concurrency;
    cfg.timeout = timeout;
    cfg.read_timeout = next_read_timeout;
    next_concurrency = 1;
    next_read_timeout = 0;
    char err[200];
    spate_engine_destroy(engine);
    if (spate_engine_create(&engine, &cfg, err, sizeof(err))) {
        printf("Bail out! engine: %s\n", err);
        exit(1);
    }
    ncalls = 0;
}

int main(void)
{
    plan(66);
    int port, sport, fill[2];
    pid_t srv = server_start(&port);
    int sink = syn_sink(&sport, fill);
    if (srv < 0 || sink < 0) {
        printf("Bail out! no server\n");
        return 1;
    }
    char url_drip[64], url_slow[64], url_sink[64];
    snprintf(url_ok, sizeof(url_ok), "http://127.0.0.1:%d/ok", port);
    snprintf(url_drip, sizeof(url_drip), "http://127.0.0.1:%d/drip", port);
    snprintf(url_slow, sizeof(url_slow), "http://127.0.0.1:%d/slow", port);
    snprintf(url_sink, sizeof(url_sink), "http://127.0.0.1:%d/never", sport);
    fresh_engine(30);

    /* --- the wake-up: a submit from outside makes the fd readable; the step drains it --- */
    is_int(fd_readable(), 0, "an idle engine's fd is not readable");
    struct spate_req *h0 = submit(1, url_ok, NULL);
    ok(h0 != NULL, "spate_submit_ex hands out a handle");
    is_int(fd_readable(), 1, "after a submit from outside a callback the engine fd is readable");
    pump(3000, 1);
    is_int(ncalls, 1, "the request completed");
    is_int(calls[0].status, 200, "... with status 200");
    pump(50, 99);
    is_int(fd_readable(), 0, "the step drained the wake-up: the fd is quiet again");

    /* --- cancel while queued (-c 1: the second waits behind the first) --- */
    ncalls = 0;
    struct spate_req *running = submit(10, url_drip, NULL);
    struct spate_req *queued = submit(11, url_ok, NULL);
    pump(300, 99);
    is_int(in_flight(), 1, "-c 1: one attempt in flight, one queued");
    is_int(spate_cancel(engine, queued), 0, "spate_cancel on the queued request returns 0");
    is_int(ncalls, 1, "its done callback ran before spate_cancel returned, once");
    is_int(calls[0].tag, 11, "... for that request");
    is_int(calls[0].error, SPATE_E_CANCELED, "... with kind canceled");
    is_int(calls[0].attempts, 0, "... and 0 attempts (it never started)");

    /* --- cancel mid-body: the drip's head and 10 bytes came, the rest never will --- */
    is_int(spate_cancel(engine, running), 0, "spate_cancel mid-body returns 0");
    is_int(ncalls, 2, "the mid-body request's callback ran once");
    is_int(calls[1].error, SPATE_E_CANCELED, "... kind canceled");
    is_int(calls[1].attempts, 1, "... its cut attempt counts (attempts 1)");
    pump(300, 99);
    is_int(ncalls, 2, "no second callback for a canceled request");
    submit(12, url_ok, NULL);
    pump(3000, 3);
    is_int(calls[2].status, 200, "the next request to that host succeeds");
    ok(strcmp(calls[2].conn, calls[1].conn) != 0 && strcmp(calls[2].conn, "") != 0,
       "... on a NEW connection (X-Conn was %s mid-body, %s after)", calls[1].conn, calls[2].conn);

    /* --- cancel while connecting: the SYN goes unanswered --- */
    ncalls = 0;
    struct spate_stats st0, st1;
    spate_engine_stats(engine, &st0);
    struct spate_req *conn = submit(20, url_sink, NULL);
    pump(300, 99);
    spate_engine_stats(engine, &st1);
    ok(st1.connects == st0.connects + 1 && st1.established == st0.established,
       "a connect to the full listener is pending (1 attempted, none established)");
    is_int(spate_cancel(engine, conn), 0, "spate_cancel while connecting returns 0");
    is_int(ncalls, 1, "its callback ran once");
    is_int(calls[0].error, SPATE_E_CANCELED, "... kind canceled");
    pump(200, 99);
    is_int(ncalls + (int)in_flight(), 1, "nothing left in flight, no second callback");

    /* --- head callback: before the body, status and headers right --- */
    ncalls = 0;
    struct spate_request_opts o = {.size = sizeof(o), .on_head = on_head};
    struct spate_request q = {.url = url_ok, .done = on_done, .on_body = on_body};
    char err[200];
    spate_submit_ex(engine, &q, &o, NULL, err, sizeof(err));
    pump(3000, 1);
    is_int(heads, 1, "the head callback ran once");
    ok(head_status == 200 && !strcmp(head_ctype, "text/x-spate"),
       "... with status 200 and Content-Type text/x-spate (got %d, '%s')", head_status, head_ctype);
    ok(body_seen && !body_before_head && body_bytes == 5,
       "... before the first body byte (5 body bytes after it)");

    /* stopping from it: the request ends canceled, the body is not delivered */
    ncalls = heads = body_seen = 0;
    body_bytes = 0;
    head_stop = 1;
    q.url = url_drip;
    spate_submit_ex(engine, &q, &o, NULL, err, sizeof(err));
    pump(3000, 1);
    ok(heads == 1 && ncalls == 1 && calls[0].error == SPATE_E_CANCELED,
       "a head callback returning nonzero stops the request: kind canceled");
    is_int(body_bytes, 0, "... and no body byte reached the body callback");
    head_stop = 0;

    /* spate_cancel of its own request from its body callback: done runs once, after it */
    ncalls = 0;
    struct spate_request qs = {.url = url_drip, .done = on_done, .on_body = cancel_self};
    spate_submit_ex(engine, &qs, NULL, &self, err, sizeof(err));
    pump(3000, 1);
    ok(self_rc == 0 && self_calls == 1,
       "spate_cancel from the request's own body callback returns 0, done not yet run");
    pump(100, 99);
    ok(ncalls == 1 && calls[0].error == SPATE_E_CANCELED,
       "... then its done callback runs once, kind canceled");

    /* --- per-request timeout overriding the engine's (30 s): /slow answers after 600 ms --- */
    ncalls = 0;
    struct spate_request_opts t = {.size = sizeof(t), .timeout = 0.2};
    long t0 = now_ms();
    submit(30, url_slow, &t);
    pump(5000, 1);
    long took = now_ms() - t0;
    is_int(calls[0].error, SPATE_E_TIMEOUT, "a 0.2 s request timeout fails the 600 ms request");
    ok(took >= 150 && took < 550, "... after about 0.2 s (%ld ms)", took);
    fresh_engine(0.2); /* and the other way: the engine's 0.2 s, the request's 5 s */
    t.timeout = 5;
    submit(31, url_slow, &t);
    pump(5000, 1);
    is_int(calls[0].status, 200, "a 5 s request timeout outlasts the engine's 0.2 s: status 200");

    /* --- per-request read timeout: the drip stalls after 10 body bytes; /slow is silent for
     * 600 ms before its head. The engine has no read timeout; -c 2, so both run at once. --- */
    next_concurrency = 2;
    fresh_engine(30);
    struct spate_request_opts rt = {.size = sizeof(rt), .read_timeout = 0.3};
    t0 = now_ms();
    submit(50, url_drip, &rt);
    submit(51, url_slow, NULL);
    pump(5000, 2);
    took = now_ms() - t0;
    ok(ncalls == 2 && calls[0].tag == 50 && calls[0].error == SPATE_E_TIMEOUT,
       "read_timeout 0.3 s: the request stalled mid-body ends first, kind timeout (%s)",
       calls[0].message);
    ok(strstr(calls[0].message, "read timeout") && strstr(calls[0].message, "0.3 s"),
       "... as a read timeout of 0.3 s: %s", calls[0].message);
    ok(calls[0].attempts == 1, "... after 1 attempt");
    ok(calls[1].tag == 51 && calls[1].status == 200 && calls[1].error == SPATE_OK,
       "a sibling with the engine's (no) read timeout outlasts 600 ms of silence: status 200");
    ok(took >= 550 && took < 2500, "... both done after the slow one's 600 ms (%ld ms)", took);

    /* the same, measured alone: the read timeout ends the stalled request after ~0.3 s */
    ncalls = 0;
    t0 = now_ms();
    submit(52, url_drip, &rt);
    pump(5000, 1);
    took = now_ms() - t0;
    is_int(calls[0].error, SPATE_E_TIMEOUT, "a mid-body stall with read_timeout 0.3 s: timeout");
    ok(took >= 250 && took < 900, "... after about 0.3 s (%ld ms)", took);

    /* a pooled connection forgets the read timeout of the request it served before: /ok with
     * 0.3 s, then /slow (600 ms of silence) with the engine's none, on the same connection */
    ncalls = 0;
    submit(53, url_ok, &rt);
    pump(3000, 1);
    submit(54, url_slow, NULL);
    pump(5000, 2);
    ok(ncalls == 2 && calls[0].status == 200 && calls[1].status == 200,
       "a request without its own read timeout after one with 0.3 s: status 200 (%s)",
       ncalls == 2 ? calls[1].message : "");
    ok(ncalls == 2 && !strcmp(calls[0].conn, calls[1].conn),
       "... on the same pooled connection (X-Conn %s and %s)", calls[0].conn,
       ncalls == 2 ? calls[1].conn : "");

    /* and the other way: the engine's read timeout 0.3 s, the request's none (< 0) or 5 s */
    next_read_timeout = 0.3;
    fresh_engine(30);
    submit(55, url_slow, NULL);
    pump(5000, 1);
    is_int(calls[0].error, SPATE_E_TIMEOUT, "the engine's read timeout 0.3 s fails /slow");
    ncalls = 0;
    rt.read_timeout = -1;
    submit(56, url_slow, &rt);
    rt.read_timeout = 5;
    submit(57, url_slow, &rt);
    pump(5000, 2);
    ok(ncalls == 2 && calls[0].status == 200 && calls[1].status == 200,
       "read_timeout -1 (none) and 5 s override the engine's 0.3 s: both status 200");

    /* --- per-request connect timeout: a SYN the full listener never answers. The engine's
     * connect timeout is 10 s; one request has 0.3 s, a sibling the engine's. --- */
    next_concurrency = 2;
    fresh_engine(30);
    struct spate_request_opts ct = {.size = sizeof(ct), .connect_timeout = 0.3};
    t0 = now_ms();
    submit(60, url_sink, &ct);
    struct spate_req *sibling = submit(61, url_sink, NULL);
    pump(3000, 1);
    took = now_ms() - t0;
    ok(ncalls == 1 && calls[0].tag == 60 && calls[0].error == SPATE_E_TIMEOUT,
       "connect_timeout 0.3 s to a black hole: kind timeout (%s)", calls[0].message);
    ok(strstr(calls[0].message, "connect timeout") != NULL, "... a connect timeout: %s",
       calls[0].message);
    ok(took >= 250 && took < 900, "... after about 0.3 s (%ld ms)", took);
    pump(300, 99);
    ok(ncalls == 1 && in_flight() == 1,
       "the sibling with the engine's 10 s is still connecting 0.3 s later");
    spate_cancel(engine, sibling);
    ok(ncalls == 2 && calls[1].tag == 61 && calls[1].error == SPATE_E_CANCELED,
       "... until canceled");

    /* the other way: the engine's connect timeout 0.3 s, a request's 1.5 s */
    {
        struct spate_config cfg;
        spate_config_init(&cfg);
        cfg.connect_timeout = 0.3;
        char e2[200];
        spate_engine_destroy(engine);
        if (spate_engine_create(&engine, &cfg, e2, sizeof(e2))) {
            printf("Bail out! engine: %s\n", e2);
            return 1;
        }
        ncalls = 0;
    }
    ct.connect_timeout = 1.5;
    t0 = now_ms();
    submit(62, url_sink, &ct);
    pump(5000, 1);
    took = now_ms() - t0;
    ok(calls[0].error == SPATE_E_TIMEOUT && took >= 1300 && took < 2500,
       "connect_timeout 1.5 s outlasts the engine's 0.3 s: timeout after %ld ms", took);

    /* a NaN is refused at submit, naming the option */
    struct spate_request_opts bad = {.size = sizeof(bad), .read_timeout = NAN};
    struct spate_request qb = {.url = url_ok, .done = on_done};
    int brc = spate_submit_ex(engine, &qb, &bad, NULL, err, sizeof(err));
    ok(brc == -EINVAL && strstr(err, "read_timeout"), "read_timeout NaN: -EINVAL, '%s'", err);

    /* --- the other per-request options, each against the engine's default (retries 0, no
     * redirects followed, 10 redirects at most, 64 MiB of body) and the server's count --- */
    fresh_engine(30);
    char url_big[64], url_redir[64], url_loop[64], url_fail[64];
    snprintf(url_big, sizeof(url_big), "http://127.0.0.1:%d/big", port);
    snprintf(url_redir, sizeof(url_redir), "http://127.0.0.1:%d/redir", port);
    snprintf(url_loop, sizeof(url_loop), "http://127.0.0.1:%d/loop", port);
    snprintf(url_fail, sizeof(url_fail), "http://127.0.0.1:%d/fail", port);
    struct spate_request_opts mb = {.size = sizeof(mb), .max_body = 100};
    submit(70, url_big, &mb);
    submit(71, url_big, NULL);
    pump(5000, 2);
    ok(ncalls == 2 && calls[0].tag == 70 && calls[0].error == SPATE_E_TOO_LARGE,
       "max_body 100 on a 1000-byte body: too_large ('%s')", ncalls ? calls[0].message : "");
    ok(ncalls == 2 && calls[1].status == 200 && calls[1].body_bytes == 1000,
       "the same URL without options: 200, 1000 bytes (%llu)",
       ncalls == 2 ? calls[1].body_bytes : 0);

    ncalls = 0;
    struct spate_request_opts fr = {.size = sizeof(fr), .follow_redirects = 1};
    submit(72, url_redir, &fr);
    pump(5000, 1);
    submit(73, url_redir, NULL);
    pump(5000, 2);
    ok(ncalls == 2 && calls[0].status == 200 && calls[0].error == SPATE_OK,
       "follow_redirects 1: the 302 is followed to /ok, 200");
    ok(ncalls == 2 && calls[1].status == 302, "the engine's default does not follow: 302");

    ncalls = 0;
    struct spate_request_opts mr = {.size = sizeof(mr), .follow_redirects = 1, .max_redirs = 2};
    unsigned loop0 = *hits_loop;
    submit(74, url_loop, &mr);
    pump(5000, 1);
    ok(ncalls == 1 && calls[0].error != SPATE_OK &&
           strstr(calls[0].message, "too many redirects (2)"),
       "max_redirs 2 on a redirect loop: fails, '%s'", ncalls ? calls[0].message : "");
    is_int((int)(*hits_loop - loop0), 3,
           "... after the first request and 2 redirects (server count)");

    ncalls = 0;
    struct spate_request_opts rt2 = {.size = sizeof(rt2), .retries = 2};
    unsigned fail0 = *hits_fail;
    submit(75, url_fail, &rt2);
    pump(8000, 1);
    ok(ncalls == 1 && calls[0].status == 503 && calls[0].attempts == 3,
       "retries 2 on a 503: status 503 after %u attempts (3)", ncalls ? calls[0].attempts : 0);
    is_int((int)(*hits_fail - fail0), 3, "... and the server saw 3 requests");
    fail0 = *hits_fail;
    submit(76, url_fail, NULL);
    pump(5000, 2);
    ok(ncalls == 2 && calls[1].attempts == 1 && *hits_fail - fail0 == 1,
       "the engine's default (no retries): 1 attempt, 1 request at the server");

    /* the size field: 0 is refused; a shorter struct (an older caller's) is read no further
     * than its size: the rest is poison (0xff: a wild on_head pointer, retries -1, ...) */
    struct spate_request_opts z = {0};
    struct spate_request qz = {.url = url_big, .done = on_done};
    err[0] = 0;
    int zrc = spate_submit_ex(engine, &qz, &z, NULL, err, sizeof(err));
    ok(zrc == -EINVAL && strstr(err, "size"), "size 0: -EINVAL, '%s'", err);
    struct spate_request_opts old;
    memset(&old, 0xff, sizeof(old));
    old.size = offsetof(struct spate_request_opts, retries);
    old.timeout = 0;
    ncalls = 0;
    qz.user = (void *)77L;
    zrc = spate_submit_ex(engine, &qz, &old, NULL, err, sizeof(err));
    pump(5000, 1);
    ok(zrc == 0 && ncalls == 1 && calls[0].status == 200 && calls[0].body_bytes == 1000 &&
           calls[0].attempts == 1,
       "a struct that ends before retries: accepted, the poison after it unread (200, 1000 bytes)");

    /* --- re-entry refused; submit from a callback works --- */
    ncalls = 0;
    try_reentry = 1;
    resubmit_tag = 41;
    submit(40, url_ok, NULL);
    pump(3000, 2);
    try_reentry = 0;
    is_int(calls[0].step_rc, -EDEADLK, "spate_engine_step from a done callback: -EDEADLK");
    is_int(calls[0].run_rc, -EDEADLK, "spate_run from a done callback: -EDEADLK");
    ok(ncalls == 2 && calls[1].tag == 41 && calls[1].status == 200,
       "a request submitted from a done callback runs (and destroy from it was refused)");

    spate_engine_destroy(engine);
    kill(-srv, SIGKILL);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    close(sink);
    close(fill[0]);
    close(fill[1]);
    return done();
}
