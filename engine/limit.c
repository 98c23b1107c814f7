/* The limiter: global FIFO, per-host waiting lists, Retry-After holds and the rate schedule. */
#include "limit.h"
#include "clock.h"
#include <stddef.h>

static void on_rate(struct spate_timer *t)
{
    spate_limit_pump(spate_container_of(t, struct spate_limit, rate_timer));
}

void spate_limit_init(struct spate_limit *l, struct spate_loop *loop, unsigned concurrency,
                      unsigned per_host, double rate, spate_limit_start_cb start, void *owner)
{
    *l = (struct spate_limit){
        .loop = loop,
        .concurrency = concurrency ? concurrency : 1,
        .per_host = per_host,
        .rate_interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0,
        .start = start,
        .owner = owner,
    };
    spate_list_init(&l->waiting);
    spate_timer_init(&l->rate_timer, on_rate);
}

void spate_limit_fini(struct spate_limit *l)
{
    spate_loop_untimer(l->loop, &l->rate_timer);
}

static void q_push(struct spate_req **head, struct spate_req **tail, struct spate_req *r)
{
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static struct spate_req *q_pop(struct spate_req **head, struct spate_req **tail)
{
    struct spate_req *r = *head;
    if (r) {
        *head = r->next;
        if (!*head) *tail = NULL;
        r->next = NULL;
    }
    return r;
}

void spate_limit_push(struct spate_limit *l, struct spate_req *r)
{
    r->phase = REQ_QUEUED;
    q_push(&l->q_head, &l->q_tail, r);
}

void spate_limit_push_front(struct spate_limit *l, struct spate_req *r)
{
    r->phase = REQ_QUEUED;
    r->next = l->q_head;
    l->q_head = r;
    if (!l->q_tail) l->q_tail = r;
}

static void host_wait(struct spate_limit *l, struct spate_req *r)
{
    struct spate_host *h = r->host;
    r->phase = REQ_HOSTWAIT;
    q_push(&h->wait_head, &h->wait_tail, r);
    if (spate_list_empty(&h->wlink)) spate_list_append(&l->waiting, &h->wlink);
}

int spate_limit_host_can_open(const struct spate_limit *l, const struct spate_host *h)
{
    return !l->per_host || h->nconns < l->per_host;
}

/* Takes one rate slot if one is due; else arms the timer for the next. Slots are spaced
 * exactly, and a late start does not bank a burst beyond one interval. */
static int rate_ok(struct spate_limit *l)
{
    if (!l->rate_interval) return 1;
    uint64_t now = spate_clock_now();
    if (now < l->rate_next) {
        if (!spate_timer_armed(&l->rate_timer))
            spate_loop_timer(l->loop, &l->rate_timer, l->rate_next);
        return 0;
    }
    l->rate_next = l->rate_next + l->rate_interval > now ? l->rate_next + l->rate_interval
                                                         : now + l->rate_interval;
    return 1;
}

static void on_hold_end(struct spate_timer *t)
{
    struct spate_host *h = spate_container_of(t, struct spate_host, hold_timer);
    struct spate_limit *l = h->owner;
    spate_limit_pump(l);
    if (l->pool) spate_pool_release(l->pool, h); /* the hold was its last use */
}

void spate_limit_hold(struct spate_limit *l, struct spate_host *h, uint64_t until)
{
    if (until <= h->hold_until) return;
    h->hold_until = until;
    h->owner = l;
    h->hold_timer.cb = on_hold_end;
    spate_loop_timer(l->loop, &h->hold_timer, until);
}

/* A host that answered 429/503 with Retry-After gets no new attempts until then: its other
 * queued requests wait with the one that was told, instead of each learning it alone. */
static int host_held(struct spate_host *h)
{
    if (!h->hold_until) return 0;
    if (spate_clock_now() >= h->hold_until) {
        h->hold_until = 0;
        return 0;
    }
    return 1;
}

static int host_ready(struct spate_limit *l, struct spate_host *h)
{
    return !host_held(h) && (h->nidle > 0 || spate_limit_host_can_open(l, h));
}

static int slot_free(const struct spate_limit *l)
{
    return l->inflight < l->concurrency;
}

/* The host after n in the waiting list, read after n's requests started: a start may call
 * back into the program, whose spate_engine_cancel can take hosts off the list (n too: then
 * the walk starts again from the first, which only revisits hosts that cannot start). */
static struct spate_list *next_waiting(struct spate_limit *l, struct spate_list *n)
{
    if (spate_list_empty(n)) return spate_list_first(&l->waiting);
    return n->next == &l->waiting ? NULL : n->next;
}

static void pump_hosts(struct spate_limit *l)
{
    struct spate_list *n = spate_list_first(&l->waiting);
    while (n && slot_free(l)) {
        struct spate_host *h = spate_container_of(n, struct spate_host, wlink);
        while (h->wait_head && slot_free(l) && host_ready(l, h) && rate_ok(l))
            l->start(l->owner, q_pop(&h->wait_head, &h->wait_tail));
        struct spate_list *next = next_waiting(l, n);
        if (!h->wait_head) {
            spate_list_remove(n); /* nothing left waiting for this host */
            n = next;
            continue;
        }
        if (l->rate_interval && spate_timer_armed(&l->rate_timer)) return;
        n = next;
    }
}

void spate_limit_pump(struct spate_limit *l)
{
    if (l->pumping) {
        l->repump = 1;
        return;
    }
    l->pumping = 1;
    do {
        l->repump = 0;
        pump_hosts(l);
        while (l->q_head && slot_free(l)) {
            struct spate_req *r = l->q_head;
            if (r->host->wait_head || !host_ready(l, r->host)) {
                host_wait(l, q_pop(&l->q_head, &l->q_tail));
                continue;
            }
            if (!rate_ok(l)) break;
            l->start(l->owner, q_pop(&l->q_head, &l->q_tail));
        }
    } while (l->repump);
    l->pumping = 0;
}

/* Moves the requests of one queue that drop() picks to the end of *out_tail's list. */
static void sift_queue(struct spate_req **head, struct spate_req **tail,
                       int (*drop)(const struct spate_req *r), struct spate_req ***out_tail)
{
    struct spate_req *r = *head;
    *head = *tail = NULL;
    while (r) {
        struct spate_req *next = r->next;
        if (drop(r)) {
            r->next = NULL;
            **out_tail = r;
            *out_tail = &r->next;
        } else {
            q_push(head, tail, r);
        }
        r = next;
    }
}

struct spate_req *spate_limit_sift(struct spate_limit *l, int (*drop)(const struct spate_req *r))
{
    struct spate_req *out = NULL, **out_tail = &out;
    sift_queue(&l->q_head, &l->q_tail, drop, &out_tail);
    struct spate_list *n, *tmp;
    spate_list_foreach(n, tmp, &l->waiting)
    {
        struct spate_host *h = spate_container_of(n, struct spate_host, wlink);
        sift_queue(&h->wait_head, &h->wait_tail, drop, &out_tail);
        if (!h->wait_head) spate_list_remove(n); /* nothing left waiting for this host */
    }
    return out;
}

void spate_limit_clear(struct spate_limit *l)
{
    l->pumping = 1; /* completions during teardown must not start new work */
    l->q_head = l->q_tail = NULL;
    struct spate_list *n, *tmp;
    spate_list_foreach(n, tmp, &l->waiting)
    {
        struct spate_host *h = spate_container_of(n, struct spate_host, wlink);
        h->wait_head = h->wait_tail = NULL;
        spate_list_remove(n);
    }
}
