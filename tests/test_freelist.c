/* Unit tests for engine/freelist.h (the capped free list), then the engine's two uses of it: the
 * spare request objects and the spare attempt states, each kept up to 1,024 and no more when
 * more than that finish at once. White-box: reads the engine's lists (engine.h). */
#include "engine.h"
#include "freelist.h"
#include "tap.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SPARES 1024 /* the cap request.c and attempt.c keep */
#define MANY 1100   /* finished at once: more than the cap */

struct item {
    int id;
    struct spate_freelist_node node;
};

static int id_of(struct spate_freelist_node *n)
{
    return n ? spate_container_of(n, struct item, node)->id : -1;
}

/* The helper alone: the cap, the count, LIFO order, and an empty list. */
static void helper(void)
{
    struct item it[5];
    struct spate_freelist f = {0};
    char kept[16] = "", *k = kept;
    for (int i = 0; i < 5; i++) {
        it[i].id = i;
        k += sprintf(k, "%d", spate_freelist_push(&f, &it[i].node, 3));
    }
    is_str(kept, "11100", "with a cap of 3, the first 3 pushes are kept, the next 2 refused");
    is_int((long long)f.count, 3, "the count is the cap");
    char order[16] = "", *o = order;
    for (int i = 0; i < 3; i++)
        o += sprintf(o, "%d", id_of(spate_freelist_pop(&f)));
    is_str(order, "210", "pops come last pushed first");
    ok(!spate_freelist_pop(&f) && f.count == 0 && !f.head, "then the list is empty (count 0)");
    ok(spate_freelist_push(&f, &it[4].node, 3) && f.count == 1 && id_of(f.head) == 4,
       "a refused object can be kept once there is room again");
    struct spate_freelist none = {0};
    ok(!spate_freelist_push(&none, &it[0].node, 0) && none.count == 0 && !none.head,
       "a cap of 0 keeps nothing");
}

static unsigned long done_calls, canceled;

static void on_done(void *user, const struct spate_response *r)
{
    (void)user;
    done_calls++;
    canceled += r->error == SPATE_E_CANCELED;
}

static struct spate_engine *new_engine(unsigned retries)
{
    struct spate_config cfg;
    spate_config_init(&cfg);
    cfg.concurrency = 64;
    cfg.retries = retries;
    cfg.backoff = cfg.backoff_max = 60; /* a failed attempt waits, holding its attempt state */
    struct spate_engine *e;
    char err[256];
    if (spate_engine_create(&e, &cfg, err, sizeof err) < 0) {
        diag("engine: %s", err);
        return NULL;
    }
    return e;
}

/* Submits MANY requests to url; the handles go to h. 0, or -1 with a diagnostic. */
static int submit_many(struct spate_engine *e, const char *url, struct spate_req **h)
{
    for (int i = 0; i < MANY; i++) {
        char err[256];
        struct spate_request q = {.url = url, .done = on_done};
        if (spate_submit_ex(e, &q, NULL, &h[i], err, sizeof err) < 0) {
            diag("submit: %s", err);
            return -1;
        }
    }
    return 0;
}

/* MANY queued requests canceled at once: 1,024 objects are kept, then reused. */
static void request_spares(void)
{
    static struct spate_req *h[MANY];
    struct spate_engine *e = new_engine(0);
    if (!e || submit_many(e, "http://127.0.0.1:1/", h)) {
        ok(0, "set-up");
        return;
    }
    done_calls = canceled = 0;
    spate_engine_cancel(e, SPATE_CANCEL_QUEUED, NULL);
    ok(done_calls == MANY && canceled == MANY, "%d queued requests canceled (%lu callbacks)", MANY,
       done_calls);
    is_int((long long)e->spare.count, SPARES, "the spare request objects stop at the cap");
    char err[256];
    struct spate_request q = {.url = "http://127.0.0.1:1/", .done = on_done};
    struct spate_req *again = NULL;
    struct spate_freelist_node *top = e->spare.head;
    spate_submit_ex(e, &q, NULL, &again, err, sizeof err);
    ok(again && &again->spare == top && e->spare.count == SPARES - 1,
       "a new request takes the spare object freed last (count %zu)", e->spare.count);
    spate_engine_destroy(e);
}

/* A TCP socket bound on loopback that does not listen: a connect to it is refused at once. */
static int refuser(char *url, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(fd, (struct sockaddr *)&a, &alen))
        return -1;
    snprintf(url, len, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    return fd;
}

/* Steps e until every request of h waits in a backoff (its first attempt refused), for 20 s at
 * most. Returns how many wait. */
static int until_backoff(struct spate_engine *e, struct spate_req **h)
{
    time_t end = time(NULL) + 20;
    int waiting = 0;
    while (waiting < MANY && time(NULL) < end) {
        struct pollfd p = {.fd = spate_engine_fd(e), .events = POLLIN};
        int ms = spate_engine_timeout_ms(e);
        poll(&p, 1, ms < 0 || ms > 100 ? 100 : ms);
        spate_engine_step(e);
        waiting = 0;
        for (int i = 0; i < MANY; i++)
            waiting += h[i]->phase == REQ_BACKOFF;
    }
    return waiting;
}

/* MANY started requests (each holding an attempt state in its backoff wait) canceled at once:
 * 1,024 attempt states are kept. */
static void attempt_spares(void)
{
    static struct spate_req *h[MANY];
    char url[64];
    int fd = refuser(url, sizeof url);
    struct spate_engine *e = new_engine(1);
    if (fd < 0 || !e || submit_many(e, url, h)) {
        ok(0, "set-up");
        return;
    }
    int waiting = until_backoff(e, h);
    ok(waiting == MANY, "%d of %d requests wait to retry after a refused connect", waiting, MANY);
    is_int((long long)e->spare_att.count, 0, "no attempt state is spare while they wait");
    done_calls = canceled = 0;
    spate_engine_cancel(e, SPATE_CANCEL_ALL, NULL);
    ok(canceled == MANY, "all %d canceled (%lu)", MANY, canceled);
    is_int((long long)e->spare_att.count, SPARES, "the spare attempt states stop at the cap");
    spate_engine_destroy(e);
    close(fd);
}

int main(void)
{
    plan(13);
    helper();
    request_spares();
    attempt_spares();
    return done();
}
