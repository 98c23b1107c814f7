/* Unit tests for engine/loop.c with the epoll/kqueue backend: readiness over a socketpair
 * (level and edge triggered), unregistering, timers through spate_loop_once, deferred work,
 * sub-millisecond timers, l->now as callbacks see it, and naps. */
#include "clock.h"
#include "loop.h"
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct watch {
    struct spate_io io;
    int calls;
    unsigned last;
    int seq; /* global order of the last call */
};

static int order_counter;

static struct watch *of_io(struct spate_io *io)
{
    return (struct watch *)((char *)io - offsetof(struct watch, io));
}

static void on_io(struct spate_io *io, unsigned ev)
{
    struct watch *w = of_io(io);
    w->calls++;
    w->last = ev;
    w->seq = ++order_counter;
}

static void put(int fd, const char *s)
{
    ssize_t n = write(fd, s, strlen(s));
    if (n != (ssize_t)strlen(s)) diag("write failed: %s", strerror(errno));
}

static size_t drain(int fd)
{
    char b[256];
    size_t total = 0;
    ssize_t n;
    while ((n = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0)
        total += (size_t)n;
    return total;
}

static void test_level(void)
{
    struct spate_loop l;
    int sv[2];
    if (!ok(spate_loop_init(&l) == 0, "loop init")) return;
    if (!ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair")) return;
    struct watch w = {.io = {.fd = -1, .cb = on_io}};
    is_int(spate_loop_add(&l, &w.io, sv[0], SPATE_EV_READ), 0, "add fd for READ");
    ok(w.io.fd == sv[0] && w.io.mask == SPATE_EV_READ, "add records fd and mask");
    is_int(spate_loop_once(&l, 0), 0, "nothing readable: a zero-timeout poll handles nothing");
    is_int(w.calls, 0, "  no callback");
    put(sv[1], "hello");
    is_int(spate_loop_once(&l, 1000 * SPATE_NS_PER_MS), 1, "data written: one event");
    ok(w.calls == 1 && (w.last & SPATE_EV_READ) && !(w.last & SPATE_EV_WRITE),
       "  callback saw READ only (events 0x%x)", w.last);
    is_int(spate_loop_once(&l, 0), 1, "level-triggered: unread data reports again");
    is_int(w.calls, 2, "  second callback");
    is_int((long long)drain(sv[0]), 5, "read the 5 bytes");
    is_int(spate_loop_once(&l, 0), 0, "drained: no more events");
    /* interest change to WRITE: a socketpair is writable at once */
    is_int(spate_loop_mod(&l, &w.io, SPATE_EV_READ | SPATE_EV_WRITE), 0, "mod to READ|WRITE");
    is_int(spate_loop_once(&l, 0), 1, "writable at once");
    ok((w.last & SPATE_EV_WRITE) && !(w.last & SPATE_EV_READ), "  callback saw WRITE (0x%x)",
       w.last);
    is_int(spate_loop_mod(&l, &w.io, SPATE_EV_READ), 0, "mod back to READ");
    is_int(spate_loop_once(&l, 0), 0, "  no WRITE event any more");
    /* peer hang-up is reported to a READ watcher */
    close(sv[1]);
    w.calls = 0;
    is_int(spate_loop_once(&l, 1000 * SPATE_NS_PER_MS), 1, "peer closed: one event");
    ok(w.calls == 1 && (w.last & (SPATE_EV_READ | SPATE_EV_ERROR)),
       "  hang-up reported as READ/ERROR (0x%x)", w.last);
    /* del, then close: nothing more is delivered */
    spate_loop_del(&l, &w.io);
    ok(w.io.fd == -1 && w.io.mask == 0, "del resets fd and mask");
    spate_loop_del(&l, &w.io); /* twice: harmless */
    close(sv[0]);
    w.calls = 0;
    is_int(spate_loop_once(&l, 0), 0, "after del and close: no events");
    is_int(w.calls, 0, "  no callback");
    is_int(spate_loop_mod(&l, &w.io, SPATE_EV_WRITE), 0, "mod of an unregistered io is a no-op");
    spate_loop_fini(&l);
}

static void test_edge(void)
{
    struct spate_loop l;
    int sv[2];
    if (spate_loop_init(&l) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        ok(0, "edge setup");
        return;
    }
    struct watch w = {.io = {.fd = -1, .cb = on_io}};
    is_int(spate_loop_add(&l, &w.io, sv[0], SPATE_EV_READ | SPATE_EV_EDGE), 0, "add READ|EDGE");
    put(sv[1], "a");
    is_int(spate_loop_once(&l, 1000 * SPATE_NS_PER_MS), 1, "edge: first data, one event");
    is_int(spate_loop_once(&l, 0), 0, "edge: unread data does not report again");
    is_int(spate_loop_once(&l, 0), 0, "edge: still quiet");
    put(sv[1], "b");
    is_int(spate_loop_once(&l, 1000 * SPATE_NS_PER_MS), 1, "edge: new data, one more event");
    is_int(w.calls, 2, "edge: two callbacks for two arrivals");
    is_int((long long)drain(sv[0]), 2, "both bytes are there");
    is_int(spate_loop_once(&l, 0), 0, "edge: drained, quiet");
    /* a second handle on the other end: two ready handles in one batch */
    struct watch w2 = {.io = {.fd = -1, .cb = on_io}};
    is_int(spate_loop_add(&l, &w2.io, sv[1], SPATE_EV_READ | SPATE_EV_EDGE), 0, "add peer");
    put(sv[1], "x");
    put(sv[0], "y");
    int n = spate_loop_once(&l, 1000 * SPATE_NS_PER_MS);
    if (n == 1) n += spate_loop_once(&l, 1000 * SPATE_NS_PER_MS);
    ok(n == 2 && w.calls == 3 && w2.calls == 1, "both ends report their data once");
    spate_loop_del(&l, &w.io);
    spate_loop_del(&l, &w2.io);
    close(sv[0]);
    close(sv[1]);
    spate_loop_fini(&l);
}

/* ---- timers and deferred work ---- */

struct tick {
    struct spate_timer t;
    int id;
    uint64_t deadline;
    uint64_t fired_at;
};

static int fired_ids[16];
static int nfired;
static int early; /* a timer ran before its deadline */

static void on_tick(struct spate_timer *t)
{
    struct tick *k = (struct tick *)((char *)t - offsetof(struct tick, t));
    k->fired_at = spate_clock_now();
    if (k->fired_at < k->deadline) early++;
    if (nfired < 16) fired_ids[nfired] = k->id;
    nfired++;
}

/* Runs the loop until n timers fired or 2 s passed. */
static void run_until(struct spate_loop *l, int n)
{
    uint64_t end = spate_clock_now() + 2 * SPATE_NS_PER_SEC;
    while (nfired < n && spate_clock_now() < end)
        spate_loop_once(l, UINT64_MAX);
}

static void test_timers(void)
{
    struct spate_loop l;
    if (spate_loop_init(&l)) {
        ok(0, "timer loop init");
        return;
    }
    ok(spate_loop_next_timeout(&l) == UINT64_MAX, "no timer: next timeout is 'forever'");
    struct tick k[3];
    uint64_t now = spate_clock_now();
    static const uint64_t off_ms[3] = {30, 10, 20};
    for (int i = 0; i < 3; i++) {
        spate_timer_init(&k[i].t, on_tick);
        k[i].id = i;
        k[i].deadline = now + off_ms[i] * SPATE_NS_PER_MS;
        spate_loop_timer(&l, &k[i].t, k[i].deadline);
    }
    /* nt is the earliest deadline less the clock at the call, which lies between now and after:
     * bounded on both sides by clock reads, not by an assumption that the call comes within 10 ms
     * (a test preempted that long on a loaded machine would get 0) */
    uint64_t nt = spate_loop_next_timeout(&l);
    uint64_t after = spate_clock_now(), due = k[1].deadline;
    ok(nt <= 10 * SPATE_NS_PER_MS && nt >= (due > after ? due - after : 0),
       "next timeout is the earliest (<= 10 ms): %llu ns", (unsigned long long)nt);
    nfired = early = 0;
    run_until(&l, 3);
    ok(nfired == 3 && fired_ids[0] == 1 && fired_ids[1] == 2 && fired_ids[2] == 0,
       "three timers fire through spate_loop_once in deadline order");
    is_int(early, 0, "no timer fired before its deadline");
    ok(k[0].fired_at - k[0].deadline < 500 * SPATE_NS_PER_MS, "and not absurdly late");
    /* an untimed timer never fires */
    spate_loop_timer(&l, &k[0].t, spate_clock_now() + SPATE_NS_PER_MS);
    spate_loop_untimer(&l, &k[0].t);
    nfired = 0;
    spate_loop_once(&l, 5 * SPATE_NS_PER_MS);
    is_int(nfired, 0, "a stopped timer does not fire");
    /* already due: 0 until next, and a poll fires it */
    spate_loop_timer(&l, &k[1].t, 1);
    k[1].deadline = 1;
    is_int((long long)spate_loop_next_timeout(&l), 0, "a past deadline: next timeout 0");
    is_int(spate_loop_once(&l, UINT64_MAX), 1, "  and the next once fires it without blocking");
    spate_loop_fini(&l);
}

static void test_submillisecond(void)
{
    struct spate_loop l;
    if (spate_loop_init(&l)) {
        ok(0, "submillisecond loop init");
        return;
    }
    struct tick k[3];
    uint64_t now = spate_clock_now();
    static const uint64_t off_us[3] = {400, 200, 600};
    for (int i = 0; i < 3; i++) {
        spate_timer_init(&k[i].t, on_tick);
        k[i].id = i;
        k[i].deadline = now + off_us[i] * 1000;
        spate_loop_timer(&l, &k[i].t, k[i].deadline);
    }
    nfired = early = 0;
    int loops = 0;
    uint64_t end = now + 2 * SPATE_NS_PER_SEC;
    while (nfired < 3 && spate_clock_now() < end) {
        spate_loop_once(&l, UINT64_MAX);
        loops++;
    }
    ok(nfired == 3 && fired_ids[0] == 1 && fired_ids[1] == 0 && fired_ids[2] == 2,
       "200/400/600 us timers fire in order");
    is_int(early, 0, "none fires before its deadline");
    uint64_t late = k[1].fired_at - k[1].deadline;
    ok(late < 100 * SPATE_NS_PER_MS, "the 200 us timer fired %llu us after its deadline",
       (unsigned long long)(late / 1000));
    ok(loops < 1000, "waited instead of spinning (%d loop passes)", loops);
    spate_loop_fini(&l);
}

/* Deferred work: runs after every callback of the batch has been dispatched. */
static struct spate_loop dl;
static struct watch dw[2];
static int reap_saw_calls; /* total io callbacks at the time the deferred fn ran */
static int reaped;
static struct spate_reap rp, rp2;

static void reap_fn(struct spate_reap *r)
{
    (void)r;
    reap_saw_calls = dw[0].calls + dw[1].calls;
    reaped++;
}

static void on_io_defer(struct spate_io *io, unsigned ev)
{
    on_io(io, ev);
    /* the first callback of the batch defers work */
    if (dw[0].calls + dw[1].calls == 1) spate_loop_defer(&dl, &rp);
}

static void timer_defers(struct spate_timer *t)
{
    (void)t;
    spate_loop_defer(&dl, &rp2);
}

static void test_defer(void)
{
    int a[2], b[2];
    if (spate_loop_init(&dl) || socketpair(AF_UNIX, SOCK_STREAM, 0, a) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, b)) {
        ok(0, "defer setup");
        return;
    }
    memset(dw, 0, sizeof dw);
    dw[0].io.cb = dw[1].io.cb = on_io_defer;
    spate_loop_add(&dl, &dw[0].io, a[0], SPATE_EV_READ);
    spate_loop_add(&dl, &dw[1].io, b[0], SPATE_EV_READ);
    put(a[1], "1");
    put(b[1], "2");
    rp.fn = reap_fn;
    reaped = 0;
    int n = spate_loop_once(&dl, 1000 * SPATE_NS_PER_MS);
    if (!is_int(n, 2, "both sockets ready in one batch")) diag("once returned %d", n);
    is_int(reaped, 1, "deferred work ran once, inside the same spate_loop_once");
    is_int(reap_saw_calls, 2, "  after both callbacks of the batch");
    drain(a[0]);
    drain(b[0]);
    /* deferred from outside a batch: the next once does not block on it */
    reaped = 0;
    spate_loop_defer(&dl, &rp);
    uint64_t t0 = spate_clock_now();
    alarm(5); /* a blocking wait here would hang forever: make it fail instead */
    spate_loop_once(&dl, UINT64_MAX);
    alarm(0);
    ok(reaped == 1 && spate_clock_now() - t0 < 500 * SPATE_NS_PER_MS,
       "work deferred outside a batch runs at the next once without waiting");
    /* deferred from a timer callback runs in the same once */
    struct spate_timer t;
    spate_timer_init(&t, timer_defers);
    rp2.fn = reap_fn;
    reaped = 0;
    spate_loop_timer(&dl, &t, 1);
    spate_loop_once(&dl, 0);
    is_int(reaped, 1, "work deferred by a timer callback runs in the same once");
    /* fini runs what is still deferred */
    reaped = 0;
    spate_loop_defer(&dl, &rp);
    spate_loop_del(&dl, &dw[0].io);
    spate_loop_del(&dl, &dw[1].io);
    spate_loop_fini(&dl);
    is_int(reaped, 1, "loop_fini runs pending deferred work");
    spate_loop_fini(NULL);
    ok(1, "loop_fini(NULL) is harmless");
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* A handle deleted by an earlier callback in the same batch gets no stale event. */
static struct spate_loop sl;
static struct watch sw[2];

static void on_io_kill_other(struct spate_io *io, unsigned ev)
{
    on_io(io, ev);
    struct watch *w = of_io(io);
    spate_loop_del(&sl, &sw[w == &sw[0] ? 1 : 0].io);
}

static void test_stale(void)
{
    int a[2], b[2];
    if (spate_loop_init(&sl) || socketpair(AF_UNIX, SOCK_STREAM, 0, a) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, b)) {
        ok(0, "stale setup");
        return;
    }
    memset(sw, 0, sizeof sw);
    sw[0].io.cb = sw[1].io.cb = on_io_kill_other;
    spate_loop_add(&sl, &sw[0].io, a[0], SPATE_EV_READ);
    spate_loop_add(&sl, &sw[1].io, b[0], SPATE_EV_READ);
    put(a[1], "1");
    put(b[1], "2");
    /* both are ready before the wait, so both are in the same batch */
    spate_loop_once(&sl, 1000 * SPATE_NS_PER_MS);
    is_int(sw[0].calls + sw[1].calls, 1,
           "a handle deleted earlier in the batch gets no stale callback");
    spate_loop_del(&sl, &sw[0].io);
    spate_loop_del(&sl, &sw[1].io);
    spate_loop_fini(&sl);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* ---------- naps (interrupt coalescing) ---------- */

static struct watch nw[3];

/* A child writes one byte to each of the three pairs, gap_ms apart, after first_ms. */
static pid_t writer(int fds[3], int first_ms, int gap_ms)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    usleep((useconds_t)first_ms * 1000);
    for (int i = 0; i < 3; i++) {
        if (write(fds[i], "x", 1) != 1) _exit(1);
        usleep((useconds_t)gap_ms * 1000);
    }
    _exit(0);
}

static void reap_child(pid_t pid)
{
    int st;
    if (pid > 0) waitpid(pid, &st, 0);
}

/* One loop_once after a quick wake-up (so the loop counts as busy) while three events arrive
 * 20 ms apart; returns how many the first wait delivered. */
static int first_batch(uint64_t nap_ns, int slow_before)
{
    struct spate_loop l;
    int sv[3][2], wr[3];
    if (spate_loop_init(&l)) return -1;
    for (int i = 0; i < 3; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i])) return -1;
        nw[i] = (struct watch){.io = {.fd = -1, .cb = on_io}};
        spate_loop_add(&l, &nw[i].io, sv[i][0], SPATE_EV_READ);
        wr[i] = sv[i][1];
    }
    l.nap_ns = nap_ns;
    put(wr[0], "w"); /* a first event that is ready at once: a short wake cycle */
    if (slow_before) usleep(800 * 1000); /* ...or a long one (over NAP_RATE naps) */
    spate_loop_once(&l, 0);
    drain(sv[0][0]);
    for (int i = 0; i < 3; i++)
        nw[i].calls = 0;
    pid_t pid = writer(wr, 2, 20);
    int n = spate_loop_once(&l, 2 * SPATE_NS_PER_SEC);
    reap_child(pid);
    for (int i = 0; i < 3; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
    spate_loop_fini(&l);
    return n;
}

