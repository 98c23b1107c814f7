/* The limiter: which queued request may start an attempt now. Requests wait in FIFO order for a
 * global slot (-c), then for a slot of their host (--per-host, or a Retry-After hold), then for
 * the rate (--rate, spaced exactly). The engine starts what the limiter hands it. */
#ifndef SPATE_LIMIT_H
#define SPATE_LIMIT_H
#include "loop.h"
#include "pool.h"
#include "request.h"

typedef void (*spate_limit_start_cb)(void *owner, struct spate_req *r);

struct spate_limit {
    struct spate_loop *loop;
    unsigned concurrency, per_host;
    unsigned inflight;                 /* attempts holding a slot (spate_limit_take_slot) */
    struct spate_req *q_head, *q_tail; /* waiting for a global slot */
    struct spate_list waiting;         /* hosts whose requests wait for a host slot (wlink) */
    struct spate_timer rate_timer;
    uint64_t rate_next, rate_interval; /* ns */
    int pumping, repump;
    spate_limit_start_cb start; /* must take a slot (inflight++) for r */
    void *owner;
    struct spate_pool *pool; /* told when a hold ends, so an unused host can go (NULL: none) */
};

/* rate <= 0: unlimited. */
void spate_limit_init(struct spate_limit *l, struct spate_loop *loop, unsigned concurrency,
                      unsigned per_host, double rate, spate_limit_start_cb start, void *owner);
/* Queues r at the back (new requests) or the front (retries, re-sends and redirects keep
 * their place). Nothing starts until spate_limit_pump. */
void spate_limit_push(struct spate_limit *l, struct spate_req *r);
void spate_limit_push_front(struct spate_limit *l, struct spate_req *r);
/* Starts every request that may start now, in order; safe to call from inside a start. */
void spate_limit_pump(struct spate_limit *l);
/* 1 if h may open another connection (per-host cap). */
int spate_limit_host_can_open(const struct spate_limit *l, const struct spate_host *h);
/* The server asked h to wait until `until` (ns): its queued requests wait too. */
void spate_limit_hold(struct spate_limit *l, struct spate_host *h, uint64_t until);
/* Takes out of every queue the requests for which drop(r) is nonzero, the others keeping their
 * order; returns the ones taken, linked by ->next. O(queued). */
struct spate_req *spate_limit_sift(struct spate_limit *l, int (*drop)(const struct spate_req *r));
/* Empties every queue without starting anything (engine teardown). */
void spate_limit_clear(struct spate_limit *l);
/* Stops the limiter's timers (hold timers are the hosts': cleared with the pool). */
void spate_limit_fini(struct spate_limit *l);

/* The slots, owned here: a start callback takes one for the attempt it starts, the attempt's end
 * gives it back (then pump). */
static inline void spate_limit_take_slot(struct spate_limit *l)
{
    l->inflight++;
}
static inline void spate_limit_give_slot(struct spate_limit *l)
{
    l->inflight--;
}
/* Attempts holding a slot. */
static inline unsigned spate_limit_inflight(const struct spate_limit *l)
{
    return l->inflight;
}
/* 1 when a queued request could start at once: a slot is free and no rate wait is pending (a
 * host loop should come round without waiting). */
static inline int spate_limit_startable(const struct spate_limit *l)
{
    return l->q_head && l->inflight < l->concurrency && !spate_timer_armed(&l->rate_timer);
}

#endif
