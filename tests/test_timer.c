/* Unit tests for engine/timer.c: the heap against a sorted reference under random operations,
 * firing order for equal deadlines, and callbacks that re-arm or stop timers while running. */
#include "tap.h"
#include "timer.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NT 300    /* timers in the random test */
#define NOPS 6000 /* random operations */

/* A timer plus what the reference model knows about it. */
struct rt {
    struct spate_timer t;
    int id;
    int armed;         /* reference: armed? */
    uint64_t deadline; /* reference deadline */
    uint64_t order;    /* reference arming sequence */
};

static struct rt rts[NT];
static int fired[NT * 4];
static size_t nfired;

static struct rt *of(struct spate_timer *t)
{
    return (struct rt *)((char *)t - offsetof(struct rt, t));
}

static void record(struct spate_timer *t)
{
    if (nfired < sizeof(fired) / sizeof(fired[0])) fired[nfired] = of(t)->id;
    nfired++;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int ref_before(const struct rt *a, const struct rt *b)
{
    if (a->deadline != b->deadline) return a->deadline < b->deadline;
    return a->order < b->order;
}

static int cmp_ref(const void *x, const void *y)
{
    const struct rt *a = *(struct rt *const *)x, *b = *(struct rt *const *)y;
    return ref_before(a, b) ? -1 : ref_before(b, a) ? 1 : 0;
}

/* Checks the heap shape and index bookkeeping; returns a description of the first problem. */
static const char *heap_problem(const struct spate_timer_heap *h)
{
    size_t armed = 0;
    for (int i = 0; i < NT; i++)
        armed += rts[i].armed;
    if (h->len != armed) return "heap length differs from the number of armed timers";
    for (size_t i = 0; i < h->len; i++) {
        struct spate_timer *t = h->v[i];
        if (t->idx != i) return "a timer's idx does not match its heap slot";
        if (!of(t)->armed) return "a timer the reference says is stopped is in the heap";
        if (t->deadline != of(t)->deadline) return "deadline in the heap differs from reference";
        if (i > 0) {
            struct spate_timer *p = h->v[(i - 1) / 2];
            if (t->deadline < p->deadline || (t->deadline == p->deadline && t->seq < p->seq))
                return "heap order violated (child before parent)";
        }
    }
    for (int i = 0; i < NT; i++)
        if (spate_timer_armed(&rts[i].t) != rts[i].armed) return "spate_timer_armed disagrees";
    return NULL;
}

/* The reference's earliest armed timer or NULL. */
static struct rt *ref_min(void)
{
    struct rt *m = NULL;
    for (int i = 0; i < NT; i++)
        if (rts[i].armed && (!m || ref_before(&rts[i], m))) m = &rts[i];
    return m;
}

static void test_random(void)
{
    struct spate_timer_heap h;
    spate_timer_heap_init(&h);
    for (int i = 0; i < NT; i++) {
        spate_timer_init(&rts[i].t, record);
        rts[i].id = i;
        rts[i].armed = 0;
    }
    uint64_t order = 0, now = 0;
    const char *problem = NULL;
    int bad_peek = 0, bad_fire = 0, runs = 0, start_fail = 0;
    size_t total_fired = 0;
    for (int op = 0; op < NOPS && !problem; op++) {
        unsigned r = (unsigned)(rnd() % 100);
        struct rt *x = &rts[rnd() % NT];
        if (r < 55) { /* start or re-arm; narrow range so equal deadlines are common */
            uint64_t d = now + rnd() % 64;
            if (spate_timer_start(&h, &x->t, d)) start_fail++;
            x->armed = 1;
            x->deadline = d;
            x->order = order++;
        } else if (r < 85) { /* stop (often of an unarmed timer) */
            spate_timer_stop(&h, &x->t);
            x->armed = 0;
        } else { /* run everything due at an advancing clock, compare to the sorted reference */
            now += rnd() % 24;
            struct rt *due[NT];
            size_t nd = 0;
            for (int i = 0; i < NT; i++)
                if (rts[i].armed && rts[i].deadline <= now) due[nd++] = &rts[i];
            qsort(due, nd, sizeof(due[0]), cmp_ref);
            nfired = 0;
            size_t n = spate_timer_run(&h, now);
            runs++;
            total_fired += n;
            if (n != nd || nfired != nd) bad_fire++;
            for (size_t i = 0; i < nd && i < nfired; i++)
                if (fired[i] != due[i]->id) {
                    bad_fire++;
                    break;
                }
            for (size_t i = 0; i < nd; i++)
                due[i]->armed = 0;
        }
        problem = heap_problem(&h);
        struct rt *m = ref_min();
        struct spate_timer *p = spate_timer_peek(&h);
        if ((m ? &m->t : NULL) != p) bad_peek++;
    }
    ok(problem == NULL, "heap property and idx bookkeeping hold over %d random operations", NOPS);
    if (problem) diag("%s", problem);
    is_int(start_fail, 0, "spate_timer_start never failed");
    is_int(bad_peek, 0, "peek always returns the reference's earliest (deadline, arming order)");
    is_int(bad_fire, 0, "every run fired exactly the due timers, in reference order (%d runs)",
           runs);
    ok(total_fired > 500, "the random test really fired timers (%zu)", total_fired);
    /* drain: everything left fires in order when the clock jumps far ahead */
    struct rt *left[NT];
    size_t nl = 0;
    for (int i = 0; i < NT; i++)
        if (rts[i].armed) left[nl++] = &rts[i];
    qsort(left, nl, sizeof(left[0]), cmp_ref);
    nfired = 0;
    size_t n = spate_timer_run(&h, UINT64_MAX);
    int same = n == nl && nfired == nl;
    for (size_t i = 0; same && i < nl; i++)
        same = fired[i] == left[i]->id;
    ok(same, "final drain fires the %zu remaining timers in order", nl);
    is_int((long long)h.len, 0, "heap empty after the drain");
    ok(spate_timer_peek(&h) == NULL, "peek of an empty heap is NULL");
    spate_timer_heap_fini(&h);
}

static void test_equal_deadlines(void)
{
    struct spate_timer_heap h;
    spate_timer_heap_init(&h);
    /* arm in a scrambled id order; all share one deadline, so arming order decides */
    static const int arm[] = {7, 3, 9, 0, 5, 1, 8, 2, 6, 4};
    for (int i = 0; i < 10; i++) {
        spate_timer_init(&rts[i].t, record);
        rts[i].id = i;
    }
    for (int i = 0; i < 10; i++)
        spate_timer_start(&h, &rts[arm[i]].t, 1000);
    /* re-arming with the same deadline moves a timer behind the others */
    spate_timer_start(&h, &rts[7].t, 1000);
    nfired = 0;
    is_int((long long)spate_timer_run(&h, 999), 0, "nothing fires before the deadline");
    is_int((long long)spate_timer_run(&h, 1000), 10, "all ten fire exactly at the deadline");
    static const int want[] = {3, 9, 0, 5, 1, 8, 2, 6, 4, 7};
    int same = nfired == 10;
    for (int i = 0; same && i < 10; i++)
        same = fired[i] == want[i];
    ok(same, "equal deadlines fire in arming order; a re-armed timer goes last");
    if (!same)
        for (size_t i = 0; i < nfired && i < 10; i++)
            diag("fired[%zu] = %d (want %d)", i, fired[i], want[i]);
    /* an earlier deadline armed later still fires first */
    nfired = 0;
    spate_timer_start(&h, &rts[0].t, 50);
    spate_timer_start(&h, &rts[1].t, 40);
    spate_timer_start(&h, &rts[2].t, 50);
    spate_timer_run(&h, 100);
    ok(nfired == 3 && fired[0] == 1 && fired[1] == 0 && fired[2] == 2,
       "deadline beats arming order: 40 before 50(armed first) before 50(armed later)");
    spate_timer_heap_fini(&h);
}

static void test_stop_unarmed(void)
{
    struct spate_timer_heap h;
    spate_timer_heap_init(&h);
    struct spate_timer a, b;
    spate_timer_init(&a, record);
    spate_timer_init(&b, record);
    ok(!spate_timer_armed(&a), "a fresh timer is not armed");
    spate_timer_stop(&h, &a); /* never armed, empty heap */
    ok(h.len == 0 && !spate_timer_armed(&a), "stopping a never-armed timer on an empty heap");
    spate_timer_start(&h, &b, 10);
    spate_timer_stop(&h, &a);
    ok(h.len == 1 && h.v[0] == &b && b.idx == 0, "stopping an unarmed timer leaves others alone");
    spate_timer_stop(&h, &b);
    spate_timer_stop(&h, &b); /* twice */
    ok(h.len == 0 && !spate_timer_armed(&b), "stopping twice is harmless");
    nfired = 0;
    is_int((long long)spate_timer_run(&h, UINT64_MAX), 0, "a stopped timer never fires");
    spate_timer_heap_fini(&h);
    /* fini must not touch timers still armed: their owners may be freed first (ASan checks) */
    spate_timer_heap_init(&h);
    struct spate_timer *heap_t = malloc(sizeof(*heap_t));
    if (!heap_t) return;
    spate_timer_init(heap_t, record);
    spate_timer_start(&h, heap_t, 5);
    spate_timer_start(&h, &a, 6);
    free(heap_t);
    spate_timer_heap_fini(&h);
    ok(h.len == 0 && h.v == NULL && h.cap == 0, "heap_fini with a freed armed owner: heap reset");
    spate_timer_heap_init(&h);
    spate_timer_init(&a, record);
    is_int(spate_timer_start(&h, &a, 1), 0, "the heap is usable again after fini + init");
    spate_timer_heap_fini(&h);
}

/* ---- callbacks that change the heap while spate_timer_run is iterating ---- */

static struct spate_timer_heap cbh;
static struct spate_timer ta, tb, tc, td;
static int rearm_count;
static uint64_t rearm_to;
static char log_buf[64];
static size_t log_len;

static void log_ch(char c)
{
    if (log_len + 1 < sizeof(log_buf)) {
        log_buf[log_len++] = c;
        log_buf[log_len] = 0;
    }
}

static void cb_rearm(struct spate_timer *t)
{
    log_ch('a');
    if (++rearm_count < 3) spate_timer_start(&cbh, t, rearm_to);
}

static void cb_stop_other(struct spate_timer *t)
{
    (void)t;
    log_ch('b');
    spate_timer_stop(&cbh, &tc);     /* due in the same run: must not fire now */
    spate_timer_start(&cbh, &td, 5); /* due now: fires in the same run */
}

static void cb_plain(struct spate_timer *t)
{
    log_ch(t == &tc ? 'c' : t == &td ? 'd' : '?');
}

static void test_callbacks(void)
{
    spate_timer_heap_init(&cbh);
    spate_timer_init(&ta, cb_rearm);
    /* re-arming into the future: fires once per run */
    rearm_count = 0;
    rearm_to = 200;
    log_len = 0;
    log_buf[0] = 0;
    spate_timer_start(&cbh, &ta, 100);
    is_int((long long)spate_timer_run(&cbh, 150), 1, "self re-arm to the future: fired once");
    ok(spate_timer_armed(&ta) && ta.deadline == 200, "  and it is armed again at 200");
    is_int((long long)spate_timer_run(&cbh, 199), 0, "  not due at 199");
    rearm_to = 300;
    is_int((long long)spate_timer_run(&cbh, 200), 1, "  fires again at 200");
    ok(spate_timer_armed(&ta) && ta.deadline == 300, "  re-armed itself to 300");
    spate_timer_stop(&cbh, &ta);
    /* re-arming to a deadline already due fires again within the same run until it stops */
    rearm_count = 0;
    rearm_to = 10;
    spate_timer_start(&cbh, &ta, 10);
    is_int((long long)spate_timer_run(&cbh, 10), 3, "self re-arm to a due deadline: 3 fires");
    ok(!spate_timer_armed(&ta), "  and then it stays stopped");
    spate_timer_heap_fini(&cbh);

    /* a callback that stops a due timer and arms a new due one */
    spate_timer_heap_init(&cbh);
    spate_timer_init(&tb, cb_stop_other);
    spate_timer_init(&tc, cb_plain);
    spate_timer_init(&td, cb_plain);
    log_len = 0;
    log_buf[0] = 0;
    spate_timer_start(&cbh, &tb, 1);
    spate_timer_start(&cbh, &tc, 2);
    is_int((long long)spate_timer_run(&cbh, 10), 2, "stop-other run fired b and d only");
    is_str(log_buf, "bd", "  c was stopped by b before its turn, d armed by b fired after");
    ok(!spate_timer_armed(&tc) && !spate_timer_armed(&td) && cbh.len == 0, "  heap empty");
    spate_timer_heap_fini(&cbh);
}

static void test_many_growth(void)
{
    /* thousands of timers: growth of the array keeps every index right */
    enum { N = 5000 };
    struct spate_timer_heap h;
    spate_timer_heap_init(&h);
    struct spate_timer *ts = calloc(N, sizeof(*ts));
    if (!ok(ts != NULL, "allocate %d timers", N)) return;
    int fails = 0;
    for (int i = 0; i < N; i++) {
        spate_timer_init(&ts[i], record);
        fails += spate_timer_start(&h, &ts[i], (uint64_t)((i * 7919) % N)) != 0;
    }
    is_int(fails, 0, "%d starts succeed", N);
    int idx_ok = h.len == N;
    for (size_t i = 0; idx_ok && i < h.len; i++)
        idx_ok = h.v[i]->idx == i;
    ok(idx_ok, "every index right after growth");
    /* stop every other one, then all deadlines still come out sorted */
    for (int i = 0; i < N; i += 2)
        spate_timer_stop(&h, &ts[i]);
    uint64_t last = 0;
    int sorted = 1, count = 0;
    struct spate_timer *t;
    while ((t = spate_timer_peek(&h))) {
        if (t->deadline < last) sorted = 0;
        last = t->deadline;
        spate_timer_stop(&h, t);
        count++;
    }
    ok(sorted && count == N / 2, "popping via peek+stop yields %d sorted deadlines", count);
    spate_timer_heap_fini(&h);
    free(ts);
}

int main(void)
{
    test_random();
    test_equal_deadlines();
    test_stop_unarmed();
    test_callbacks();
    test_many_growth();
    return done();
}
