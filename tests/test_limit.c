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
#include <unistd.h>

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
    if (r->host->nidle)
        r->host->nidle--; /* an idle connection carries it */
    else
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
    ok(!spate_list_empty(&r[0]->host->wlink) && !spate_list_empty(&r[2]->host->wlink) &&
           spate_list_empty(&r[5]->host->wlink),
       "hosts a and b are listed as having waiters, c is not");
    ok(r[1]->phase == REQ_HOSTWAIT && r[3]->phase == REQ_HOSTWAIT && r[4]->phase == REQ_HOSTWAIT,
       "the waiting ones are in their hosts' queues");
    finish(r[2]);
    is_str(order(r, 6), "0 2 5 4", "b's connection freed: b's next request starts");
    finish(r[0]);
    is_str(order(r, 6), "0 2 5 4 1", "a's freed: a's requests keep their order (1 before 3)");
    finish(r[1]);
    is_str(order(r, 6), "0 2 5 4 1 3", "and 3 last");
    ok(spate_list_empty(&r[0]->host->wlink) && spate_list_empty(&lim.waiting),
       "no host left waiting");
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
    ok(spate_list_empty(&r[0]->host->wlink) && spate_list_empty(&lim.waiting),
       "a host whose queue emptied leaves the waiting list");
    finish(r[2]);
    is_str(order(r, 6), "0 2 4", "the one left (4) still starts when its host frees up");
    finish(r[0]);
    finish(r[4]);
    ok(lim.inflight == 0 && !lim.q_head, "nothing else starts: the sifted ones are gone");
    teardown(r, 6);
}

/* ---- a start that sifts other hosts' waiters (a done callback canceling from inside) ---- */

static const struct spate_host *sift_host; /* the start callback sifts this host's requests */
static struct spate_req *sifted;
static int drop_sift_host(const struct spate_req *r)
{
    return r->host == sift_host;
}
static void on_start_sift(void *owner, struct spate_req *r)
{
    on_start(owner, r);
    if (sift_host && !sifted) sifted = spate_limit_sift(&lim, drop_sift_host);
}

static void test_sift_in_start(void)
{
    setup(10, 1, 0);
    lim.start = on_start_sift;
    struct spate_req *r[6];
    const char *hosts[6] = {"a", "b", "c", "a", "b", "c"};
    for (int i = 0; i < 6; i++) {
        r[i] = req(hosts[i]);
        spate_limit_push(&lim, r[i]);
    }
    spate_limit_pump(&lim); /* 0, 1, 2 start; 3, 4, 5 wait on a, b and c, in that order */
    is_str(order(r, 6), "0 1 2", "--per-host 1: one request per host starts");
    /* a and c free up; starting a's 3 sifts b's 4 away, which takes b (the host the walk
     * would go to next) and a (now empty) off the waiting list: the walk must still reach c */
    sift_host = r[1]->host;
    r[2]->host->nconns--;
    lim.inflight--;
    finish(r[0]);
    is_str(order(r, 6), "0 1 2 3 5", "a's 3 and c's 5 start; b's 4 was sifted");
    ok(sifted == r[4] && !sifted->next, "the start's sift took exactly 4");
    ok(spate_list_empty(&lim.waiting) && spate_list_empty(&r[1]->host->wlink),
       "no host left waiting, none left half-linked");
    sift_host = NULL;
    sifted = NULL;
    lim.start = on_start;
    teardown(r, 6);
}

/* ---- FIFO across many hosts, pushes from inside a start ---- */

static struct spate_req *chained; /* pushed by the start callback of the request below */
static struct spate_req *chain_trigger;

static void on_start_chain(void *owner, struct spate_req *r)
{
    on_start(owner, r);
    if (r == chain_trigger && chained) spate_limit_push(&lim, chained);
}

static void test_fifo_many(void)
{
    setup(1, 0, 0);
    lim.start = on_start_chain;
    enum { N = 12 };
    struct spate_req *r[N + 1];
    char name[8];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "h%d", i % 5); /* 5 hosts interleaved */
        spate_limit_push(&lim, r[i] = req(name));
    }
    chained = r[N] = req("late");
    chain_trigger = r[3];
    spate_limit_pump(&lim);
    int steps = 0;
    while (nstarted < N + 1 && steps++ < 2 * N)
        finish(started[nstarted - 1]);
    is_str(order(r, N + 1), "0 1 2 3 4 5 6 7 8 9 10 11 12",
           "-c 1, 12 requests over 5 hosts: one at a time, in push order; one pushed from "
           "inside a start goes last");
    ok(lim.inflight == 1 && !lim.q_head && spate_list_empty(&lim.waiting),
       "  one slot in use, nothing queued");
    finish(started[nstarted - 1]);
    teardown(r, N + 1);
    chained = chain_trigger = NULL;
}

