/* spate_engine_cancel: winding a run down. Against a listener that completes handshakes but never
 * answers: QUEUED cancels only the requests never attempted (attempts 0, callbacks before it
 * returns), ALL cuts the attempts in flight and backoff waits, requests submitted by a canceled
 * callback are not canceled, and the engine stays usable. */
#include "spate.h"
#include "tap.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CALLS 32

struct call {
    enum spate_error_kind error;
    unsigned attempts;
    char message[160];
    int tag;
};

static struct call calls[MAX_CALLS];
static int ncalls;
static struct spate_engine *engine;
static char url[64], dead_url[64];
static int resubmit; /* a canceled callback submits one more request (tag 100) */

static void on_done(void *user, const struct spate_response *r);

static void submit(int tag, const char *u)
{
    struct spate_request q = {.url = u, .done = on_done, .user = (void *)(long)tag};
    char err[200];
    if (spate_submit(engine, &q, err, sizeof(err))) diag("submit: %s", err);
}

static void on_done(void *user, const struct spate_response *r)
{
    if (ncalls < MAX_CALLS) {
        struct call *c = &calls[ncalls++];
        c->error = r->error;
        c->attempts = r->attempts;
        c->tag = (int)(long)user;
        snprintf(c->message, sizeof(c->message), "%s", r->message);
    }
    if (resubmit) {
        resubmit = 0;
        submit(100, url);
    }
}

/* A listener whose backlog completes handshakes; nothing ever accepts, so nothing answers. */
static int blackhole(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int free_port(void)
{
    int port, fd = blackhole(&port);
    close(fd);
    return port;
}

static unsigned in_flight(void)
{
    struct spate_stats st;
    spate_engine_stats(engine, &st);
    return (unsigned)st.in_flight;
}

/* Runs the engine from our own poll loop for ms milliseconds. */
static void pump(int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long gone = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (gone >= ms) return;
        int wait = spate_engine_timeout_ms(engine);
        if (wait < 0 || wait > ms - gone) wait = (int)(ms - gone);
        struct pollfd p = {.fd = spate_engine_fd(engine), .events = POLLIN};
        poll(&p, 1, wait);
        spate_engine_step(engine);
    }
}

static int count(enum spate_error_kind k, unsigned attempts)
{
    int n = 0;
    for (int i = 0; i < ncalls; i++)
        n += calls[i].error == k && calls[i].attempts == attempts;
    return n;
}

int main(void)
{
    plan(22);
    int port, lfd = blackhole(&port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hang", port);
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d/refused", free_port());
    struct spate_config cfg;
    spate_config_init(&cfg);
    cfg.concurrency = 2;
    cfg.timeout = 0;
    char err[200];
    if (lfd < 0 || spate_engine_create(&engine, &cfg, err, sizeof(err))) {
        printf("Bail out! set-up failed\n");
        return 1;
    }

    for (int i = 0; i < 5; i++)
        submit(i, url);
    pump(300);
    is_int(in_flight(), 2, "-c 2: 2 attempts in flight, 3 queued");
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_QUEUED, "stop"), 3,
           "QUEUED: the 3 never attempted are canceled");
    is_int(ncalls, 3, "QUEUED: their callbacks ran before it returned");
    is_int(count(SPATE_E_CANCELED, 0), 3, "QUEUED: kind canceled, attempts 0");
    is_str(calls[0].message, "stop", "QUEUED: the message is the caller's");
    pump(200);
    is_int(in_flight(), 2, "QUEUED: the 2 in flight go on, nothing new started");
    resubmit = 1;
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_ALL, NULL), 2,
           "ALL: the 2 in flight are canceled");
    is_int(count(SPATE_E_CANCELED, 1), 2,
           "ALL: kind canceled, attempts 1 (the cut attempt counts)");
    is_str(calls[3].message, "canceled", "ALL: NULL gives the message 'canceled'");
    pump(200);
    is_int(in_flight(), 1, "a request submitted by a canceled callback is not canceled: it runs");
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_ALL, "end"), 1,
           "ALL again: the resubmitted one");
    is_int(calls[ncalls - 1].tag, 100, "... and its callback ran");
    is_int(spate_run(engine), 0, "spate_run returns at once: nothing pending");

    /* requests waiting for a host slot (--per-host 1) leave the host's queue cleanly: later
     * requests to that host still wait for it, then start */
    spate_engine_destroy(engine);
    cfg.concurrency = 4;
    cfg.per_host = 1;
    spate_engine_create(&engine, &cfg, err, sizeof(err));
    ncalls = 0;
    for (int i = 0; i < 4; i++)
        submit(i, url);
    pump(300);
    is_int(in_flight(), 1, "--per-host 1: 1 in flight, 3 waiting for the host");
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_QUEUED, "q"), 3,
           "per-host: QUEUED takes the 3 out of the host's queue");
    submit(50, url);
    pump(200);
    is_int(in_flight(), 1, "per-host: a new request waits for the host");
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_ALL, "all"), 2,
           "per-host: ALL cancels the running one and the waiting one");
    submit(51, url);
    pump(300);
    is_int(in_flight(), 1, "per-host: the next request starts: the host's queue is sound");
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_ALL, "end"), 1, "per-host: done");

    /* a request waiting out a backoff has started: QUEUED leaves it, ALL cancels it */
    cfg.per_host = 0;
    spate_engine_destroy(engine);
    cfg.retries = 3;
    cfg.backoff = 30;
    cfg.backoff_max = 30;
    spate_engine_create(&engine, &cfg, err, sizeof(err));
    ncalls = 0;
    submit(7, dead_url);
    pump(300);
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_QUEUED, "q"), 0,
           "backoff: QUEUED leaves a request that has been attempted");
    is_int((long long)spate_engine_cancel(engine, SPATE_CANCEL_ALL, "all"), 1,
           "backoff: ALL cancels it during its wait");
    is_int(count(SPATE_E_CANCELED, 1), 1, "backoff: canceled with its 1 attempt");
    spate_engine_destroy(engine);
    close(lfd);
    return done();
}
