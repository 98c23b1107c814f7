/* Forked workers for `spate bench --procs`: the barrier before the common start, the lines from
 * the workers, signals forwarded, dead workers noticed by end of file and reaped. */
#include "procs.h"
#include "text.h"
#include "interrupt.h"
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_LINE (64u << 20) /* a report with a full histogram is well below a megabyte */
/* How far ahead of the last "ready" the common start is put: every worker must have read its
 * "start" before then, or it starts late. */
#define MARGIN_S 0.05
#define MARGIN_PER_WORKER_S 0.002

struct worker {
    pid_t pid;
    int fd; /* the parent's end; -1 once closed */
    int ready;
    struct spate_text in;
};

struct run {
    struct worker *w;
    unsigned n;
    const struct spate_procs_ops *ops;
    void *user;
    double start_at;
    struct spate_procs_out *out;
    int start_sent;
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int spate_procs_send(int fd, const char *buf, size_t len)
{
    return write_all(fd, buf, len);
}

static void block_signals(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigprocmask(SIG_BLOCK, &s, old);
}

void spate_procs_unblock(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
}

/* ---------- in a worker ---------- */

double spate_procs_ready(int fd, int stop_fd)
{
    char line[128];
    size_t have = 0;
    if (write_all(fd, "ready\n", 6)) return -1;
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int k = poll(p, stop_fd >= 0 ? 2 : 1, -1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 || (stop_fd >= 0 && p[1].revents)) return -1;
        ssize_t r = read(fd, line + have, sizeof(line) - 1 - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1; /* the parent is gone */
        have += (size_t)r;
        line[have] = 0;
        char *nl = strchr(line, '\n');
        if (!nl) {
            if (have == sizeof(line) - 1) return -1;
            continue;
        }
        double t;
        if (sscanf(line, "start %lf", &t) != 1 || !(t > 0)) return -1;
        return t;
    }
}

/* Worker i runs on the i-th CPU it may use, counting round the set. */
static void pin(unsigned i)
{
#ifdef __linux__
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof(allowed), &allowed)) return;
    int count = CPU_COUNT(&allowed), want = (int)(i % (unsigned)(count ? count : 1));
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed) || want--) continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof(one), &one))
            fprintf(stderr, "spate bench: worker %u: cannot pin to CPU %d: %s\n", i, cpu,
                    strerror(errno));
        return;
    }
#else
    (void)i; /* no portable affinity call: --pin does nothing here */
#endif
}

static int become_worker(struct run *R, unsigned i, int fd, int do_pin, pid_t parent)
{
#ifdef __linux__
    /* a parent killed outright must not leave workers loading the server */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (getppid() != parent) _exit(1); /* it died before prctl took effect */
    for (unsigned j = 0; j < i; j++) {
        if (R->w[j].fd >= 0) close(R->w[j].fd);
        spate_text_fini(&R->w[j].in);
    }
    free(R->w);
    R->w = NULL;
    if (do_pin) pin(i);
    return R->ops->child(R->user, i, fd);
}

/* ---------- in the parent ---------- */

static void reap(struct run *R, unsigned i)
{
    struct worker *w = &R->w[i];
    int status = 0;
    close(w->fd);
    w->fd = -1;
    spate_text_fini(&w->in);
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    R->ops->ended(R->user, i, w->pid, status, 0);
}

/* Hands complete lines to the caller; "ready" is the barrier's. The handled ones are cut from
 * the text at once, after the last complete line. */
static void lines(struct run *R, unsigned i)
{
    struct worker *w = &R->w[i];
    const char *start = w->in.s, *p = start, *end = start + w->in.len, *nl;
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
        size_t len = (size_t)(nl - p);
        if (len == 5 && !memcmp(p, "ready", 5))
            w->ready = 1;
        else
            R->ops->line(R->user, i, p, len);
        p = nl + 1;
    }
    spate_text_cut(&w->in, (size_t)(p - start));
}

