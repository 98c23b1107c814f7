/* epoll backend, included by loop.c on Linux. */
#include <sys/epoll.h>
#include <time.h>

static uint32_t to_epoll(unsigned mask)
{
    uint32_t e = 0;
    if (mask & SPATE_EV_READ) e |= EPOLLIN | EPOLLRDHUP;
    if (mask & SPATE_EV_WRITE) e |= EPOLLOUT;
    if (mask & SPATE_EV_EDGE) e |= EPOLLET;
    return e;
}

static int backend_init(struct spate_loop *l)
{
    l->bfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->bfd < 0) return -errno;
    l->events = calloc((size_t)l->nevents, sizeof(struct epoll_event));
    if (!l->events) {
        close(l->bfd);
        l->bfd = -1;
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

static int ctl(struct spate_loop *l, int op, struct spate_io *io)
{
    struct epoll_event ev = {.events = to_epoll(io->mask), .data.ptr = io};
    if (epoll_ctl(l->bfd, op, io->fd, &ev) == 0) return 0;
    /* c-ares may close and reopen the same fd number between our calls */
    if (errno == EEXIST && op == EPOLL_CTL_ADD)
        return epoll_ctl(l->bfd, EPOLL_CTL_MOD, io->fd, &ev) == 0 ? 0 : -errno;
    if (errno == ENOENT && op == EPOLL_CTL_MOD)
        return epoll_ctl(l->bfd, EPOLL_CTL_ADD, io->fd, &ev) == 0 ? 0 : -errno;
    return -errno;
}

static int backend_add(struct spate_loop *l, struct spate_io *io)
{
    return ctl(l, EPOLL_CTL_ADD, io);
}

static int backend_mod(struct spate_loop *l, struct spate_io *io, unsigned old)
{
    (void)old;
    return ctl(l, EPOLL_CTL_MOD, io);
}

static void backend_del(struct spate_loop *l, struct spate_io *io)
{
    struct epoll_event ev = {0};
    epoll_ctl(l->bfd, EPOLL_CTL_DEL, io->fd, &ev); /* ENOENT/EBADF: already gone, fine */
}

static int wait_events(struct spate_loop *l, uint64_t timeout_ns)
{
    struct epoll_event *evs = l->events;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 35)
    /* process-wide: learnt once by whichever engine (thread) meets an old kernel; a relaxed
     * atomic so engines in several threads may race on it harmlessly */
    static int no_pwait2;
    if (!__atomic_load_n(&no_pwait2, __ATOMIC_RELAXED) && timeout_ns != UINT64_MAX && timeout_ns % SPATE_NS_PER_MS) {
        /* sub-millisecond deadlines (bench -R) need the nanosecond wait */
        struct timespec ts = {.tv_sec = (time_t)(timeout_ns / SPATE_NS_PER_SEC),
                              .tv_nsec = (long)(timeout_ns % SPATE_NS_PER_SEC)};
        int n = epoll_pwait2(l->bfd, evs, l->nevents, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        __atomic_store_n(&no_pwait2, 1, __ATOMIC_RELAXED);
    }
#endif
    int ms;
    if (timeout_ns == UINT64_MAX)
        ms = -1;
    else if (timeout_ns / SPATE_NS_PER_MS >= 1000000)
        ms = 1000000000;
    else
        ms = (int)((timeout_ns + SPATE_NS_PER_MS - 1) / SPATE_NS_PER_MS);
    return epoll_wait(l->bfd, evs, l->nevents, ms);
}

/* Reports the ready handles into l->ready; loop.c dispatches them. */
static int backend_wait(struct spate_loop *l, uint64_t timeout_ns)
{
    int n = wait_events(l, timeout_ns);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    struct epoll_event *evs = l->events;
    int m = 0;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        unsigned f = 0;
        if (e & (EPOLLIN | EPOLLRDHUP)) f |= SPATE_EV_READ;
        if (e & EPOLLOUT) f |= SPATE_EV_WRITE;
        /* the peer's FIN may ride on the last data: the handler must read on to the EOF */
        if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) f |= SPATE_EV_ERROR;
        /* epoll does not say which error: the handler's I/O learns it */
        m = note_event(l, m, evs[i].data.ptr, f, 0);
    }
    return m;
}
