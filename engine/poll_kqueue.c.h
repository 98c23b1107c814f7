/* kqueue backend, included by loop.c on the BSDs and macOS. Not exercised by Linux CI. */
#include <sys/event.h>
#include <time.h>

static int backend_init(struct spate_loop *l)
{
    l->bfd = kqueue();
    if (l->bfd < 0) return -errno;
    l->events = calloc((size_t)l->nevents, sizeof(struct kevent));
    if (!l->events) {
        close(l->bfd);
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

static int change(struct spate_loop *l, struct spate_io *io, int filter, int on)
{
    struct kevent kev;
    unsigned short flags = on ? EV_ADD | EV_ENABLE : EV_DELETE;
    if (on && (io->mask & SPATE_EV_EDGE)) flags |= EV_CLEAR;
    EV_SET(&kev, io->fd, filter, flags, 0, 0, io);
    if (kevent(l->bfd, &kev, 1, NULL, 0, NULL) < 0 && !(errno == ENOENT && !on)) return -errno;
    return 0;
}

static int backend_mod(struct spate_loop *l, struct spate_io *io, unsigned old)
{
    int rc = 0;
    if ((io->mask ^ old) & (SPATE_EV_READ | SPATE_EV_EDGE))
        rc = change(l, io, EVFILT_READ, io->mask & SPATE_EV_READ);
    if (!rc && ((io->mask ^ old) & (SPATE_EV_WRITE | SPATE_EV_EDGE)))
        rc = change(l, io, EVFILT_WRITE, io->mask & SPATE_EV_WRITE);
    return rc;
}

static int backend_add(struct spate_loop *l, struct spate_io *io)
{
    return backend_mod(l, io, 0);
}

static void backend_del(struct spate_loop *l, struct spate_io *io)
{
    unsigned old = io->mask;
    io->mask = 0;
    backend_mod(l, io, old);
}

static int backend_wait(struct spate_loop *l, uint64_t timeout_ns)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(timeout_ns / SPATE_NS_PER_SEC);
        ts.tv_nsec = (long)(timeout_ns % SPATE_NS_PER_SEC);
        tp = &ts;
    }
    struct kevent *evs = l->events;
    int n = kevent(l->bfd, NULL, 0, evs, l->nevents, tp);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        struct spate_io *io = evs[i].udata;
        unsigned m = evs[i].filter == EVFILT_WRITE ? SPATE_EV_WRITE : SPATE_EV_READ;
        if (evs[i].flags & (EV_EOF | EV_ERROR)) m |= SPATE_EV_ERROR;
        if (io->fd >= 0) io->cb(io, m);
    }
    return n;
}