static void on_readable(struct run *R, unsigned i)
{
    struct worker *w = &R->w[i];
    ssize_t k = spate_text_read(&w->in, w->fd, 65536);
    if (k == -EINTR || k == -EAGAIN) return;
    if (k == -ENOMEM) kill(w->pid, SIGKILL); /* out of memory: this worker cannot be heard */
    if (k <= 0) {
        reap(R, i);
        return;
    }
    lines(R, i);
    if (w->in.len > MAX_LINE) { /* not a report: a worker gone wrong */
        kill(w->pid, SIGKILL);
        reap(R, i);
    }
}

/* Once every live worker is ready (dead ones never will be), all get one start instant. */
static void barrier(struct run *R)
{
    unsigned live = 0, ready = 0;
    if (R->start_sent) return;
    for (unsigned i = 0; i < R->n; i++) {
        live += R->w[i].fd >= 0;
        ready += R->w[i].fd >= 0 && R->w[i].ready;
    }
    if (!ready || ready < live) return;
    double t = R->start_at > 0 ? R->start_at : wall_now() + MARGIN_S + MARGIN_PER_WORKER_S * R->n;
    char msg[64];
    int len = snprintf(msg, sizeof(msg), "start %.9f\n", t);
    for (unsigned i = 0; i < R->n; i++)
        if (R->w[i].fd >= 0) write_all(R->w[i].fd, msg, (size_t)len); /* a dead one: EOF next */
    R->out->start = t;
    R->start_sent = 1;
}

static void forward(struct run *R)
{
    int sig = spate_interrupt_signal();
    spate_interrupt_drain();
    for (unsigned i = 0; i < R->n; i++)
        if (R->w[i].fd >= 0) kill(R->w[i].pid, sig);
}

static int collect(struct run *R)
{
    struct pollfd *p = calloc(R->n + 1, sizeof(*p));
    unsigned *who = calloc(R->n + 1, sizeof(*who));
    int rc = 0;
    if (!p || !who) rc = -ENOMEM;
    while (!rc) {
        nfds_t m = 0;
        for (unsigned i = 0; i < R->n; i++)
            if (R->w[i].fd >= 0) {
                p[m] = (struct pollfd){.fd = R->w[i].fd, .events = POLLIN};
                who[m++] = i;
            }
        if (!m) break;
        p[m] = (struct pollfd){.fd = spate_interrupt_fd(), .events = POLLIN};
        if (poll(p, m + 1, -1) < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
            break;
        }
        if (p[m].revents) forward(R);
        for (nfds_t j = 0; j < m; j++)
            if (p[j].revents) on_readable(R, who[j]);
        barrier(R);
    }
    free(p);
    free(who);
    return rc;
}

static void stop_all(struct run *R)
{
    for (unsigned i = 0; i < R->n; i++)
        if (R->w[i].fd >= 0) {
            kill(R->w[i].pid, SIGKILL);
            reap(R, i);
        }
}

int spate_procs_run(unsigned n, int do_pin, double start_at, const struct spate_procs_ops *ops,
                    void *user, struct spate_procs_out *out)
{
    struct run R = {.n = n, .ops = ops, .user = user, .start_at = start_at, .out = out};
    sigset_t old;
    pid_t parent = getpid();
    memset(out, 0, sizeof(*out));
    R.w = calloc(n, sizeof(*R.w));
    if (!R.w) return -ENOMEM;
    fflush(NULL); /* or each child would write out the parent's buffered output again */
    block_signals(&old);
    for (unsigned i = 0; i < n; i++) {
        int sv[2];
        R.w[i].fd = -1;
        spate_text_init(&R.w[i].in);
        pid_t pid = -1;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
            pid = fork();
            if (pid == 0) {
                close(sv[0]);
                out->child_rc = become_worker(&R, i, sv[1], do_pin, parent);
                out->is_child = 1;
                return 0;
            }
            int e = errno;
            close(sv[1]);
            if (pid > 0)
                R.w[i].fd = sv[0];
            else
                close(sv[0]);
            errno = e;
        }
        R.w[i].pid = pid;
        if (pid < 0) ops->ended(user, i, -1, -1, errno);
    }
    int rc = spate_interrupt_install();
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        stop_all(&R);
    } else {
        barrier(&R);
        rc = collect(&R);
        if (rc) stop_all(&R);
        out->sig = spate_interrupt_signal();
        spate_interrupt_uninstall();
    }
    free(R.w);
    return rc;
}
