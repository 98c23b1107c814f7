/* A scripted loop backend for tests/test_dispatch.c (included by engine/loop.c there): each wait
 * reports the events the test queued with script(), in the order given, to loop.c as a kqueue
 * or epoll wait would; registrations are only counted. Never blocks. */
#include <time.h>

static struct spate_event script_q[SPATE_LOOP_BATCH];
static int script_n;          /* events queued for the next wait */
static uint64_t script_sleep; /* the next wait lasts this long (ns) before it returns */
static int script_adds, script_dels;

/* Queues one event for the next wait; err is the errno behind SPATE_EV_ERROR, or 0. */
static void script(struct spate_io *io, unsigned events, int err)
{
    if (script_n < SPATE_LOOP_BATCH)
        script_q[script_n++] = (struct spate_event){.io = io, .events = events, .err = err};
}

static int backend_init(struct spate_loop *l)
{
    l->bfd = -1;
    l->events = NULL;
    script_n = 0;
    return 0;
}

static void backend_fini(struct spate_loop *l)
{
    (void)l;
}

static int backend_add(struct spate_loop *l, struct spate_io *io)
{
    (void)l;
    (void)io;
    script_adds++;
    return 0;
}

static int backend_mod(struct spate_loop *l, struct spate_io *io, unsigned old)
{
    (void)l;
    (void)io;
    (void)old;
    return 0;
}

static void backend_del(struct spate_loop *l, struct spate_io *io)
{
    (void)l;
    (void)io;
    script_dels++;
}

static int backend_wait(struct spate_loop *l, uint64_t timeout_ns)
{
    (void)timeout_ns;
    if (script_sleep) {
        struct timespec ts = {.tv_sec = (time_t)(script_sleep / SPATE_NS_PER_SEC),
                              .tv_nsec = (long)(script_sleep % SPATE_NS_PER_SEC)};
        nanosleep(&ts, NULL);
        script_sleep = 0;
    }
    int m = 0;
    for (int i = 0; i < script_n; i++)
        m = note_event(l, m, script_q[i].io, script_q[i].events, script_q[i].err);
    script_n = 0;
    return m;
}
