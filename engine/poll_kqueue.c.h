/* kqueue backend, included by loop.c on the BSDs and macOS. kqueue reports READ and WRITE as
 * separate events (loop.c merges them per handle). On Linux, make test builds it against a
 * declaration header and a scripted kevent() (tests/test_kqueue.c); no BSD kernel runs it there. */
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <stdint.h>
#include <time.h>

/* Longest single wait. Some kqueues (libkqueue, macOS) turn the timeout into int milliseconds,
 * which overflows past 24.8 days; waking early is harmless, the loop just waits again. */
#define KQ_MAX_WAIT_SEC 1000000 /* 11.6 days, as the epoll backend */

static int backend_init(struct spate_loop *l)
{
    l->bfd = kqueue();
    if (l->bfd < 0) return -errno;
    l->events = calloc((size_t)l->nevents, sizeof(struct kevent));
    if (!l->events) {
        close(l->bfd);
        l->bfd = -1; /* spate_loop_fini must not close it again */
        return -ENOMEM;
    }
    return 0;
}

static void backend_fini(struct spate_loop *l)
{
    if (l->bfd >= 0) close(l->bfd);
    l->bfd = -1;
    free(l->events);
    l->events = NULL;
}

/* errno of a failed kevent(); a failure that left errno 0 is still a failure. */
static int kq_errno(void)
{
    return errno ? errno : EIO;
}

/* Whether err, met by a change, is no failure: deleting a filter that is already gone. */
static int harmless(const struct kevent *ch, int err)
{
    return (ch->flags & EV_DELETE) && (err == ENOENT || err == EBADF);
}

#ifdef EV_RECEIPT
/* Applies n (<= 2) changes in one call. EV_RECEIPT makes the kernel answer every change with an
 * EV_ERROR entry whose data is 0 or the change's errno, instead of stopping at the first failure
 * and leaving the later changes unmade; and with every change answered, the call returns no
 * readiness event (which a wait would then miss). */
static int apply(struct spate_loop *l, struct kevent *ch, int n)
{
    struct kevent res[2];
    struct timespec zero = {0, 0};
    for (int i = 0; i < n; i++)
        ch[i].flags |= EV_RECEIPT;
    int got = kevent(l->bfd, ch, n, res, n, &zero);
    if (got < 0) return -kq_errno();
    int rc = got < n ? -EIO : 0; /* a change left unanswered is not known to be made */
    for (int i = 0; i < got; i++) {
        int err = (res[i].flags & EV_ERROR) ? (int)res[i].data : 0;
        const struct kevent *c = res[i].filter == ch[0].filter ? &ch[0] : &ch[n - 1];
        if (err && !harmless(c, err) && !rc) rc = -err;
    }
    return rc;
}
#else
/* No EV_RECEIPT (NetBSD before 10): one change per call, so none is skipped unseen. */
static int apply(struct spate_loop *l, struct kevent *ch, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (kevent(l->bfd, &ch[i], 1, NULL, 0, NULL) == 0) continue;
        int err = kq_errno();
        if (!harmless(&ch[i], err) && !rc) rc = -err;
    }
    return rc;
}
#endif

/* Appends to ch the change that makes filter match the wanted interest; returns how many. */
static int filter_change(struct kevent *ch, struct spate_io *io, unsigned old, unsigned bit,
                         int filter)
{
    unsigned want = io->mask & bit, had = old & bit;
    int edge_changed = (io->mask ^ old) & SPATE_EV_EDGE;
    if (want == had && !(want && edge_changed)) return 0;
    unsigned short flags = EV_DELETE;
    if (want) flags = EV_ADD | EV_ENABLE | ((io->mask & SPATE_EV_EDGE) ? EV_CLEAR : 0);
    EV_SET(ch, (uintptr_t)io->fd, filter, flags, 0, 0, (void *)io);
    return 1;
}

static int backend_mod(struct spate_loop *l, struct spate_io *io, unsigned old)
{
    struct kevent ch[2];
    int n = filter_change(ch, io, old, SPATE_EV_READ, EVFILT_READ);
    n += filter_change(ch + n, io, old, SPATE_EV_WRITE, EVFILT_WRITE);
    return n ? apply(l, ch, n) : 0;
}

static void backend_del(struct spate_loop *l, struct spate_io *io)
{
    unsigned old = io->mask;
    io->mask = 0;
    (void)backend_mod(l, io, old); /* the fd may be closed already: its filters went with it */
}

static int backend_add(struct spate_loop *l, struct spate_io *io)
{
    int rc = backend_mod(l, io, 0);
    /* one filter may have been added before the other failed: it must not outlive the handle's
     * registration and report for it later */
    if (rc < 0) backend_del(l, io);
    return rc;
}

/* Reports one kernel event. EV_EOF (the peer's FIN, or a socket error such as a refused
 * connect) carries the socket's pending error in fflags; EV_ERROR carries an errno in data. */
static int report(struct spate_loop *l, int m, const struct kevent *k)
{
    unsigned f = k->filter == EVFILT_WRITE ? SPATE_EV_WRITE : SPATE_EV_READ;
    int err = 0;
    if (k->flags & EV_ERROR) {
        f |= SPATE_EV_ERROR;
        err = (int)k->data;
    } else if (k->flags & EV_EOF) {
        f |= SPATE_EV_ERROR;
        err = (int)k->fflags;
    }
    return note_event(l, m, (struct spate_io *)(uintptr_t)k->udata, f, err);
}

static int backend_wait(struct spate_loop *l, uint64_t timeout_ns)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ns != UINT64_MAX) {
        uint64_t sec = timeout_ns / SPATE_NS_PER_SEC;
        ts.tv_sec = (time_t)(sec < KQ_MAX_WAIT_SEC ? sec : KQ_MAX_WAIT_SEC);
        ts.tv_nsec = sec < KQ_MAX_WAIT_SEC ? (long)(timeout_ns % SPATE_NS_PER_SEC) : 0;
        tp = &ts;
    }
    struct kevent *evs = l->events;
    int n = kevent(l->bfd, NULL, 0, evs, l->nevents, tp);
    if (n < 0) return errno == EINTR ? 0 : -kq_errno();
    int m = 0;
    for (int i = 0; i < n; i++)
        m = report(l, m, &evs[i]);
    return m; /* handles: READ and WRITE of one socket are one entry */
}