/* ---------- l->now in callbacks ---------- */

/* The callback of a blocking wait sees l->now read after the wait ended, not the time before
 * it began: a child writes, 200 ms after the wait starts, the monotonic time of its write. */
static struct spate_loop nl;
static uint64_t now_in_cb, written_at;

static void on_stamped(struct spate_io *io, unsigned ev)
{
    (void)ev;
    now_in_cb = nl.now;
    if (read(io->fd, &written_at, sizeof written_at) != (ssize_t)sizeof written_at) written_at = 0;
}

static void test_now(void)
{
    int p[2];
    if (spate_loop_init(&nl) || pipe(p)) {
        ok(0, "now setup");
        return;
    }
    struct spate_io io = {.fd = -1, .cb = on_stamped};
    spate_loop_add(&nl, &io, p[0], SPATE_EV_READ);
    spate_loop_once(&nl, 0); /* l->now is now from before the child exists */
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200 * 1000);
        uint64_t t = spate_clock_now();
        _exit(write(p[1], &t, sizeof t) == (ssize_t)sizeof t ? 0 : 1);
    }
    alarm(10);
    int n = spate_loop_once(&nl, 5 * SPATE_NS_PER_SEC);
    alarm(0);
    reap_child(pid);
    is_int(n, 1, "the child's write ends a blocking wait");
    ok(written_at && now_in_cb >= written_at,
       "the callback's l->now is not before the write it reports (%lld us after)",
       (long long)((int64_t)(now_in_cb - written_at) / 1000));
    spate_loop_del(&nl, &io);
    close(p[0]);
    close(p[1]);
    spate_loop_fini(&nl);
}

