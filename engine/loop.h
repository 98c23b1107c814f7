/* The reactor: one readiness backend (epoll or kqueue) plus the timer heap, single-threaded.
 * I/O handles and timers are owned by their callers; the loop only points at them. */
#ifndef SPATE_LOOP_H
#define SPATE_LOOP_H
#include "clock.h"
#include "list.h"
#include "timer.h"
#include <stdint.h>

#define SPATE_EV_READ 1u
#define SPATE_EV_WRITE 2u
#define SPATE_EV_ERROR                                                                             \
    4u /* hang-up (incl. the peer's FIN) or socket error: read/write to learn which */
#define SPATE_EV_EDGE 8u /* registration flag: edge-triggered (report each new readiness once) */

struct spate_io;
/* Called at most once per handle per wait, with the union of everything the backend reported
 * for it in that wait (kqueue reports READ and WRITE apart; the loop merges them). */
typedef void (*spate_io_cb)(struct spate_io *io, unsigned events);

struct spate_io {
    int fd;        /* -1 when not registered */
    unsigned mask; /* registered interest, SPATE_EV_* */
    spate_io_cb cb;
    int err;       /* in the callback: the errno the backend gave with SPATE_EV_ERROR (kqueue's
                      EV_EOF/EV_ERROR carry it), 0 when it gave none (epoll never does) */
    unsigned slot; /* loop.c: the handle's entry in the batch being dispatched; add and del
                      void it, which marks an entry collected before them as stale */
};

/* One handle's readiness in a batch: what a backend's wait reports and loop.c dispatches. */
struct spate_event {
    struct spate_io *io;
    unsigned events; /* SPATE_EV_* */
    int err;         /* errno behind SPATE_EV_ERROR, 0 if unknown */
};

/* Work to run after the current batch of events has been dispatched: lets an object that is
 * closed inside a callback stay valid for stale events later in the same batch. */
struct spate_reap {
    struct spate_reap *next;
    void (*fn)(struct spate_reap *r);
};

/* Work due now, run from the loop rather than inside the call that found it due (a resolver
 * answer known at once must not reach its owner before the call that asked has returned). The
 * queue is FIFO, runs once per spate_loop_once, right after the batch's I/O callbacks and before
 * the timers (work posted by a timer, or while the queue runs, waits for the next turn, which
 * then does not block; a fn that posts again cannot spin), and an item can be taken back until
 * it runs. A reap (above) fits none of that: LIFO, not
 * cancellable, run until empty and even at fini, since its job is freeing. Owned by the caller;
 * the loop only links it. */
struct spate_work {
    struct spate_list link; /* in the loop's queue while posted, else on no list */
    void (*fn)(struct spate_work *w);
};

struct spate_loop {
    int bfd; /* backend descriptor (epoll or kqueue); pollable by an embedding loop */
    struct spate_timer_heap timers;
    struct spate_reap *reap;
    struct spate_list posted; /* spate_work.link, oldest first */
    uint64_t now;   /* monotonic ns, refreshed after every wait and by spate_loop_update_now */
    uint64_t batch; /* counts waits: work done between two waits shares a batch number */
    void *events;   /* backend event array */
    int nevents;
    struct spate_event *ready; /* the last wait's events, one per handle (backend + loop.c) */
    uint64_t nap_ns;      /* > 0: the owner allows a nap before a wait that would block (loop.c) */
    uint64_t wake, cycle; /* when the last wait ended, and how long after the one before */
    unsigned last_events; /* handles the last wait found ready (a nap gathers handles) */
};

/* Returns 0 or -errno. */
int spate_loop_init(struct spate_loop *l);
/* Frees what init made; handles still registered are simply forgotten. NULL-safe. */
void spate_loop_fini(struct spate_loop *l);

/* Registers io->fd with interest mask (SPATE_EV_READ|WRITE, optionally EDGE). 0 or -errno. */
int spate_loop_add(struct spate_loop *l, struct spate_io *io, int fd, unsigned mask);
/* Changes the interest; a no-op when unchanged. 0 or -errno. */
int spate_loop_mod(struct spate_loop *l, struct spate_io *io, unsigned mask);
/* Unregisters io (does not close the fd). Harmless when not registered. */
void spate_loop_del(struct spate_loop *l, struct spate_io *io);

/* Queues r to run after the current dispatch batch (or at the end of the next spate_loop_once). */
void spate_loop_defer(struct spate_loop *l, struct spate_reap *r);

/* Sets up w (not posted) to run fn when posted. */
static inline void spate_work_init(struct spate_work *w, void (*fn)(struct spate_work *w))
{
    spate_list_init(&w->link);
    w->fn = fn;
}
/* 1 while w waits in a loop's queue. */
static inline int spate_work_posted(const struct spate_work *w)
{
    return !spate_list_empty(&w->link);
}
/* Queues w (initialised) behind the work already posted (a no-op if w is posted already); it runs
 * in this spate_loop_once when posted from an I/O callback, else in the next one, which then does
 * not block. w must stay valid until it runs or is taken back. */
void spate_loop_post(struct spate_loop *l, struct spate_work *w);
/* Takes w back: it will not run. Harmless when w is not posted (already ran, or never). */
static inline void spate_loop_unpost(struct spate_work *w)
{
    spate_list_remove(&w->link);
}

/* Waits at most timeout_ns (UINT64_MAX = until the next timer or forever, 0 = poll), refreshes
 * l->now, then runs ready I/O callbacks (one per handle; none for a handle deleted or re-added by
 * an earlier callback of the same batch), posted work, due timers and deferred work. Returns I/O
 * callbacks plus timers plus posted work run, or -errno. */
int spate_loop_once(struct spate_loop *l, uint64_t timeout_ns);

/* Nanoseconds until the earliest timer (0 if due or if work is posted), or UINT64_MAX when no
 * timer is armed. */
uint64_t spate_loop_next_timeout(struct spate_loop *l);

static inline int spate_loop_timer(struct spate_loop *l, struct spate_timer *t, uint64_t deadline)
{
    return spate_timer_start(&l->timers, t, deadline);
}
static inline void spate_loop_untimer(struct spate_loop *l, struct spate_timer *t)
{
    spate_timer_stop(&l->timers, t);
}

/* Reads the clock into l->now. Code that stamps several things in one batch reads the clock once
 * and the rest use l->now (a vDSO clock read is a real share of a keep-alive request's CPU). */
static inline uint64_t spate_loop_update_now(struct spate_loop *l)
{
    return l->now = spate_clock_now();
}

#endif