/* ---- per-host caps: counted connections, idle ones, several hosts ---- */

static void test_per_host_caps(void)
{
    setup(10, 2, 0);
    struct spate_req *r[7];
    const char *hosts[7] = {"a", "a", "a", "b", "a", "b", "b"};
    for (int i = 0; i < 7; i++)
        spate_limit_push(&lim, r[i] = req(hosts[i]));
    spate_limit_pump(&lim);
    is_str(order(r, 7), "0 1 3 5", "--per-host 2: two of a, two of b, the rest wait");
    ok(r[0]->host->nconns == 2 && r[3]->host->nconns == 2 &&
           !spate_limit_host_can_open(&lim, r[0]->host),
       "  each host at its cap of 2 (a %u, b %u)", r[0]->host->nconns, r[3]->host->nconns);
    /* 0 ends and its connection stays open, idle: a is still at its cap, yet the idle
     * connection may carry a's next request (no new connection) */
    lim.inflight--;
    r[0]->host->nidle++;
    spate_limit_pump(&lim);
    is_str(order(r, 7), "0 1 3 5 2",
           "a at its cap with an idle connection: a's next starts on it, its last still waits");
    ok(r[0]->host->nconns == 2 && r[0]->host->nidle == 0, "  a still has 2 connections");
    lim.per_host = 3; /* raised: a and b may open a third */
    spate_limit_pump(&lim);
    is_str(order(r, 7), "0 1 3 5 2 4 6", "the cap raised to 3: a's and b's last start in order");
    ok(r[0]->host->nconns == 3 && r[3]->host->nconns == 3, "  a and b at 3 each");
    for (int i = 1; i < 7; i++) /* 0 has ended already */
        finish(r[i]);
    ok(lim.inflight == 0 && r[0]->host->nconns == 0 && r[3]->host->nconns == 0,
       "every slot and host connection given back");
    teardown(r, 7);
}

/* ---- holds: the deadline given, extended, not shortened, released ---- */

static void test_hold_deadlines(void)
{
    setup(10, 0, 0);
    struct spate_req *r[4];
    r[0] = req("h");
    r[1] = req("other");
    r[2] = req("h");
    r[3] = req("other");
    struct spate_host *h = r[0]->host;
    uint64_t t0 = spate_clock_now();
    uint64_t until = t0 + 80 * SPATE_NS_PER_MS;
    spate_limit_hold(&lim, h, until);
    ok(h->hold_until == until && spate_timer_armed(&h->hold_timer) &&
           h->hold_timer.deadline == until,
       "hold: the host's timer is set to the very deadline given");
    spate_limit_hold(&lim, h, t0 + 30 * SPATE_NS_PER_MS);
    ok(h->hold_until == until && h->hold_timer.deadline == until,
       "a shorter Retry-After does not shorten a hold");
    until = t0 + 120 * SPATE_NS_PER_MS;
    spate_limit_hold(&lim, h, until);
    ok(h->hold_until == until && h->hold_timer.deadline == until,
       "a longer one extends it to its deadline");
    for (int i = 0; i < 4; i++)
        spate_limit_push(&lim, r[i]);
    spate_limit_pump(&lim);
    is_str(order(r, 4), "1 3", "the held host's requests step aside; the others pass them");
    ok(r[0]->phase == REQ_HOSTWAIT && r[2]->phase == REQ_HOSTWAIT && h->wait_head == r[0] &&
           r[0]->next == r[2],
       "  held ones wait in their host's queue, in order");
    while (nstarted < 4 && spate_clock_now() - t0 < 2 * SPATE_NS_PER_SEC)
        spate_loop_once(&loop, 10 * SPATE_NS_PER_MS);
    is_str(order(r, 4), "1 3 0 2", "the hold ends: both start, in order");
    ok(started_at[2] >= until && h->hold_until == 0,
       "  not before the extended deadline (%.1f ms after it), and the hold is cleared",
       (double)(started_at[2] - until) / 1e6);
    for (int i = 0; i < 4; i++)
        finish(r[i]);
    teardown(r, 4);
}