static int nap_timer_fired;
static void on_nap_timer(struct spate_timer *t)
{
    (void)t;
    nap_timer_fired++;
}

static void test_nap(void)
{
    alarm(30); /* a wait that never ends (a nap past its timer, say) fails the run, not hangs it */
    /* 150 ms naps: the three events (at 2, 22, 42 ms) all land inside the first one */
    is_int(first_batch(150 * SPATE_NS_PER_MS, 0), 3, "nap: one wake-up collects the 3 events");
    is_int(first_batch(0, 0), 1, "no nap: the first wait returns with the first event alone");
    /* the wake before came 800 ms after the one before it: events are slow, so no nap */
    is_int(first_batch(150 * SPATE_NS_PER_MS, 1), 1, "slow events: no nap");

    /* a timer due sooner than two naps is never delayed by one */
    struct spate_loop l;
    if (spate_loop_init(&l)) return;
    l.nap_ns = 500 * SPATE_NS_PER_MS;
    l.cycle = 0;
    struct spate_timer t;
    spate_timer_init(&t, on_nap_timer);
    uint64_t t0 = spate_clock_now();
    spate_loop_timer(&l, &t, t0 + 20 * SPATE_NS_PER_MS);
    while (!nap_timer_fired && spate_clock_now() - t0 < 5 * SPATE_NS_PER_SEC)
        spate_loop_once(&l, 2 * SPATE_NS_PER_SEC); /* bounded even if a nap ignored the timer */
    uint64_t took = spate_clock_now() - t0;
    is_int(nap_timer_fired, 1, "timer fired");
    ok(took < 400 * SPATE_NS_PER_MS, "a 20 ms timer is not held by a 500 ms nap (took %llu ms)",
       (unsigned long long)(took / SPATE_NS_PER_MS));
    spate_loop_fini(&l);
}

