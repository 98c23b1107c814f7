/* A bulk cancel (spate_engine_destroy, spate_engine_cancel) whose done callbacks cancel the
 * requests still waiting their turn in it: spate.h allows spate_cancel from a done callback, and
 * every request's callback must still run exactly once, its memory freed once (ASan aborts this
 * test otherwise). Then a done callback that starts a bulk cancel of its own inside one: it
 * leaves the outer one's held requests alone, where it used to relink them (half of them never
 * completed, then a use-after-free at destroy), and still cancels what the outer one does not
 * hold; inside destroy it does nothing. Requests wait queued (-c 1) or in flight on a listener
 * that never answers. */
#include "spate.h"
#include "tap.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define N 4

static struct spate_engine *engine;
static struct spate_req *handle[N];
static int calls[N];
static int armed; /* the next callback cancels a sibling still waiting (then no other does) */
static int cancel_rc = 99;
static int nested;           /* the armed callback calls a bulk cancel itself, not spate_cancel */
static size_t nested_n = 99; /* what that nested bulk cancel returned */
static char msg0[80];        /* the message request 0 completed with */

static void on_done(void *user, const struct spate_response *r)
{
    int i = (int)(long)user;
    calls[i]++;
    if (i == 0) snprintf(msg0, sizeof(msg0), "%s", r->message ? r->message : "");
    if (!armed) return;
    armed = 0;
    if (nested) {
        nested_n = spate_engine_cancel(engine, SPATE_CANCEL_ALL, "nested");
        return;
    }
    for (int j = N - 1; j >= 0; j--) /* the last sibling whose callback has not run yet */
        if (j != i && !calls[j]) {
            cancel_rc = spate_cancel(engine, handle[j]);
            return;
        }
}

/* A listener whose backlog completes handshakes; nothing ever accepts, so nothing answers. */
static int blackhole(char *url, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&a, &alen))
        return -1;
    snprintf(url, len, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    return fd;
}

/* A fresh engine of concurrency conc with N requests to url; the first callback is armed. */
static void start(unsigned conc, const char *url)
{
    struct spate_config c;
    spate_config_init(&c);
    c.concurrency = conc;
    char err[200];
    if (spate_engine_create(&engine, &c, err, sizeof(err))) diag("engine: %s", err);
    memset(calls, 0, sizeof(calls));
    for (int i = 0; i < N; i++) {
        struct spate_request q = {.url = url, .done = on_done, .user = (void *)(long)i};
        if (spate_submit_ex(engine, &q, NULL, &handle[i], err, sizeof(err)))
            diag("submit: %s", err);
    }
    armed = 1;
    cancel_rc = 99;
}

/* Steps the engine until n attempts are in flight (at most ~2 s). */
static void until_in_flight(unsigned n)
{
    for (int i = 0; i < 200; i++) {
        struct spate_stats st;
        spate_engine_stats(engine, &st);
        if (st.in_flight >= n) return;
        struct pollfd p = {.fd = spate_engine_fd(engine), .events = POLLIN};
        poll(&p, 1, 10);
        spate_engine_step(engine);
    }
}

static int each_once(void)
{
    for (int i = 0; i < N; i++)
        if (calls[i] != 1) return 0;
    return 1;
}

int main(void)
{
    plan(11);
    char url[64];
    int bh = blackhole(url, sizeof(url));
    if (bh < 0) {
        diag("no listener");
        return 1;
    }

    start(1, url); /* all queued but the first, which may be connecting */
    spate_engine_destroy(engine);
    ok(each_once(),
       "destroy, queued: each callback once though one canceled a sibling (%d %d %d %d)", calls[0],
       calls[1], calls[2], calls[3]);
    is_int(cancel_rc, 0, "destroy, queued: spate_cancel of a sibling from a done callback says 0");

    start(1, url);
    until_in_flight(1); /* the first is started, the three others wait */
    size_t n = spate_engine_cancel(engine, SPATE_CANCEL_QUEUED, NULL);
    ok(calls[1] == 1 && calls[2] == 1 && calls[3] == 1 && n == N - 1,
       "cancel queued: the three never started, once each (%d %d %d), %zu counted", calls[1],
       calls[2], calls[3], n);
    is_int(cancel_rc, 0, "cancel queued: spate_cancel of a sibling from a done callback says 0");
    spate_engine_destroy(engine);
    ok(calls[0] == 1, "cancel queued: the one started ends once, at destroy");

    start(N, url); /* all four in flight on the listener */
    until_in_flight(N);
    n = spate_engine_cancel(engine, SPATE_CANCEL_ALL, NULL);
    ok(each_once() && n == N,
       "cancel all, in flight: each callback once (%d %d %d %d), %zu counted", calls[0], calls[1],
       calls[2], calls[3], n);
    is_int(cancel_rc, 0, "cancel all: spate_cancel of a sibling from a done callback says 0");
    spate_engine_destroy(engine);
    ok(each_once(), "cancel all: destroy after it calls nobody again");

    /* a done callback of a bulk cancel calls a bulk cancel itself: the inner one leaves the
     * requests the outer one holds alone, so its list stays whole (all four: nothing left) */
    nested = 1;
    start(N, url);
    until_in_flight(N);
    n = spate_engine_cancel(engine, SPATE_CANCEL_ALL, NULL);
    ok(each_once() && n == N && nested_n == 0,
       "cancel all, a callback cancels all again: each callback once (%d %d %d %d), %zu counted, "
       "the nested call did nothing (%zu)",
       calls[0], calls[1], calls[2], calls[3], n, nested_n);
    spate_engine_destroy(engine);

    /* inside a cancel of the queued ones, a callback cancels all: the one in flight, which the
     * outer cancel does not hold, is cut by the inner one */
    nested_n = 99;
    start(1, url);
    until_in_flight(1);
    n = spate_engine_cancel(engine, SPATE_CANCEL_QUEUED, NULL);
    ok(each_once() && n == N - 1 && nested_n == 1 && !strcmp(msg0, "nested"),
       "cancel queued, a callback cancels all: each callback once (%d %d %d %d), %zu counted; the "
       "nested call cut the one in flight (%zu, '%s')",
       calls[0], calls[1], calls[2], calls[3], n, nested_n, msg0);
    spate_engine_destroy(engine);

    nested_n = 99;
    start(N, url);
    until_in_flight(N);
    spate_engine_destroy(engine);
    ok(each_once() && nested_n == 0,
       "destroy, a callback cancels all: each callback once (%d %d %d %d), the nested call did "
       "nothing (%zu)",
       calls[0], calls[1], calls[2], calls[3], nested_n);
    nested = 0;
    close(bh);
    return done();
}
