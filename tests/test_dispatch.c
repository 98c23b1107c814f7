/* Unit tests for the loop's batch dispatch (engine/loop.c), driven by a scripted backend that
 * hands loop.c the events a test queues, in the order given, the way kqueue reports them: READ
 * and WRITE apart, an error with its errno. Runs on any system. */
#define SPATE_LOOP_BACKEND "../tests/poll_script.c.h"
#include "../engine/loop.c"
#include "tap.h"
#include <string.h>

struct h {
    struct spate_io io;
    int calls;
    unsigned last; /* events of the last callback */
    int err;       /* io->err seen in it */
    int fd_seen;   /* io->fd seen in it */
    int seq;       /* global order of the last callback */
    uint64_t now;  /* l->now seen in it */
    void (*then)(struct h *self);
};

static struct spate_loop L;
static int order;

static void on_io(struct spate_io *io, unsigned ev)
{
    struct h *x = (struct h *)((char *)io - offsetof(struct h, io));
    x->calls++;
    x->last = ev;
    x->err = io->err;
    x->fd_seen = io->fd;
    x->seq = ++order;
    x->now = L.now;
    if (x->then) x->then(x);
}

static void reg(struct h *x, int fd)
{
    memset(x, 0, sizeof(*x));
    x->io.fd = -1;
    x->io.cb = on_io;
    spate_loop_add(&L, &x->io, fd, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE);
}

static int start(void)
{
    order = 0;
    return spate_loop_init(&L) == 0;
}

static void test_split(void)
{
    struct h a, b;
    if (!ok(start(), "loop init with the scripted backend")) return;
    reg(&a, 10);
    reg(&b, 11);
    script(&a.io, SPATE_EV_READ, 0);
    script(&b.io, SPATE_EV_WRITE, 0);
    script(&a.io, SPATE_EV_WRITE, 0);
    is_int(spate_loop_once(&L, 0), 2,
           "READ and WRITE of one handle, split around another: 2 calls");
    is_int(a.calls, 1, "  the split handle gets one callback");
    is_int((long long)a.last, SPATE_EV_READ | SPATE_EV_WRITE, "  with the union READ|WRITE");
    ok(b.calls == 1 && b.last == SPATE_EV_WRITE, "  the other handle gets its own WRITE");
    ok(a.seq < b.seq, "  in the order of each handle's first event");
    is_int(L.last_events, 2, "  the nap's rate counts 2 ready handles, not 3 backend events");
    /* the next batch: slots left from this one must not merge a handle into another's entry */
    script(&b.io, SPATE_EV_READ, 0);
    script(&a.io, SPATE_EV_READ, 0);
    script(&b.io, SPATE_EV_WRITE, 0);
    is_int(spate_loop_once(&L, 0), 2, "next batch, handles in the other order: 2 calls");
    ok(a.calls == 2 && a.last == SPATE_EV_READ, "  a: READ alone (0x%x)", a.last);
    ok(b.calls == 2 && b.last == (SPATE_EV_READ | SPATE_EV_WRITE), "  b: READ|WRITE (0x%x)",
       b.last);
    spate_loop_fini(&L);
}

/* A full batch, every handle twice: still one callback each. */
static void test_full_batch(void)
{
    enum { N = SPATE_LOOP_BATCH / 2 };
    static struct h hs[N];
    if (!start()) return;
    for (int i = 0; i < N; i++)
        reg(&hs[i], 100 + i);
    for (int i = 0; i < N; i++)
        script(&hs[i].io, SPATE_EV_READ, 0);
    for (int i = N - 1; i >= 0; i--)
        script(&hs[i].io, SPATE_EV_WRITE, 0);
    is_int(spate_loop_once(&L, 0), N, "a full batch of %d events for %d handles: %d calls",
           SPATE_LOOP_BATCH, N, N);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += hs[i].calls != 1 || hs[i].last != (SPATE_EV_READ | SPATE_EV_WRITE) ||
               hs[i].seq != i + 1;
    is_int(bad, 0, "  each handle once, with READ|WRITE, in first-event order");
    spate_loop_fini(&L);
}

/* ---- events for a handle changed by an earlier callback of the batch ---- */

static struct h *victim;
static int new_fd;

/* A connect refused on the READ event: fail over to the next address on the same handle. */
static void failover_self(struct h *x)
{
    spate_loop_del(&L, &x->io);
    spate_loop_add(&L, &x->io, new_fd, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE);
}

static void close_victim(struct h *x)
{
    (void)x;
    spate_loop_del(&L, &victim->io);
}

/* c-ares closed the socket and opened another with the same number on the same record */
static void reopen_victim_same_fd(struct h *x)
{
    (void)x;
    int fd = victim->io.fd;
    spate_loop_del(&L, &victim->io);
    spate_loop_add(&L, &victim->io, fd, SPATE_EV_READ);
}