/* Posted work: FIFO, once per turn, cancellable, and the wait does not block on it. */
static struct spate_loop pl;
static struct spate_work pw[4];
static int pw_log[8], npw;

static void pw_fn(struct spate_work *w)
{
    int i = (int)(w - pw);
    if (npw < 8) pw_log[npw++] = i;
    if (i == 0) spate_loop_unpost(&pw[2]);    /* takes back one posted after it */
    if (i == 1) spate_loop_post(&pl, &pw[3]); /* posted while the queue runs: next turn */
}

static struct spate_io pio;
static int pw_timer_saw; /* posted items run when the timer fired */

static void pw_io(struct spate_io *io, unsigned ev)
{
    (void)ev;
    drain(io->fd);
    spate_loop_post(&pl, &pw[1]);
}

static void pw_timer(struct spate_timer *t)
{
    (void)t;
    pw_timer_saw = npw;
    spate_loop_post(&pl, &pw[0]);
}

static void test_posted(void)
{
    if (spate_loop_init(&pl)) {
        ok(0, "posted setup");
        return;
    }
    for (int i = 0; i < 4; i++)
        spate_work_init(&pw[i], pw_fn);
    npw = 0;
    spate_loop_post(&pl, &pw[0]);
    spate_loop_post(&pl, &pw[1]);
    spate_loop_post(&pl, &pw[2]);
    ok(spate_work_posted(&pw[2]) && spate_loop_next_timeout(&pl) == 0,
       "posted: the next timeout is 0 while work waits");
    uint64_t t0 = spate_clock_now();
    alarm(5);
    int n = spate_loop_once(&pl, UINT64_MAX);
    alarm(0);
    ok(npw == 2 && pw_log[0] == 0 && pw_log[1] == 1 && n == 2 &&
           spate_clock_now() - t0 < 500 * SPATE_NS_PER_MS,
       "one turn runs them in the order posted, without waiting; one taken back by an earlier "
       "one does not run (%d ran)",
       npw);
    ok(spate_work_posted(&pw[3]) && !spate_work_posted(&pw[2]),
       "  work posted while the queue ran waits for the next turn");
    spate_loop_once(&pl, 0);
    ok(npw == 3 && pw_log[2] == 3 && !spate_work_posted(&pw[3]) &&
           spate_loop_next_timeout(&pl) == UINT64_MAX,
       "  and runs there; the queue is then empty");
    spate_loop_post(&pl, &pw[2]);
    spate_loop_post(&pl, &pw[2]); /* already posted: keeps its place, runs once */
    spate_loop_unpost(&pw[2]);
    spate_loop_unpost(&pw[2]);
    spate_loop_once(&pl, 0);
    ok(npw == 3, "taken back before its turn: never runs (twice is harmless)");
    /* posted by an I/O callback: runs in the same turn, before that turn's due timers; posted
     * by a timer: at the next turn, which does not wait */
    int sp[2];
    struct spate_timer t;
    spate_timer_init(&t, pw_timer);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    pio.cb = pw_io;
    spate_loop_add(&pl, &pio, sp[0], SPATE_EV_READ);
    put(sp[1], "x");
    spate_loop_timer(&pl, &t, 1); /* due */
    npw = 0;
    pw_timer_saw = -1;
    spate_loop_once(&pl, 1000 * SPATE_NS_PER_MS);
    ok(pw_timer_saw == 1 && npw == 1 && pw_log[0] == 1,
       "posted by an I/O callback: runs in the same turn, before the due timer");
    ok(spate_work_posted(&pw[0]) && spate_work_posted(&pw[3]) && npw == 1,
       "  posted by that timer (and by the work that ran): waits for the next turn");
    uint64_t t1 = spate_clock_now();
    alarm(5);
    spate_loop_once(&pl, UINT64_MAX);
    alarm(0);
    ok(npw == 3 && pw_log[1] == 3 && pw_log[2] == 0 &&
           spate_clock_now() - t1 < 500 * SPATE_NS_PER_MS,
       "  and runs there, in the order posted, without waiting");
    spate_loop_del(&pl, &pio);
    close(sp[0]);
    close(sp[1]);

    spate_loop_post(&pl, &pw[2]);
    spate_loop_fini(&pl);
    ok(npw == 3 && !spate_work_posted(&pw[2]), "loop_fini forgets posted work without running it");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_level();
    test_edge();
    test_timers();
    test_submillisecond();
    test_defer();
    test_posted();
    test_stale();
    test_now();
    test_nap();
    return done();
}
