/* Reactor core shared by the backends; the backend is chosen by including one poll_*.c.h. A
 * backend only registers interest and, in backend_wait, reports what it saw through note_event;
 * merging those events per handle and dispatching them happens here, the same for every backend. */
#include "loop.h"
#include "clock.h"
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#define SPATE_LOOP_BATCH 512

/* A backend's wait reports each event through here, m being the entries made so far in
 * l->ready; returns the new count. All events of one handle fold into one entry (the union of
 * their flags, the last errno), placed at the handle's first event: kqueue reports READ and WRITE
 * apart, and a handle must not run twice in a batch. O(1): io->slot says where the handle's
 * entry is, checked against the entry itself (a slot left from an earlier batch points past the
 * end or at another handle). */
static inline int note_event(struct spate_loop *l, int m, struct spate_io *io, unsigned events,
                             int err)
{
    struct spate_event *ev = l->ready;
    unsigned s = io->slot;
    if (s < (unsigned)m && ev[s].io == io) {
        ev[s].events |= events;
        if (err) ev[s].err = err;
        return m;
    }
    io->slot = (unsigned)m;
    ev[m].io = io;
    ev[m].events = events;
    ev[m].err = err;
    return m + 1;
}

#if defined(SPATE_LOOP_BACKEND) /* a white-box test's own backend (tests/test_dispatch.c) */
#include SPATE_LOOP_BACKEND
#elif defined(__linux__)
#include "poll_epoll.c.h"
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include "poll_kqueue.c.h"
#else
#error "spate needs epoll or kqueue"
#endif

int spate_loop_init(struct spate_loop *l)
{
    spate_timer_heap_init(&l->timers);
    l->reap = NULL;
    spate_list_init(&l->posted);
    l->now = l->wake = spate_clock_now();
    l->cycle = UINT64_MAX; /* no wake-up seen yet: no reason to nap */
    l->last_events = 0;
    l->nap_ns = 0;
    l->batch = 0;
    l->nevents = SPATE_LOOP_BATCH;
    l->bfd = -1; /* a failed init leaves nothing for spate_loop_fini to close or free twice */
    l->events = NULL;
    l->ready = calloc((size_t)l->nevents, sizeof(*l->ready));
    if (!l->ready) return -ENOMEM;
    int rc = backend_init(l);
    if (rc < 0) {
        free(l->ready);
        l->ready = NULL;
    }
    return rc;
}

static void run_reap(struct spate_loop *l)
{
    while (l->reap) {
        struct spate_reap *r = l->reap;
        l->reap = r->next;
        r->fn(r);
    }
}

/* Runs the work posted before this turn, oldest first; what they post waits for the next turn.
 * An item taken back by an earlier one is off the turn's list and does not run. */
static int run_posted(struct spate_loop *l)
{
    if (spate_list_empty(&l->posted)) return 0;
    struct spate_list turn;
    spate_list_link(&turn, l->posted.prev, l->posted.next); /* turn takes over the nodes */
    spate_list_init(&l->posted);
    int n = 0;
    struct spate_list *node;
    while ((node = spate_list_first(&turn))) {
        spate_list_remove(node);
        struct spate_work *w = spate_container_of(node, struct spate_work, link);
        w->fn(w);
        n++;
    }
    return n;
}

void spate_loop_fini(struct spate_loop *l)
{
    if (!l) return;
    struct spate_list *node; /* never run: their owners are gone or going */
    while ((node = spate_list_first(&l->posted)))
        spate_list_remove(node);
    run_reap(l);
    backend_fini(l);
    free(l->ready);
    l->ready = NULL;
    spate_timer_heap_fini(&l->timers);
}

int spate_loop_add(struct spate_loop *l, struct spate_io *io, int fd, unsigned mask)
{
    io->fd = fd;
    io->mask = mask;
    io->slot = UINT_MAX; /* a new registration: an entry for the old one in this batch is stale */
    int rc = backend_add(l, io);
    if (rc < 0) io->fd = -1;
    return rc;
}

