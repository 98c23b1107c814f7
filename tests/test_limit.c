/* Unit tests for engine/limit.c, driven directly: the global FIFO, per-host caps and their
 * waiting lists, Retry-After holds, the rate schedule and sifting. The start callback plays the
 * engine: it takes the slot (and a host connection) and records the order. */
#include "clock.h"
#include "limit.h"
#include "loop.h"
#include "pool.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct spate_loop loop;
static struct spate_pool pool;
static struct spate_limit lim;

#define MAXR 16
static struct spate_req *started[MAXR]; /* in start order */
static uint64_t started_at[MAXR];
static int nstarted;

static void on_start(void *owner, struct spate_req *r)
{
    (void)owner;
    lim.inflight++;
    r->host->nconns++;
    r->phase = REQ_RUNNING;
    if (nstarted < MAXR) {
        started_at[nstarted] = spate_clock_now();
        started[nstarted++] = r;
    }
}

/* An attempt ends: its slot and its host connection are given back, and the limiter pumps. */
static void finish(struct spate_req *r)
{
    lim.inflight--;
    r->host->nconns--;
    spate_limit_pump(&lim);
}

static void setup(unsigned conc, unsigned per_host, double rate)
{
    spate_pool_init(&pool, &loop);
    spate_limit_init(&lim, &loop, conc, per_host, rate, on_start, NULL);
    lim.pool = &pool;
    nstarted = 0;
}

static void teardown(struct spate_req **r, int n)
{
    spate_limit_clear(&lim);
    spate_limit_fini(&lim);
    for (int i = 0; i < n; i++) {
        if (r[i]->host) spate_pool_unref(&pool, r[i]->host);
        free(r[i]);
    }
    spate_pool_fini(&pool);
    spate_loop_once(&loop, 0); /* deferred frees */
}

static struct spate_req *req(const char *host)
{
    struct spate_req *r = calloc(1, sizeof(*r));
    r->host = spate_pool_host(&pool, 0, host, 0, 80);
    return r;
}

/* "started" as a string of indexes into r, e.g. "0 1 3". */
static const char *order(struct spate_req **r, int n)
{
    static char buf[128];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < nstarted; i++)
        for (int k = 0; k < n; k++)
            if (started[i] == r[k])
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d", i ? " " : "", k);
    return buf;
}

static void test_fifo(void)
{
    setup(3, 0, 0);
    struct spate_req *r[6];
    const char *hosts[6] = {"a", "b", "a", "c", "b", "a"};
    for (int i = 0; i < 6; i++)
        spate_limit_push(&lim, r[i] = req(hosts[i]));
    ok(nstarted == 0, "nothing starts before a pump");
    spate_limit_pump(&lim);
    is_str(order(r, 6), "0 1 2", "-c 3: the first three start, in order");
    finish(r[1]);
    is_str(order(r, 6), "0 1 2 3", "a slot freed: the next in line starts");
    struct spate_req *retry = req("z");
    spate_limit_push_front(&lim, retry);
    finish(r[0]);
    ok(nstarted == 5 && started[4] == retry, "a retry pushed to the front goes before the queue");
    finish(r[2]);
    finish(r[3]);
    is_str(order(r, 6), "0 1 2 3 4 5", "then the queue resumes in its order");
    finish(r[4]);
    finish(r[5]);
    finish(retry);
    ok(lim.inflight == 0 && !lim.q_head, "every slot given back, queue empty");
    spate_pool_unref(&pool, retry->host);
    free(retry);
    teardown(r, 6);
}

static void test_per_host(void)
{
    setup(10, 1, 0);
    struct spate_req *r[6];
    const char *hosts[6] = {"a", "a", "b", "a", "b", "c"};
    for (int i = 0; i < 6; i++)
        spate_limit_push(&lim, r[i] = req(hosts[i]));
    spate_limit_pump(&lim);
    is_str(order(r, 6), "0 2 5", "--per-host 1: one per host, the others wait for their host");
    ok(r[0]->host->in_wlist && r[2]->host->in_wlist && !r[5]->host->in_wlist,
       "hosts a and b are listed as having waiters, c is not");
    ok(r[1]->phase == REQ_HOSTWAIT && r[3]->phase == REQ_HOSTWAIT && r[4]->phase == REQ_HOSTWAIT,
       "the waiting ones are in their hosts' queues");
    finish(r[2]);
    is_str(order(r, 6), "0 2 5 4", "b's connection freed: b's next request starts");
    finish(r[0]);
    is_str(order(r, 6), "0 2 5 4 1", "a's freed: a's requests keep their order (1 before 3)");
    finish(r[1]);
    is_str(order(r, 6), "0 2 5 4 1 3", "and 3 last");
    ok(!r[0]->host->in_wlist && !lim.w_head, "no host left waiting");
    struct spate_req *late = req("a");
    spate_limit_push(&lim, late);
    spate_limit_pump(&lim);
    ok(nstarted == 6 && late->phase == REQ_HOSTWAIT,
       "a new request for a busy host waits even though global slots are free");
    finish(r[3]);
    ok(nstarted == 7 && started[6] == late, "  and starts when its host frees up");
    finish(late);
    finish(r[4]);
    finish(r[5]);
    spate_pool_unref(&pool, late->host);
    free(late);
    teardown(r, 6);
}

