/* Unit tests for engine/poll_kqueue.c.h on any system: loop.c is built with the kqueue backend
 * against tests/kq/sys/event.h, and this file plays the kernel (kqueue() and kevent() below keep
 * a registration table and return the events a test queues). What it checks is spate's side:
 * the changes it asks for, how it reads errors and EOFs, the timeouts it passes, the dispatch of
 * kqueue's split events. What a real kernel does is not checked here (README). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define FAKE_KQ 900 /* the descriptor kqueue() returns: never a real one */

static int kq_closes;
static size_t calloc_fail_size; /* a calloc of elements this size fails */

static int test_close(int fd)
{
    if (fd != FAKE_KQ) return close(fd);
    kq_closes++;
    return 0;
}

static void *test_calloc(size_t n, size_t size)
{
    if (size == calloc_fail_size) return NULL;
    return calloc(n, size);
}

/* white-box: the loop and its backend, with close and calloc observable */
#define close test_close
#define calloc test_calloc
#define SPATE_LOOP_BACKEND "poll_kqueue.c.h"
#include "../engine/loop.c"
#undef close
#undef calloc
#include "tap.h"
#include <string.h>

/* ---- the fake kernel ---- */

struct reg {
    int used;
    uintptr_t fd;
    short filter;
    unsigned short flags;
    void *udata;
};
static struct reg regs[16];
static struct kevent queued[64]; /* what the next wait returns */
static int nqueued;
static int change_calls, nchanges; /* kevent calls that carried changes; changes seen */
static int call_fails = -1;        /* >= 0: the next change call fails with this errno */
static short add_fails_filter;     /* an EV_ADD on this filter fails with add_fails_errno */
static int add_fails_errno;
static int wait_fails = -1; /* >= 0: the next wait fails with this errno */
static int waits, wait_ts_null;
static struct timespec wait_ts;

int kqueue(void)
{
    return FAKE_KQ;
}

static struct reg *find(uintptr_t fd, short filter)
{
    for (int i = 0; i < 16; i++)
        if (regs[i].used && regs[i].fd == fd && regs[i].filter == filter) return &regs[i];
    return NULL;
}

static int nregs(void)
{
    int n = 0;
    for (int i = 0; i < 16; i++)
        n += regs[i].used;
    return n;
}

/* One change as a kernel makes it: 0 or the errno. */
static int make(const struct kevent *c)
{
    struct reg *r = find(c->ident, c->filter);
    if (c->flags & EV_DELETE) {
        if (!r) return ENOENT;
        r->used = 0;
        return 0;
    }
    if (!(c->flags & EV_ADD)) return EINVAL;
    if (c->filter == add_fails_filter) return add_fails_errno;
    for (int i = 0; !r && i < 16; i++)
        if (!regs[i].used) r = &regs[i];
    if (!r) return ENOMEM;
    *r = (struct reg){1, c->ident, c->filter, c->flags, c->udata};
    return 0;
}

/* Changes as FreeBSD applies them: with EV_RECEIPT each is answered, and the call returns
 * without looking for events; without it a failure ends the call with -1 when there is no
 * room to report it. */
static int apply_changes(const struct kevent *ch, int nch, struct kevent *ev, int nev)
{
    change_calls++;
    if (call_fails >= 0) {
        errno = call_fails;
        call_fails = -1;
        return -1;
    }
    int out = 0;
    for (int i = 0; i < nch; i++) {
        nchanges++;
        int err = make(&ch[i]);
        if (!err && !(ch[i].flags & EV_RECEIPT)) continue;
        if (out == nev) {
            errno = err;
            return -1;
        }
        ev[out] = ch[i];
        ev[out].flags = EV_ERROR;
        ev[out].data = err;
        out++;
    }
    return out;
}

int kevent(int kq, const struct kevent *ch, int nch, struct kevent *ev, int nev,
           const struct timespec *ts)
{
    if (kq != FAKE_KQ) {
        errno = EBADF;
        return -1;
    }
    if (nch > 0) return apply_changes(ch, nch, ev, nev);
    waits++;
    wait_ts_null = ts == NULL;
    if (ts) wait_ts = *ts;
    if (wait_fails >= 0) {
        errno = wait_fails;
        wait_fails = -1;
        return -1;
    }
    int n = nqueued < nev ? nqueued : nev;
    memcpy(ev, queued, (size_t)n * sizeof(*ev));
    nqueued = 0;
    return n;
}

