/* Reactor core shared by the backends; the backend is chosen by including one poll_*.c.h. */
#include "loop.h"
#include "clock.h"
#include <errno.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#define SPATE_LOOP_BATCH 512

#if defined(__linux__)
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
    l->now = l->wake = spate_clock_now();
    l->cycle = UINT64_MAX; /* no wake-up seen yet: no reason to nap */
    l->last_events = 0;
    l->nap_ns = 0;
    l->nevents = SPATE_LOOP_BATCH;
    return backend_init(l);
}

static void run_reap(struct spate_loop *l)
{
    while (l->reap) {
        struct spate_reap *r = l->reap;
        l->reap = r->next;
        r->fn(r);
    }
}

void spate_loop_fini(struct spate_loop *l)
{
    if (!l) return;
    run_reap(l);
    backend_fini(l);
    spate_timer_heap_fini(&l->timers);
}

int spate_loop_add(struct spate_loop *l, struct spate_io *io, int fd, unsigned mask)
{
    io->fd = fd;
    io->mask = mask;
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
}

void spate_loop_defer(struct spate_loop *l, struct spate_reap *r)
{
    r->next = l->reap;
    l->reap = r;
}

uint64_t spate_loop_next_timeout(struct spate_loop *l)
{
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

int spate_loop_once(struct spate_loop *l, uint64_t timeout_ns)
{
    uint64_t next = spate_loop_next_timeout(l);
    if (next < timeout_ns) timeout_ns = next;
    if (l->reap) timeout_ns = 0;
    l->batch++; /* before the wait: anything made idle after it belongs to the next batch */
    int n = wait_napping(l, timeout_ns);
    l->now = spate_clock_now();
    l->cycle = l->now - l->wake;
    l->wake = l->now;
    l->last_events = n > 0 ? (unsigned)n : 0;
    if (n < 0) return n;
    run_reap(l);
    n += (int)spate_timer_run(&l->timers, l->now);
    run_reap(l);
    return n;
}