static void test_hold(void)
{
    setup(10, 0, 0);
    struct spate_req *r[3];
    r[0] = req("held");
    r[1] = req("free");
    r[2] = req("held");
    uint64_t t0 = spate_clock_now(), hold = 60 * SPATE_NS_PER_MS;
    spate_limit_hold(&lim, r[0]->host, t0 + hold);
    for (int i = 0; i < 3; i++)
        spate_limit_push(&lim, r[i]);
    spate_limit_pump(&lim);
    is_str(order(r, 3), "1", "a held host's requests wait; another host's start at once");
    ok(spate_pool_host_in_use(r[0]->host), "the hold keeps the host entry");
    while (nstarted < 3 && spate_clock_now() - t0 < 2 * SPATE_NS_PER_SEC)
        spate_loop_once(&loop, 10 * SPATE_NS_PER_MS);
    is_str(order(r, 3), "1 0 2", "the hold ends: the held requests start, in order");
    ok(started_at[1] - t0 >= hold, "not before the hold's end (%.1f ms after a %.0f ms hold)",
       (double)(started_at[1] - t0) / 1e6, (double)hold / 1e6);
    for (int i = 0; i < 3; i++)
        finish(r[i]);
    teardown(r, 3);
}

static void test_rate(void)
{
    setup(100, 0, 50); /* 50/s: 20 ms apart */
    struct spate_req *r[5];
    uint64_t t0 = spate_clock_now();
    for (int i = 0; i < 5; i++)
        spate_limit_push(&lim, r[i] = req("r"));
    spate_limit_pump(&lim);
    ok(nstarted == 1, "--rate 50: one starts at once (%d)", nstarted);
    while (nstarted < 5 && spate_clock_now() - t0 < 2 * SPATE_NS_PER_SEC)
        spate_loop_once(&loop, 10 * SPATE_NS_PER_MS);
    is_str(order(r, 5), "0 1 2 3 4", "all five start, in order");
    /* the schedule is exact (slot k at first + k * 20 ms) even when one start runs late, so
     * each start is checked against its slot, not against the start before it */
    int on_schedule = 1;
    for (int i = 1; i < nstarted; i++)
        on_schedule &= started_at[i] - started_at[0] >= (uint64_t)i * 20 * SPATE_NS_PER_MS;
    ok(on_schedule, "no start before its slot on the 20 ms schedule (%.1f ms for four intervals)",
       (double)(started_at[4] - started_at[0]) / 1e6);
    for (int i = 0; i < 5; i++)
        finish(r[i]);
    teardown(r, 5);
}

static int drop_odd(const struct spate_req *r)
{
    return r->redirects % 2; /* the test marks the ones to drop */
}

static void test_sift(void)
{
    setup(2, 1, 0);
    struct spate_req *r[6];
    const char *hosts[6] = {"a", "a", "b", "a", "b", "c"};
    for (int i = 0; i < 6; i++) {
        r[i] = req(hosts[i]);
        r[i]->redirects = (unsigned)(i % 2);
        spate_limit_push(&lim, r[i]);
    }
    spate_limit_pump(&lim); /* 0 and 2 start; 1 waits in a's queue; 3, 4, 5 in the global one */
    is_str(order(r, 6), "0 2", "-c 2 --per-host 1: 0 and 2 start");
    struct spate_req *out = spate_limit_sift(&lim, drop_odd);
    int n = 0, inorder = 1;
    const int want[3] = {3, 5, 1};
    for (struct spate_req *x = out; x; x = x->next, n++)
        inorder &= n < 3 && x == r[want[n]];
    ok(n == 3 && inorder, "sift takes 3 and 5 (global queue) then 1 (a's queue), in order");
    ok(!r[0]->host->in_wlist && !lim.w_head, "a host whose queue emptied leaves the waiting list");
    finish(r[2]);
    is_str(order(r, 6), "0 2 4", "the one left (4) still starts when its host frees up");
    finish(r[0]);
    finish(r[4]);
    ok(lim.inflight == 0 && !lim.q_head, "nothing else starts: the sifted ones are gone");
    teardown(r, 6);
}

int main(void)
{
    if (spate_loop_init(&loop) < 0) return 1;
    test_fifo();
    test_per_host();
    test_hold();
    test_rate();
    test_sift();
    spate_loop_fini(&loop);
    return done();
}