/* Queues an event for a registered filter, with the udata the registration gave. */
static void fire(int fd, short filter, unsigned short flags, unsigned fflags, int64_t data)
{
    struct reg *r = find((uintptr_t)fd, filter);
    if (!r || nqueued == 64) {
        diag("fire: fd %d filter %d is not registered", fd, filter);
        return;
    }
    EV_SET(&queued[nqueued], (uintptr_t)fd, filter, flags, fflags, data, r->udata);
    nqueued++;
}

/* ---- the tests ---- */

struct h {
    struct spate_io io;
    int calls;
    unsigned last;
    int err, fd_seen;
    void (*then)(struct h *self);
};

static struct spate_loop L;

static void on_io(struct spate_io *io, unsigned ev)
{
    struct h *x = (struct h *)((char *)io - offsetof(struct h, io));
    x->calls++;
    x->last = ev;
    x->err = io->err;
    x->fd_seen = io->fd;
    if (x->then) x->then(x);
}

static void reset_kernel(void)
{
    memset(regs, 0, sizeof regs);
    nqueued = change_calls = nchanges = 0;
    call_fails = wait_fails = -1;
    add_fails_filter = 0;
}

static int start(void)
{
    reset_kernel();
    return spate_loop_init(&L) == 0;
}

static int reg_io(struct h *x, int fd, unsigned mask)
{
    memset(x, 0, sizeof(*x));
    x->io.fd = -1;
    x->io.cb = on_io;
    return spate_loop_add(&L, &x->io, fd, mask);
}

static void test_init_failure(void)
{
    struct spate_loop l;
    kq_closes = 0;
    calloc_fail_size = sizeof(struct kevent); /* the backend's array, after kqueue() */
    is_int(spate_loop_init(&l), -ENOMEM, "kevent array allocation fails: init says -ENOMEM");
    calloc_fail_size = 0;
    is_int(l.bfd, -1, "  the loop holds no kqueue descriptor");
    spate_loop_fini(&l); /* what spate_engine_destroy does after a failed init */
    is_int(kq_closes, 1, "  and the kqueue is closed once, not again by fini");
}

static void test_changes(void)
{
    struct h a;
    if (!ok(start(), "loop init against the fake kqueue")) return;
    int calls0 = change_calls;
    is_int(reg_io(&a, 5, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE), 0, "add READ|WRITE|EDGE");
    is_int(change_calls - calls0, 1, "  both filters in one kevent call");
    struct reg *r = find(5, EVFILT_READ), *w = find(5, EVFILT_WRITE);
    ok(r && w && r->udata == &a.io && w->udata == &a.io, "  both registered with the handle");
    ok(r && w && (r->flags & EV_CLEAR) && (w->flags & EV_CLEAR), "  edge-triggered (EV_CLEAR)");
    is_int(spate_loop_mod(&L, &a.io, SPATE_EV_READ | SPATE_EV_EDGE), 0, "mod to READ only");
    ok(find(5, EVFILT_READ) && !find(5, EVFILT_WRITE), "  the WRITE filter is gone");
    is_int(spate_loop_mod(&L, &a.io, SPATE_EV_READ), 0, "mod from edge to level");
    r = find(5, EVFILT_READ);
    ok(r && !(r->flags & EV_CLEAR) && !find(5, EVFILT_WRITE), "  READ re-added without EV_CLEAR");
    spate_loop_del(&L, &a.io);
    is_int(nregs(), 0, "del removes every filter");
    /* the fd was closed before del (its filters went with it): the ENOENT is no failure */
    is_int(reg_io(&a, 6, SPATE_EV_READ), 0, "add READ on fd 6");
    memset(regs, 0, sizeof regs);
    spate_loop_del(&L, &a.io);
    ok(a.io.fd == -1, "del after the kernel dropped the filters: harmless");

    /* a failure that left errno 0 is still a failure */
    call_fails = 0;
    int rc = reg_io(&a, 7, SPATE_EV_READ);
    ok(rc < 0, "kevent fails with errno 0: add fails (%d)", rc);
    is_int(a.io.fd, -1, "  and the handle is not registered");
    /* one filter added, the other refused: the half registration is undone */
    add_fails_filter = EVFILT_WRITE;
    add_fails_errno = EINVAL;
    is_int(reg_io(&a, 8, SPATE_EV_READ | SPATE_EV_WRITE), -EINVAL,
           "WRITE refused in the receipt: add fails with its errno");
    is_int(nregs(), 0, "  and the READ filter added with it is removed again");
    add_fails_filter = 0;
    spate_loop_fini(&L);
}

