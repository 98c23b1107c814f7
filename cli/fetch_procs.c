/* `spate fetch --procs N`: fork, route by host:port, merge whole lines. See fetch_procs.h. */
#include "fetch_procs.h"
#include "interrupt.h"
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define TICK_MS 200 /* a signal landing just before a poll is seen this late at most */

unsigned spate_fetch_procs_worker_of(const char *url, unsigned n)
{
    if (n <= 1 || !url) return 0;
    const char *p = strstr(url, "://");
    if (!p) return 0;
    int https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    const char *host = p + 3, *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at) host = at + 1; /* user:pass@ is not part of where the request goes */
    const char *colon = NULL;
    if (*host == '[') { /* [v6]:port */
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (rb && rb + 1 < end && rb[1] == ':') colon = rb + 1;
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
    }
    const char *hend = colon ? colon : end;
    /* FNV-1a over "host:port": host lower-cased, the default port spelled out */
    uint64_t h = 1469598103934665603ull;
    for (const char *c = host; c < hend; c++)
        h = (h ^ (unsigned char)tolower((unsigned char)*c)) * 1099511628211ull;
    const char *port = colon && colon + 1 < end ? colon + 1 : (https ? "443" : "80");
    size_t plen = colon && colon + 1 < end ? (size_t)(end - colon - 1) : strlen(port);
    h = (h ^ ':') * 1099511628211ull;
    for (size_t i = 0; i < plen; i++)
        h = (h ^ (unsigned char)port[i]) * 1099511628211ull;
    return (unsigned)((h ^ (h >> 32)) % n);
}

size_t spate_fetch_procs_format_counts(char *buf, size_t cap,
                                       const struct spate_fetch_procs_counts *c)
{
    size_t n = (size_t)snprintf(buf, cap, "S\t%llu %llu %llu %llu %llu %llu", c->finished, c->ok,
                                c->failed, c->unstarted, c->submitted, c->lost);
    for (int k = 0; k < SPATE_FETCH_PROCS_KINDS && n < cap; k++)
        n += (size_t)snprintf(buf + n, cap - n, " %llu", c->by_kind[k]);
    if (n + 1 < cap) {
        buf[n++] = '\n';
        buf[n] = 0;
    }
    return n < cap ? n : cap - 1;
}

/* One worker as the parent sees it. */
struct worker {
    pid_t pid;
    int fd;               /* read end of its record pipe, -1 once at its end */
    char *buf;            /* bytes read and not yet used (owned) */
    size_t len, cap, off; /* buf[off..len) unused */
    int ended;            /* its end record came */
};

static void add_counts(struct spate_fetch_procs_counts *sum, const char *p)
{
    unsigned long long *f[6 + SPATE_FETCH_PROCS_KINDS] = {
        &sum->finished, &sum->ok, &sum->failed, &sum->unstarted, &sum->submitted, &sum->lost};
    for (int k = 0; k < SPATE_FETCH_PROCS_KINDS; k++)
        f[6 + k] = &sum->by_kind[k];
    char *end;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) break;
        *f[i] += v;
        p = end;
    }
}

/* The next whole record of w, NULL when none is complete yet; *len includes the '\n'. */
static const char *head(struct worker *w, size_t *len)
{
    const char *p = w->buf + w->off;
    const char *nl = memchr(p, '\n', w->len - w->off);
    if (!nl) return NULL;
    *len = (size_t)(nl - p) + 1;
    return p;
}

/* Uses one record: an end record is counted, a result line goes to out. */
static void consume(struct worker *w, const char *rec, size_t len, struct spate_results *out,
                    struct spate_fetch_procs_counts *sum)
{
    w->off += len;
    if (rec[0] == 'S' && rec[1] == '\t') {
        char tmp[1024];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < sizeof(tmp) ? len : sizeof(tmp) - 1),
                 rec + 2);
        add_counts(sum, tmp);
        w->ended = 1;
        return;
    }
    const char *tab = memchr(rec, '\t', len);
    if (tab && (size_t)(tab - rec) + 2 < len) /* "INDEX\t\n" would be an empty line: none */
        spate_results_add(out, 0, tab + 1, len - (size_t)(tab + 1 - rec));
}

static unsigned long long index_of(const char *rec)
{
    return strtoull(rec, NULL, 10);
}

/* Writes what can be written: every whole record (unordered), or the smallest index of all the
 * workers' heads while every worker still running has a head (each stream is in index order, so
 * no later record can be smaller). */
static void drain(struct worker *w, unsigned n, int ordered, struct spate_results *out,
                  struct spate_fetch_procs_counts *sum)
{
    const char *rec;
    size_t len = 0;
    if (!ordered) {
        for (unsigned i = 0; i < n; i++)
            while ((rec = head(&w[i], &len)))
                consume(&w[i], rec, len, out, sum);
        return;
    }
    for (;;) {
        int best = -1;
        unsigned long long bi = 0;
        for (unsigned i = 0; i < n; i++) {
            while ((rec = head(&w[i], &len)) && rec[0] == 'S')
                consume(&w[i], rec, len, out, sum);
            if (!rec) {
                if (w[i].fd >= 0 && !w[i].ended) return; /* its next record may be smaller */
                continue;
            }
            unsigned long long x = index_of(rec);
            if (best < 0 || x < bi) best = (int)i, bi = x;
        }
        if (best < 0) return;
        rec = head(&w[best], &len);
        consume(&w[best], rec, len, out, sum);
    }
}

