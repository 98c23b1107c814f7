/* The library API end to end against the python test server: submit/run, the embedding calls
 * (fd, timeout, step) driven from our own poll loop, submit from inside a callback, streaming
 * bodies, invalid requests refused up front, and destroy with requests in flight. */
#include "spate.h"
#include "tap.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t server_pid;
static char base[64];

static int start_server(void)
{
    char logpath[] = "/tmp/spate-engine-test-XXXXXX";
    int lfd = mkstemp(logpath);
    if (lfd < 0) return -1;
    close(lfd);
    int out[2];
    if (pipe(out)) return -1;
    server_pid = fork();
    if (server_pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execlp("python3", "python3", "tests/lib/http_server.py", logpath, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof(line) - 1 && read(out[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(out[0]);
    unlink(logpath);
    int port = atoi(line);
    if (port <= 0) return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    return 0;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
}

struct result {
    int calls, status;
    enum spate_error_kind error;
    char message[256];
    char body[512];
    size_t body_len, streamed;
    int resets;
    unsigned attempts;
    double start;
    struct spate_timing time;
};

static void on_done(void *user, const struct spate_response *r)
{
    struct result *res = user;
    res->calls++;
    res->status = r->status;
    res->error = r->error;
    res->attempts = r->attempts;
    res->start = r->start;
    res->time = r->time;
    snprintf(res->message, sizeof(res->message), "%s", r->message);
    if (r->body) {
        res->body_len = r->body_len < sizeof(res->body) - 1 ? r->body_len : sizeof(res->body) - 1;
        memcpy(res->body, r->body, res->body_len);
        res->body[res->body_len] = 0;
    }
}

static int on_body(void *user, const char *p, size_t n)
{
    struct result *res = user;
    if (!p) res->resets++;
    res->streamed += n;
    return 0;
}

static void url(char *buf, size_t len, const char *path)
{
    snprintf(buf, len, "%s%s", base, path);
}

static int submit(struct spate_engine *e, const char *path, struct result *res, int keep)
{
    char u[128];
    url(u, sizeof(u), path);
    struct spate_request q = {.url = u, .done = on_done, .user = res, .keep_body = keep};
    return spate_submit(e, &q, NULL, 0);
}

static struct spate_engine *engine(void)
{
    struct spate_config c;
    spate_config_init(&c);
    c.concurrency = 8;
    c.timeout = 5;
    struct spate_engine *e = NULL;
    char err[128];
    if (spate_engine_create(&e, &c, err, sizeof(err))) diag("engine: %s", err);
    return e;
}

static void test_run(void)
{
    struct spate_engine *e = engine();
    struct result a = {0}, b = {0};
    ok(submit(e, "/case/bytes/100", &a, 1) == 0, "submit a request");
    ok(submit(e, "/case/status/404", &b, 0) == 0, "submit a second one");
    ok(a.calls == 0, "no callback fires inside spate_submit");
    ok(spate_run(e) == 0, "spate_run returns 0 when all work is done");
    is_int(a.calls, 1, "first request completed exactly once");
    is_int(a.status, 200, "status 200");
    is_int((long long)a.body_len, 100, "keep_body delivers the whole body");
    is_int(b.status, 404, "second status 404");
    is_int(b.error, SPATE_E_HTTP, "404 is an error of kind http");
    is_str(spate_error_kind_name(b.error), "http", "kind name");
    spate_engine_destroy(e);
}

/* The embedding contract: poll the engine fd ourselves, honour the timeout, call step. */
static void test_embed(void)
{
    struct spate_engine *e = engine();
    struct result r[5] = {{0}};
    for (int i = 0; i < 5; i++)
        submit(e, "/case/slow/50", &r[i], 0);
    int fd = spate_engine_fd(e);
    ok(fd >= 0, "the engine gives a pollable fd");
    int left = 1, rounds = 0;
    while (left > 0 && rounds < 10000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int t = spate_engine_timeout_ms(e);
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        left = spate_engine_step(e);
        rounds++;
    }
    is_int(left, 0, "spate_engine_step reports no work left");
    int all = 1;
    for (int i = 0; i < 5; i++)
        all &= r[i].calls == 1 && r[i].status == 200;
    ok(all, "all five requests completed once with 200 through the embedding calls");
    ok(rounds > 1, "the loop was driven from outside (%d rounds)", rounds);
    is_int(spate_engine_timeout_ms(e), -1, "no timer pending once idle");
    spate_engine_destroy(e);
}

struct chain {
    struct spate_engine *e;
    int done, want;
};

static void on_chain(void *user, const struct spate_response *r)
{
    struct chain *c = user;
    c->done += r->status == 200;
    if (c->done < c->want) {
        char u[128];
        url(u, sizeof(u), "/case/ok");
        struct spate_request q = {.url = u, .done = on_chain, .user = c};
        spate_submit(c->e, &q, NULL, 0);
    }
}

static void test_submit_in_callback(void)
{
    struct chain c = {.e = engine(), .want = 20};
    char u[128];
    url(u, sizeof(u), "/case/ok");
    struct spate_request q = {.url = u, .done = on_chain, .user = &c};
    spate_submit(c.e, &q, NULL, 0);
    spate_run(c.e);
    is_int(c.done, 20, "requests submitted from inside callbacks run too");
    spate_engine_destroy(c.e);
}

static void test_stream_and_invalid(void)
{
    struct spate_engine *e = engine();
    struct result s = {0};
    char u[128], err[200];
    url(u, sizeof(u), "/case/bytes/300000");
    struct spate_request q = {.url = u, .done = on_done, .on_body = on_body, .user = &s};
    ok(spate_submit(e, &q, NULL, 0) == 0, "submit a streamed request");
    spate_run(e);
    is_int((long long)s.streamed, 300000, "the body callback saw every byte");
    is_int(s.resets, 0, "no reset on a first attempt");

    struct spate_request bad = {.url = "ftp://x/", .done = on_done, .user = &s};
    is_int(spate_submit(e, &bad, err, sizeof(err)), -EINVAL, "an unsupported scheme is refused");
    ok(strstr(err, "scheme") != NULL, "the message names the problem: %s", err);
    struct spate_header h = {"X-A", "a\r\nB: c"};
    url(u, sizeof(u), "/");
    struct spate_request inj = {.url = u, .headers = &h, .nheaders = 1, .done = on_done};
    is_int(spate_submit(e, &inj, err, sizeof(err)), -EINVAL, "CR/LF in a header value is refused");
    struct spate_request nocb = {.url = u};
    is_int(spate_submit(e, &nocb, err, sizeof(err)), -EINVAL, "a request needs a callback");
    struct spate_request m = {.url = u, .method = "G ET", .done = on_done};
    is_int(spate_submit(e, &m, err, sizeof(err)), -EINVAL, "a bad method is refused");
    spate_engine_destroy(e);
}

static void test_destroy_in_flight(void)
{
    struct spate_engine *e = engine();
    struct result r[12] = {{0}};
    for (int i = 0; i < 12; i++)
        submit(e, i % 2 ? "/case/hang" : "/case/slow/2000", &r[i], 0);
    /* let some of them connect and send, leave the rest queued */
    for (int i = 0; i < 20; i++) {
        struct pollfd p = {.fd = spate_engine_fd(e), .events = POLLIN};
        poll(&p, 1, 5);
        spate_engine_step(e);
    }
    spate_engine_destroy(e);
    int all = 1;
    for (int i = 0; i < 12; i++)
        all &= r[i].calls == 1 && r[i].error == SPATE_E_CANCELED;
    ok(all, "destroy completes every pending request exactly once, as canceled");
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono(void);

/* A request canceled while queued was never attempted: attempts 0, no start and every time 0
 * (it used to report the time since boot). One canceled in flight ends its attempt then. */
static void test_cancel_times(void)
{
    struct spate_config c;
    spate_config_init(&c);
    c.concurrency = 1;
    struct spate_engine *e = NULL;
    spate_engine_create(&e, &c, NULL, 0);
    struct result run = {0}, queued = {0};
    submit(e, "/case/slow/3000", &run, 0);
    submit(e, "/case/ok", &queued, 0);
    double w0 = wall(), t0 = mono();
    while (mono() - t0 < 0.3) {
        struct pollfd p = {.fd = spate_engine_fd(e), .events = POLLIN};
        poll(&p, 1, 10);
        spate_engine_step(e);
    }
    /* the cancel happens inside destroy: held is read after it, so a preemption between the
     * loop and destroy (a loaded machine) cannot put total past it */
    spate_engine_destroy(e);
    double held = mono() - t0;
    const struct spate_timing *q = &queued.time, *t = &run.time;
    ok(queued.calls == 1 && queued.error == SPATE_E_CANCELED && queued.attempts == 0,
       "canceled while queued: canceled, attempts 0 (%u)", queued.attempts);
    ok(queued.start == 0 && q->dns == 0 && q->connect == 0 && q->tls == 0 && q->ttfb == 0 &&
           q->total == 0 && q->elapsed == 0,
       "canceled while queued: no start, every time 0 (total %g, elapsed %g)", q->total,
       q->elapsed);
    ok(run.calls == 1 && run.error == SPATE_E_CANCELED && run.attempts == 1,
       "canceled in flight: canceled, attempts 1 (%u)", run.attempts);
    ok(run.start >= w0 - 0.001 && run.start <= w0 + 0.1,
       "canceled in flight: start is the attempt's wall clock (%.6f, run at %.6f)", run.start, w0);
    ok(t->total >= 0.28 && t->total <= held && t->elapsed == t->total,
       "canceled in flight: total = elapsed = until the cancel (%.3f of %.3f s)", t->total, held);
    ok(t->connect > 0 && t->connect < 0.1 && t->tls == t->connect && t->ttfb == t->connect,
       "canceled in flight: connected, no response byte (ttfb takes connect's value %.6f)",
       t->ttfb);
}

static void test_refused_and_timeout(void)
{
    struct spate_config c;
    spate_config_init(&c);
    c.timeout = 0.3;
    c.retries = 2;
    c.backoff = 0.01;
    struct spate_engine *e = NULL;
    spate_engine_create(&e, &c, NULL, 0);
    struct result a = {0}, b = {0};
    struct spate_request q = {.url = "http://127.0.0.1:1/", .done = on_done, .user = &a};
    spate_submit(e, &q, NULL, 0);
    submit(e, "/case/hang", &b, 0);
    spate_run(e);
    is_int(a.error, SPATE_E_CONNECT, "a refused connection is kind connect");
    is_int(a.attempts, 3, "connect failures are retried (--retries 2 = 3 attempts)");
    ok(strstr(a.message, "refused") != NULL, "message: %s", a.message);
    is_int(b.error, SPATE_E_TIMEOUT, "a silent server hits the total timeout");
    is_int(b.attempts, 3, "timeouts are retried too");
    struct spate_stats st;
    spate_engine_stats(e, &st);
    ok(st.connects >= 6, "stats count the connection attempts (%llu)",
       (unsigned long long)st.connects);
    spate_engine_destroy(e);
}

/* Finished request objects are reused: nothing of an earlier request (a long method, a body,
 * headers) may leak into a later one that reuses its memory. */
static void test_recycled(void)
{
    struct spate_engine *e = engine();
    struct result a[10] = {{0}}, b[10] = {{0}};
    char u[128], bodies[10][16], vals[10][8];
    url(u, sizeof(u), "/case/echo");
    for (int i = 0; i < 10; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "body-%d", i);
        snprintf(vals[i], sizeof(vals[i]), "%d", i);
        struct spate_header h = {"X-N", vals[i]};
        struct spate_request q = {.url = u,
                                  .method = i % 2 ? "VERYLONGMETHODNAME20" : "POST",
                                  .headers = &h,
                                  .nheaders = 1,
                                  .body = bodies[i],
                                  .body_len = strlen(bodies[i]),
                                  .done = on_done,
                                  .user = &a[i],
                                  .keep_body = 1};
        spate_submit(e, &q, NULL, 0);
    }
    spate_run(e);
    int good = 0;
    for (int i = 0; i < 10; i++) {
        char line[64], x[32];
        snprintf(line, sizeof(line), "%s /case/echo HTTP/1.1\r\n",
                 i % 2 ? "VERYLONGMETHODNAME20" : "POST");
        snprintf(x, sizeof(x), "\r\nX-N: %d\r\n", i);
        size_t bl = strlen(bodies[i]);
        good += a[i].calls == 1 && !strncmp(a[i].body, line, strlen(line)) &&
                strstr(a[i].body, x) && a[i].body_len >= bl &&
                !memcmp(a[i].body + a[i].body_len - bl, bodies[i], bl);
    }
    is_int(good, 10, "first wave: method, header and body of each request arrive as given");
    for (int i = 0; i < 10; i++)
        submit(e, "/case/echo", &b[i], 1);
    spate_run(e);
    good = 0;
    for (int i = 0; i < 10; i++)
        good += b[i].calls == 1 && !strncmp(b[i].body, "GET /case/echo HTTP/1.1\r\n", 25) &&
                !strstr(b[i].body, "X-N") && !strstr(b[i].body, "Content-Length") &&
                !strstr(b[i].body, "body-");
    is_int(good, 10, "second wave on reused objects: plain GETs with nothing left over");
    spate_engine_destroy(e);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct timed {
    struct result res;
    double submitted, done;
};

static void on_timed(void *user, const struct spate_response *r)
{
    struct timed *t = user;
    t->done = mono();
    on_done(&t->res, r);
}

static void submit_timed(struct spate_engine *e, const char *path, struct timed *t)
{
    char u[128];
    url(u, sizeof(u), path);
    t->submitted = mono();
    struct spate_request q = {.url = u, .done = on_timed, .user = t};
    spate_submit(e, &q, NULL, 0);
}

/* Attempt deadlines live in a start-ordered list behind one lazily re-armed timer: a request
 * that ends early must not make a later one time out early, and each silent request must time
 * out after its own --timeout, counted from its own start. */
static void test_deadlines(void)
{
    struct spate_config c;
    spate_config_init(&c);
    c.timeout = 0.6;
    struct spate_engine *e = NULL;
    spate_engine_create(&e, &c, NULL, 0);
    struct timed quick = {0}, b = {0}, late = {0};
    submit_timed(e, "/case/ok", &quick); /* the head of the list, gone at once */
    submit_timed(e, "/case/hang", &b);
    int fd = spate_engine_fd(e), left = 1, rounds = 0;
    double t0 = mono();
    while (left > 0 && rounds < 100000 && mono() - t0 < 10) {
        if (!late.submitted && mono() - t0 >= 0.3) submit_timed(e, "/case/hang", &late);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int t = spate_engine_timeout_ms(e);
        poll(&p, 1, t < 0 || t > 20 ? 20 : t);
        left = spate_engine_step(e) + !late.submitted;
        rounds++;
    }
    is_int(quick.res.status, 200, "the quick request is ok");
    is_int(b.res.error, SPATE_E_TIMEOUT, "the first silent request times out");
    is_int(late.res.error, SPATE_E_TIMEOUT, "the later silent request times out");
    double tb = b.done - b.submitted, tl = late.done - late.submitted;
    ok(tb >= 0.59 && tb < 3, "first one after its own timeout (%.3f s)", tb);
    ok(tl >= 0.59 && tl < 3, "later one after its own timeout, not the first's (%.3f s)", tl);
    ok(late.done > b.done, "they time out in the order they started");
    spate_engine_destroy(e);
}

int main(void)
{
    if (start_server()) {
        printf("1..0 # SKIP cannot start tests/lib/http_server.py\n");
        return 0;
    }
    test_run();
    test_embed();
    test_submit_in_callback();
    test_stream_and_invalid();
    test_destroy_in_flight();
    test_cancel_times();
    test_refused_and_timeout();
    test_recycled();
    test_deadlines();
    stop_server();
    return done();
}