/* ---- rate: the loop's timer at each slot, no burst banked ---- */

static void test_rate_slots(void)
{
    const uint64_t iv = 25 * SPATE_NS_PER_MS; /* --rate 40 */
    setup(100, 0, 40);
    ok(lim.rate_interval == iv, "--rate 40: one start every 25 ms");
    struct spate_req *r[6];
    for (int i = 0; i < 6; i++)
        spate_limit_push(&lim, r[i] = req("r"));
    uint64_t a = spate_clock_now();
    spate_limit_pump(&lim);
    uint64_t b = spate_clock_now();
    ok(nstarted == 1 && lim.rate_next >= a + iv && lim.rate_next <= b + iv,
       "the first starts at once; the next slot is one interval after it");
    ok(spate_timer_armed(&lim.rate_timer) && lim.rate_timer.deadline == lim.rate_next,
       "  the loop's rate timer is armed at exactly that slot");
    uint64_t slot1 = lim.rate_next;
    spate_limit_pump(&lim);
    ok(nstarted == 1 && lim.rate_next == slot1, "a pump before the slot starts nothing");
    int steps = 0;
    while (nstarted < 3 && steps++ < 100)
        spate_loop_once(&loop, 50 * SPATE_NS_PER_MS);
    ok(nstarted == 3 && started_at[1] >= slot1 && started_at[2] >= slot1 + iv &&
           lim.rate_next == slot1 + 2 * iv,
       "the timer starts the next two at their slots, each one interval apart (%.1f, %.1f ms)",
       (double)(started_at[1] - started_at[0]) / 1e6,
       (double)(started_at[2] - started_at[0]) / 1e6);
    /* idle for 4 intervals: the slots missed are not banked into a burst */
    spate_loop_untimer(&loop, &lim.rate_timer);
    usleep(4 * 25 * 1000);
    a = spate_clock_now();
    spate_limit_pump(&lim);
    b = spate_clock_now();
    ok(nstarted == 4 && lim.rate_next >= a + iv && lim.rate_next <= b + iv,
       "after 4 idle intervals a pump starts one, not 4, and the next slot is an interval on");
    for (int i = 0; i < nstarted; i++)
        finish(started[i]);
    teardown(r, 6);
}

/* ---- release and cancel while queued ---- */

static int drop_marked(const struct spate_req *r)
{
    return r->redirects == 7; /* the test marks the cancelled ones */
}

static void test_cancel_queued(void)
{
    setup(1, 1, 0);
    struct spate_req *r[5];
    const char *hosts[5] = {"a", "a", "b", "a", "b"};
    for (int i = 0; i < 5; i++)
        spate_limit_push(&lim, r[i] = req(hosts[i]));
    spate_limit_pump(&lim);
    is_str(order(r, 5), "0", "-c 1 --per-host 1: 0 runs, 4 wait");
    r[2]->redirects = r[3]->redirects = 7;
    struct spate_req *out = spate_limit_sift(&lim, drop_marked);
    ok(out == r[2] && out->next == r[3] && !r[3]->next, "cancel 2 and 3 while queued: both taken");
    finish(r[0]);
    finish(r[1]);
    finish(r[4]);
    is_str(order(r, 5), "0 1 4", "the slot released: the rest start in order, never 2 or 3");
    /* released while others wait, then cleared: nothing starts afterwards */
    struct spate_req *x[3] = {req("c"), req("c"), req("d")};
    for (int i = 0; i < 3; i++)
        spate_limit_push(&lim, x[i]);
    spate_limit_pump(&lim);
    int before = nstarted;
    spate_limit_clear(&lim);
    finish(x[0]);
    ok(nstarted == before && !lim.q_head && spate_list_empty(&lim.waiting),
       "clear (engine teardown): a slot released afterwards starts nothing");
    for (int i = 0; i < 3; i++) {
        spate_pool_unref(&pool, x[i]->host);
        free(x[i]);
    }
    teardown(r, 5);
}

int main(void)
{
    if (spate_loop_init(&loop) < 0) return 1;
    test_fifo();
    test_per_host();
    test_hold();
    test_rate();
    test_sift();
    test_sift_in_start();
    test_fifo_many();
    test_per_host_caps();
    test_hold_deadlines();
    test_rate_slots();
    test_cancel_queued();
    spate_loop_fini(&loop);
    return done();
}