/* Reads what w's pipe holds; 0 at its end. */
static int fill(struct worker *w)
{
    if (w->off && w->off == w->len) w->off = w->len = 0;
    if (w->cap - w->len < READ_CHUNK) {
        if (w->off) { /* move the unused bytes to the front first */
            memmove(w->buf, w->buf + w->off, w->len - w->off);
            w->len -= w->off;
            w->off = 0;
        }
        if (w->cap - w->len < READ_CHUNK) {
            size_t cap = w->cap ? w->cap * 2 : READ_CHUNK * 2;
            char *b = realloc(w->buf, cap);
            if (!b) return -1;
            w->buf = b;
            w->cap = cap;
        }
    }
    ssize_t r = read(w->fd, w->buf + w->len, w->cap - w->len);
    if (r < 0) return errno == EINTR || errno == EAGAIN ? 1 : 0;
    w->len += (size_t)r;
    return r > 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void signal_all(struct worker *w, unsigned n, int sig)
{
    for (unsigned i = 0; i < n; i++)
        if (w[i].pid > 0) kill(w[i].pid, sig);
}

/* Forks worker p; its pipe's read end in w[p]. 0 or -1. */
static int start(struct worker *w, unsigned p, spate_fetch_procs_worker_fn fn, void *arg)
{
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        for (unsigned i = 0; i < p; i++)
            close(w[i].fd);          /* the other workers' pipes are the parent's */
        spate_interrupt_uninstall(); /* fn catches signals again with a pipe of its own */
        int rc = fn(arg, p, fds[1]);
        fflush(NULL);
        _exit(rc);
    }
    close(fds[1]);
    w[p].pid = pid;
    w[p].fd = fds[0];
    return 0;
}

/* Waits for every worker; the largest normal exit status, 1 for one that died (said). */
static int reap(struct worker *w, unsigned n)
{
    int worst = 0;
    for (unsigned i = 0; i < n; i++) {
        int st;
        if (w[i].pid <= 0) continue;
        while (waitpid(w[i].pid, &st, 0) < 0 && errno == EINTR) {
        }
        int code;
        if (WIFEXITED(st)) {
            code = WEXITSTATUS(st);
        } else {
            fprintf(stderr, "spate fetch: worker %u (pid %ld) died by signal %d\n", i,
                    (long)w[i].pid, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            code = 1;
        }
        if (code > worst) worst = code;
    }
    return worst;
}

int spate_fetch_procs_run(unsigned n, int ordered, struct spate_results *out,
                          spate_fetch_procs_worker_fn fn, void *arg,
                          struct spate_fetch_procs_counts *sum, int *stop_sig)
{
    struct worker *w = calloc(n, sizeof(*w));
    struct pollfd *pf = calloc(n + 1, sizeof(*pf));
    memset(sum, 0, sizeof(*sum));
    *stop_sig = 0;
    if (!w || !pf) {
        fprintf(stderr, "spate fetch: out of memory\n");
        free(w);
        free(pf);
        return 2;
    }
    int failed = 0;
    unsigned started = 0;
    for (; started < n; started++)
        if (start(w, started, fn, arg)) {
            fprintf(stderr, "spate fetch: cannot start worker %u: %s\n", started, strerror(errno));
            failed = 1;
            break;
        }
    if (failed) signal_all(w, started, SIGTERM);
    unsigned seen = 0;
    int closed_said = 0;
    for (;;) {
        unsigned np = 0;
        for (unsigned i = 0; i < started; i++)
            if (w[i].fd >= 0) pf[np++] = (struct pollfd){.fd = w[i].fd, .events = POLLIN};
        if (!np) break;
        pf[np] = (struct pollfd){.fd = spate_interrupt_fd(), .events = POLLIN};
        int ms = spate_results_tick(out, mono_s(), TICK_MS / 1e3);
        if (ms < 0 || ms > TICK_MS) ms = TICK_MS;
        if (poll(pf, np + (pf[np].fd >= 0), ms) < 0 && errno != EINTR) break;
        if (spate_interrupt_count() != seen) { /* forwarded: each worker ends with whole lines */
            seen = spate_interrupt_count();
            spate_interrupt_drain();
            if (!*stop_sig) *stop_sig = spate_interrupt_signal();
            signal_all(w, started, spate_interrupt_signal());
        }
        for (unsigned i = 0; i < started; i++) {
            if (w[i].fd < 0) continue;
            int r = fill(&w[i]);
            if (r > 0) continue;
            if (r < 0) fprintf(stderr, "spate fetch: out of memory\n");
            close(w[i].fd);
            w[i].fd = -1;
            if (!w[i].ended && !(head(&w[i], &(size_t){0}))) {
                /* checked again after the drain below: a partial stream is a lost worker */
            }
        }
        drain(w, started, ordered, out, sum);
        for (unsigned i = 0; i < started; i++)
            if (w[i].fd < 0 && !w[i].ended && w[i].pid > 0 && !head(&w[i], &(size_t){0})) {
                fprintf(stderr,
                        "spate fetch: worker %u (pid %ld) ended without its summary: its requests "
                        "in flight have no line\n",
                        i, (long)w[i].pid);
                w[i].ended = 1; /* said once; its records are over */
                failed = 1;
            }
        if (spate_results_done(out) && !closed_said) {
            closed_said = 1;
            signal_all(w, started, SIGTERM);
        }
    }
    drain(w, started, ordered, out, sum);
    int worst = reap(w, started);
    for (unsigned i = 0; i < n; i++)
        free(w[i].buf);
    free(w);
    free(pf);
    if (*stop_sig) return 128 + *stop_sig;
    if (out->closed) return 128 + SIGPIPE;
    return failed || worst == 1 ? 1 : worst;
}