static void test_stale(void)
{
    struct h a, b;
    if (!start()) return;
    /* the handle re-registers itself with a new fd on its first event; kqueue's WRITE|EOF for
     * the old socket is still in the batch and must not reach the new one */
    reg(&a, 20);
    new_fd = 21;
    a.then = failover_self;
    script(&a.io, SPATE_EV_READ | SPATE_EV_ERROR, ECONNREFUSED);
    script(&a.io, SPATE_EV_WRITE | SPATE_EV_ERROR, ECONNREFUSED);
    spate_loop_once(&L, 0);
    is_int(a.calls, 1, "failover on the READ event: the old socket's WRITE event is not delivered");
    is_int(a.fd_seen, 20, "  the one callback was for the old fd");
    ok(a.io.fd == 21, "  and the handle now watches the new fd");
    a.then = NULL;
    script(&a.io, SPATE_EV_WRITE, 0);
    spate_loop_once(&L, 0);
    ok(a.calls == 2 && a.fd_seen == 21, "  the new socket's own event in the next batch arrives");

    /* another handle, closed by an earlier callback */
    reg(&a, 30);
    reg(&b, 31);
    victim = &b;
    a.then = close_victim;
    script(&a.io, SPATE_EV_READ, 0);
    script(&b.io, SPATE_EV_READ, 0);
    is_int(spate_loop_once(&L, 0), 1, "a handle closed earlier in the batch: 1 call");
    is_int(b.calls, 0, "  the closed handle's queued event never arrives");

    /* another handle, re-registered with the same fd number: the fd cannot tell it is stale */
    reg(&a, 40);
    reg(&b, 41);
    victim = &b;
    a.then = reopen_victim_same_fd;
    script(&a.io, SPATE_EV_READ, 0);
    script(&b.io, SPATE_EV_READ, 0);
    spate_loop_once(&L, 0);
    is_int(b.calls, 0, "re-registered earlier in the batch under the same fd: event dropped");
    ok(b.io.fd == 41, "  (the handle is registered, fd 41)");
    a.then = NULL;
    script(&b.io, SPATE_EV_READ, 0);
    spate_loop_once(&L, 0);
    is_int(b.calls, 1, "  its events from the next wait arrive");

    /* a later handle may touch an earlier one: that one's callback has already run */
    reg(&a, 50);
    reg(&b, 51);
    victim = &a;
    b.then = close_victim;
    script(&a.io, SPATE_EV_READ, 0);
    script(&b.io, SPATE_EV_READ, 0);
    script(&a.io, SPATE_EV_WRITE, 0);
    is_int(spate_loop_once(&L, 0), 2, "closing a handle that already ran: 2 calls, no third");
    is_int(a.calls, 1, "  the closed handle ran once, before the close");
    spate_loop_fini(&L);
}

static void test_error(void)
{
    struct h a, b;
    if (!start()) return;
    reg(&a, 60);
    reg(&b, 61);
    /* a refused connect on kqueue: both filters report EV_EOF with the socket error */
    script(&a.io, SPATE_EV_READ | SPATE_EV_ERROR, ECONNREFUSED);
    script(&b.io, SPATE_EV_READ, 0);
    script(&a.io, SPATE_EV_WRITE | SPATE_EV_ERROR, ECONNREFUSED);
    spate_loop_once(&L, 0);
    ok(a.calls == 1 && (a.last & SPATE_EV_ERROR), "EOF with an error: one callback with ERROR");
    is_int(a.err, ECONNREFUSED, "  io->err is the errno the backend reported");
    is_int(b.err, 0, "  a handle without error sees io->err 0");
    /* the FIN alone (EOF, no error) on READ, a reset on WRITE: the errno is kept */
    script(&a.io, SPATE_EV_READ | SPATE_EV_ERROR, 0);
    script(&a.io, SPATE_EV_WRITE | SPATE_EV_ERROR, ECONNRESET);
    spate_loop_once(&L, 0);
    is_int(a.err, ECONNRESET, "an errno on either of the handle's events reaches it");
    script(&a.io, SPATE_EV_READ, 0);
    spate_loop_once(&L, 0);
    is_int(a.err, 0, "  and the next callback without an error sees 0 again");
    spate_loop_fini(&L);
}

/* Callbacks see l->now read after the wait returned, not before it began. */
static void test_now(void)
{
    struct h a;
    if (!start()) return;
    reg(&a, 70);
    script(&a.io, SPATE_EV_READ, 0);
    script_sleep = 100 * SPATE_NS_PER_MS;
    uint64_t t0 = spate_clock_now();
    spate_loop_once(&L, 0);
    ok(a.calls == 1 && a.now >= t0 + 100 * SPATE_NS_PER_MS,
       "a callback after a 100 ms wait sees l->now %lld ms after the wait began",
       (long long)((int64_t)(a.now - t0) / (int64_t)SPATE_NS_PER_MS));
    spate_loop_fini(&L);
}

int main(void)
{
    test_split();
    test_full_batch();
    test_stale();
    test_error();
    test_now();
    return done();
}