static int new_fd;
static void failover(struct h *x)
{
    spate_loop_del(&L, &x->io);
    spate_loop_add(&L, &x->io, new_fd, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE);
}

static void test_events(void)
{
    struct h a, b;
    if (!start()) return;
    unsigned rw = SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_EDGE;
    reg_io(&a, 10, rw);
    reg_io(&b, 11, rw);
    /* a refused connect: both filters report EV_EOF, the socket error in fflags */
    fire(10, EVFILT_READ, EV_EOF, ECONNREFUSED, 0);
    fire(11, EVFILT_WRITE, 0, 0, 4096);
    fire(10, EVFILT_WRITE, EV_EOF, ECONNREFUSED, 0);
    is_int(spate_loop_once(&L, 0), 2, "3 kevents for 2 handles: 2 callbacks");
    is_int(a.calls, 1, "  READ and WRITE of the refused socket: one callback");
    is_int((long long)a.last, SPATE_EV_READ | SPATE_EV_WRITE | SPATE_EV_ERROR,
           "  with READ|WRITE|ERROR");
    is_int(a.err, ECONNREFUSED, "  io->err is the socket error from EV_EOF's fflags");
    ok(b.calls == 1 && b.last == SPATE_EV_WRITE && b.err == 0, "  the other: WRITE, no error");
    is_int(L.last_events, 2, "  the nap counts 2 handles");
    /* the peer's FIN alone: EOF without error */
    fire(11, EVFILT_READ, EV_EOF, 0, 0);
    spate_loop_once(&L, 0);
    ok(b.last == (SPATE_EV_READ | SPATE_EV_ERROR) && b.err == 0,
       "EOF without error: READ|ERROR, err 0");
    /* EV_ERROR in a returned event: data is the errno */
    fire(11, EVFILT_READ, EV_ERROR, 0, EBADF);
    spate_loop_once(&L, 0);
    ok((b.last & SPATE_EV_ERROR) && b.err == EBADF, "EV_ERROR: ERROR with data's errno (%d)",
       b.err);

    /* failover on the READ event: the old socket's WRITE|EOF must not reach the new socket */
    reg_io(&a, 20, rw);
    a.then = failover;
    new_fd = 21;
    fire(20, EVFILT_READ, EV_EOF, ECONNREFUSED, 0);
    fire(20, EVFILT_WRITE, EV_EOF, ECONNREFUSED, 0);
    spate_loop_once(&L, 0);
    ok(a.calls == 1 && a.fd_seen == 20, "failover: one callback, for the old fd (%d calls)",
       a.calls);
    ok(find(21, EVFILT_READ) && find(21, EVFILT_WRITE), "  the new fd is watched");
    spate_loop_fini(&L);
}

static void test_wait(void)
{
    if (!start()) return;
    spate_loop_once(&L, (uint64_t)1500 * SPATE_NS_PER_MS);
    ok(!wait_ts_null && wait_ts.tv_sec == 1 && wait_ts.tv_nsec == 500000000L,
       "1.5 s wait: timespec 1 s + 500,000,000 ns");
    spate_loop_once(&L, (uint64_t)30 * 86400 * SPATE_NS_PER_SEC);
    ok(!wait_ts_null && wait_ts.tv_sec > 0 && wait_ts.tv_sec <= INT_MAX / 1000,
       "30-day wait: clamped to %lld s, which fits int milliseconds", (long long)wait_ts.tv_sec);
    spate_loop_once(&L, UINT64_MAX);
    ok(wait_ts_null, "no timer and no limit: waits without a timeout");
    wait_fails = EINTR;
    is_int(spate_loop_once(&L, 0), 0, "a wait interrupted by a signal: 0 events, no error");
    wait_fails = 0;
    ok(spate_loop_once(&L, 0) < 0, "a wait failing with errno 0 is still an error");
    wait_fails = EBADF;
    is_int(spate_loop_once(&L, 0), -EBADF, "a failing wait returns -errno");
    kq_closes = 0;
    spate_loop_fini(&L);
    is_int(kq_closes, 1, "fini closes the kqueue once");
}

int main(void)
{
    test_init_failure();
    test_changes();
    test_events();
    test_wait();
    return done();
}