int spate_loop_mod(struct spate_loop *l, struct spate_io *io, unsigned mask)
{
    if (io->fd < 0 || io->mask == mask) return 0;
    unsigned old = io->mask;
    io->mask = mask;
    int rc = backend_mod(l, io, old);
    if (rc < 0) io->mask = old;
    return rc;
}

void spate_loop_del(struct spate_loop *l, struct spate_io *io)
{
    if (io->fd < 0) return;
    backend_del(l, io);
    io->fd = -1;
    io->mask = 0;
    io->slot = UINT_MAX;
}

void spate_loop_defer(struct spate_loop *l, struct spate_reap *r)
{
    r->next = l->reap;
    l->reap = r;
}

void spate_loop_post(struct spate_loop *l, struct spate_work *w)
{
    if (!spate_work_posted(w)) spate_list_append(&l->posted, &w->link);
}

uint64_t spate_loop_next_timeout(struct spate_loop *l)
{
    if (!spate_list_empty(&l->posted)) return 0;
    struct spate_timer *t = spate_timer_peek(&l->timers);
    if (!t) return UINT64_MAX;
    uint64_t now = spate_clock_now();
    return t->deadline > now ? t->deadline - now : 0;
}

/* Interrupt coalescing for a busy loop: when nothing is ready yet but events have been arriving
 * fast enough that a nap should gather at least NAP_GAIN of them (judged by the last wait: its
 * events over the time since the wait before), sleep one nap and then collect everything that
 * arrived meanwhile in one wake-up, instead of being woken once per response. Each wake-up costs
 * a context switch and the waker an IPI; on a loaded loop this saves more CPU than the nap adds
 * latency (at most nap_ns, only when the owner asked for it). A timer due within two naps is
 * never napped past. */
#define NAP_GAIN 2

static int wait_napping(struct spate_loop *l, uint64_t timeout_ns)
{
    uint64_t nap = l->nap_ns;
    if (!nap || timeout_ns < 2 * nap || l->cycle > (uint64_t)l->last_events * nap / NAP_GAIN)
        return backend_wait(l, timeout_ns);
    int n = backend_wait(l, 0);
    if (n != 0) return n;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)nap};
    nanosleep(&ts, NULL);
    return backend_wait(l, timeout_ns == UINT64_MAX ? UINT64_MAX : timeout_ns - nap);
}

/* One callback per handle. A callback may delete, re-add (the same or another fd) or close any
 * handle: add and del void io->slot, so a later entry whose handle no longer points back at it
 * was collected for a registration that is gone, and is dropped (the fd cannot tell: failover
 * re-adds the same handle, c-ares reuses fd numbers). Handles stay valid until run_reap. */
static int dispatch(struct spate_loop *l, int n)
{
    struct spate_event *ev = l->ready;
    int calls = 0;
    for (int i = 0; i < n; i++) {
        struct spate_io *io = ev[i].io;
        if (io->slot != (unsigned)i) continue;
        io->err = ev[i].err;
        io->cb(io, ev[i].events);
        calls++;
    }
    return calls;
}

int spate_loop_once(struct spate_loop *l, uint64_t timeout_ns)
{
    uint64_t next = spate_loop_next_timeout(l);
    if (next < timeout_ns) timeout_ns = next;
    if (l->reap) timeout_ns = 0;
    l->batch++; /* before the wait: anything made idle after it belongs to the next batch */
    int n = wait_napping(l, timeout_ns);
    /* before any callback: what the callbacks stamp with l->now happened after the wait */
    l->now = spate_clock_now();
    l->cycle = l->now - l->wake;
    l->wake = l->now;
    if (n < 0) {
        l->last_events = 0;
        return n;
    }
    l->last_events = (unsigned)n; /* handles, not backend events: what a nap would gather */
    n = dispatch(l, n);
    /* right after the I/O callbacks, before the timers: a connection opened by a response's
     * completion dials before other connections' race timers take the descriptor it freed */
    n += run_posted(l);
    run_reap(l);
    n += (int)spate_timer_run(&l->timers, l->now);
    run_reap(l);
    return n;
}
