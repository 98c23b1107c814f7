/* `spate fetch --procs N`: fork, route by host:port, merge whole lines. See fetch_procs.h. */
#include "fetch_procs.h"
#include "fetch_routed.h"
#include "interrupt.h"
#include "procs.h"
#include "spate.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define TICK_MS 200 /* a signal landing just before a poll is seen this late at most */
/* Requests waiting in the parent for one worker's pipe: beyond this the parent stops reading
 * input until the worker takes some (it reads as its own read-ahead has room). */
#define OUT_LIMIT (256u << 10)
/* --ordered: result bytes the parent holds from one worker that is ahead of the others; beyond
 * this it stops reading that worker's pipe, so the worker stalls on a full pipe instead. */
#define HOLD_LIMIT (1u << 20)

/* Where the authority that starts at p ends: the path, query or fragment, or end. */
static const char *host_end(const char *p, const char *end)
{
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    return p;
}

unsigned spate_fetch_procs_worker_of(const char *url, size_t len, unsigned n)
{
    if (n <= 1 || !url) return 0;
    const char *e = url + len, *p = memmem(url, len, "://", 3);
    if (!p) return 0;
    int https = (size_t)(p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    const char *host = p + 3, *end = host_end(host, e);
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at) host = at + 1; /* user:pass@ is not part of where the request goes */
    const char *colon = NULL;
    if (host < end && *host == '[') { /* [v6]:port */
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

/* Room for n more bytes at buf[*len] in a buffer whose bytes before *off are used: those are
 * dropped first (the unused ones slide to the front), then the buffer doubles until n fit.
 * 0, or -1 without memory (the buffer unchanged). */
static int make_room(char **buf, size_t *len, size_t *cap, size_t *off, size_t n)
{
    if (*off && *off == *len) *off = *len = 0;
    if (*cap - *len >= n) return 0;
    if (*off) {
        memmove(*buf, *buf + *off, *len - *off);
        *len -= *off;
        *off = 0;
    }
    size_t c = *cap ? *cap : 4096;
    while (c - *len < n)
        c *= 2;
    if (c == *cap) return 0;
    char *b = realloc(*buf, c);
    if (!b) return -1;
    *buf = b;
    *cap = c;
    return 0;
}

/* ---------- records ---------- */

int spate_fetch_procs_fill(struct spate_fetch_procs_reader *r)
{
    if (r->eof) return -1;
    if (make_room(&r->buf, &r->len, &r->cap, &r->off, READ_CHUNK)) {
        r->eof = 1;
        return -1;
    }
    ssize_t k = read(r->fd, r->buf + r->len, r->cap - r->len);
    if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (k <= 0) {
        r->eof = 1;
        return -1;
    }
    r->len += (size_t)k;
    return 1;
}

/* The next whole record without consuming it; NULL when none is whole. */
static const char *peek(const struct spate_fetch_procs_reader *r, size_t *len)
{
    const char *p = r->buf + r->off;
    const char *nl = r->len > r->off ? memchr(p, '\n', r->len - r->off) : NULL;
    if (!nl) return NULL;
    *len = (size_t)(nl - p) + 1;
    return p;
}

const char *spate_fetch_procs_record(struct spate_fetch_procs_reader *r, size_t *len)
{
    const char *p = peek(r, len);
    if (p) r->off += *len;
    return p;
}

size_t spate_fetch_procs_held(const struct spate_fetch_procs_reader *r)
{
    return r->len - r->off;
}

void spate_fetch_procs_reader_fini(struct spate_fetch_procs_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = r->off = 0;
}

int spate_fetch_procs_parse_req(const char *rec, size_t len, struct spate_fetch_procs_req *q)
{
    const char *tab = memchr(rec, '\t', len);
    if (!tab || (size_t)(tab - rec) > 80 || rec[len - 1] != '\n') return -1;
    char head[96], *p = head, *end;
    memcpy(head, rec, (size_t)(tab - rec));
    head[tab - rec] = 0;
    unsigned long long v[4];
    for (int i = 0; i < 4; i++) {
        errno = 0;
        v[i] = i == 1 ? (unsigned long long)strtoll(p, &end, 10) : strtoull(p, &end, 10);
        if (end == p || errno) return -1;
        p = end;
    }
    if (*p) return -1;
    q->index = (size_t)v[0];
    q->input = (long)(long long)v[1];
    q->lineno = (size_t)v[2];
    q->too_long = v[3] != 0;
    q->line = tab + 1;
    q->len = len - (size_t)(tab + 1 - rec) - 1;
    return 0;
}

/* ---------- the parent ---------- */

/* A growable byte buffer of the parent's own. */
struct bytes {
    char *p;
    size_t len, cap, off; /* p[off..len) not used yet */
};

static int bytes_add(struct bytes *b, const char *s, size_t n)
{
    if (make_room(&b->p, &b->len, &b->cap, &b->off, n)) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* One worker as the parent sees it. */
struct worker {
    pid_t pid;
    int wire;                           /* write end of its request pipe, -1 once closed */
    struct bytes out;                   /* requests not written to its pipe yet */
    struct spate_fetch_procs_reader rd; /* its record pipe; rd.fd -1 once closed */
    int ended;                          /* its end record came */
    int dead;                           /* its stream ended without the end record */
    int status;                         /* waitpid's, once reaped */
    int reaped;
    size_t nsent; /* requests routed to it (the next one's seq in the routed table) */
};

struct par {
    const struct spate_fetch_procs_run_args *a;
    const struct spate_fetch_procs_ops *ops;
    void *arg;
    struct spate_results *out;
    struct spate_fetch_procs_counts *sum;
    struct worker *w;
    unsigned started;
    struct spate_fetch_procs_live *live; /* shared with the workers, n entries */
    struct spate_fetch_routed routed;
    size_t *fifo; /* --ordered: the indexes routed and not printed, in order (a ring) */
    size_t fhead, fcount;
    struct bytes pend; /* a request read and formatted, not yet taken by its worker */
    size_t pend_index;
    unsigned pend_w;
    int have_pend;
    int input_done, input_wait_fd, stopping, failed;
    size_t nrouted;   /* requests routed (or answered for a dead worker) */
    size_t lost_done; /* lines written for requests of dead workers */
    size_t leftover;  /* requests never taken (an interrupt): no line */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void signal_all(struct par *P, int sig)
{
    for (unsigned i = 0; i < P->started; i++)
        if (P->w[i].pid > 0 && !P->w[i].reaped) kill(P->w[i].pid, sig);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Forks worker p with its two pipes. 0 or -1 (errno set). */
static int start(struct par *P, unsigned p)
{
    int req[2], res[2];
    if (pipe(req)) return -1;
    if (pipe(res)) {
        close(req[0]);
        close(req[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(req[0]);
        close(req[1]);
        close(res[0]);
        close(res[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(req[1]);
        close(res[0]);
        for (unsigned i = 0; i < p; i++) { /* the other workers' pipes are the parent's */
            if (P->w[i].wire >= 0) close(P->w[i].wire);
            if (P->w[i].rd.fd >= 0) close(P->w[i].rd.fd);
        }
        spate_interrupt_uninstall(); /* the worker catches signals again with a pipe of its own */
        set_nonblock(req[0]);
        int rc = P->ops->worker(P->arg, p, req[0], res[1], &P->live[p]);
        fflush(NULL);
        _exit(rc);
    }
    close(req[0]);
    close(res[1]);
    set_nonblock(req[1]);
    set_nonblock(res[0]);
    P->w[p].pid = pid;
    P->w[p].wire = req[1];
    P->w[p].rd.fd = res[0];
    return 0;
}

static void close_wire(struct worker *w)
{
    if (w->wire >= 0) close(w->wire);
    w->wire = -1;
    w->out.off = w->out.len = 0;
}

/* What became of worker i, for messages: "worker 0 (pid 12) was killed by signal 9". */
static void death_cause(struct par *P, unsigned i, char *buf, size_t cap)
{
    struct worker *w = &P->w[i];
    if (w->reaped && WIFSIGNALED(w->status))
        snprintf(buf, cap, "worker %u (pid %ld) was killed by signal %d", i, (long)w->pid,
                 WTERMSIG(w->status));
    else if (w->reaped && WIFEXITED(w->status))
        snprintf(buf, cap, "worker %u (pid %ld) exited with status %d", i, (long)w->pid,
                 WEXITSTATUS(w->status));
    else
        snprintf(buf, cap, "worker %u did not answer it", i);
}

/* The message of a request its worker never answered. Whether the worker had read it from its
 * pipe (the shared count of records it took, which come in the order they were routed) is all
 * the parent knows: one it took may have been sent, one it did not take never was. */
static void lost_reason(struct par *P, const struct spate_fetch_routed_entry *e, char *why,
                        size_t cap)
{
    char cause[160];
    struct worker *w = &P->w[e->worker];
    size_t taken = ((const volatile struct spate_fetch_procs_live *)&P->live[e->worker])->taken;
    death_cause(P, e->worker, cause, sizeof(cause));
    if (e->seq < taken)
        snprintf(why, cap, "canceled: %s%s: the request may have reached the server", cause,
                 w->reaped ? " after it took the request, before it answered" : "");
    else
        snprintf(why, cap, "canceled: %s%s: the request was never sent", cause,
                 w->reaped ? " before it took the request" : ", nor took it");
}

/* The line for request `index` of a dead worker (or one that never answered it), counted as a
 * failure of kind canceled. */
static void answer_lost(struct par *P, size_t index)
{
    struct spate_fetch_routed_entry *e = spate_fetch_routed_find(&P->routed, index);
    if (!e) return;
    char why[300];
    lost_reason(P, e, why, sizeof(why));
    struct spate_fetch_procs_req q;
    size_t len = 0;
    const char *line = NULL;
    if (spate_fetch_procs_parse_req(e->rec, e->rec_len, &q) == 0)
        line = P->ops->lost(P->arg, &q, why, &len);
    if (line) spate_results_add(P->out, 0, line, len);
    P->sum->finished++;
    P->sum->failed++;
    P->sum->by_kind[SPATE_E_CANCELED]++;
    P->lost_done++;
    spate_fetch_routed_remove(&P->routed, index);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Every request a dead worker holds gets its line now: their indexes are gathered in one pass
 * over the table (removing shifts entries), then answered in input order. */
static void answer_all_lost(struct par *P, unsigned i)
{
    size_t n = 0, *ix = malloc((P->routed.n ? P->routed.n : 1) * sizeof(*ix));
    for (size_t k = 0; ix && k < P->routed.cap; k++)
        if (P->routed.slot[k].used && P->routed.slot[k].worker == i)
            ix[n++] = P->routed.slot[k].index;
    if (!ix) { /* no memory for the list: one at a time */
        struct spate_fetch_routed_entry *e;
        while ((e = spate_fetch_routed_any(&P->routed, i)))
            answer_lost(P, e->index);
        return;
    }
    qsort(ix, n, sizeof(*ix), cmp_size);
    for (size_t k = 0; k < n; k++)
        answer_lost(P, ix[k]);
    free(ix);
}

/* Takes the next request from the input while there is room; stops at a worker whose pipe and
 * buffer are full (back-pressure), the --ordered window, or a quiet input. */
static void route(struct par *P)
{
    P->input_wait_fd = -1;
    while (!P->input_done && !P->stopping) {
        if (P->a->ordered && P->fcount >= P->a->window) return;
        if (!P->have_pend) {
            struct spate_fetch_procs_req q;
            unsigned wk = 0;
            int rc = P->ops->next(P->arg, &q, &wk, &P->input_wait_fd);
            if (rc == 0) return;
            if (rc < 0) {
                P->input_done = 1;
                return;
            }
            char head[96];
            int hn = snprintf(head, sizeof(head), "%zu %ld %zu %d\t", q.index, q.input, q.lineno,
                              q.too_long);
            P->pend.off = P->pend.len = 0;
            if (bytes_add(&P->pend, head, (size_t)hn) || bytes_add(&P->pend, q.line, q.len) ||
                bytes_add(&P->pend, "\n", 1)) {
                fprintf(stderr, "spate fetch: out of memory\n");
                P->stopping = 1;
                P->failed = 1;
                return;
            }
            P->pend_index = q.index;
            P->pend_w = wk < P->a->n ? wk : 0;
            P->have_pend = 1;
        }
        struct worker *w = &P->w[P->pend_w];
        int gone = w->dead || w->wire < 0;
        if (!gone && w->out.len - w->out.off >= OUT_LIMIT) return; /* wait for the worker */
        const char *rec = P->pend.p + P->pend.off;
        size_t len = P->pend.len - P->pend.off;
        if (spate_fetch_routed_add(&P->routed, P->pend_index, P->pend_w, rec, len) ||
            (!gone && bytes_add(&w->out, rec, len))) {
            fprintf(stderr, "spate fetch: out of memory\n");
            P->stopping = 1;
            P->failed = 1;
            return;
        }
        spate_fetch_routed_find(&P->routed, P->pend_index)->seq = w->nsent++;
        P->have_pend = 0;
        P->nrouted++;
        if (P->a->ordered) {
            P->fifo[(P->fhead + P->fcount) % P->a->window] = P->pend_index;
            P->fcount++;
        } else if (w->dead) { /* (a pipe that broke first: answered when its end is seen) */
            answer_lost(P, P->pend_index);
        }
    }
}

/* Writes what the workers' pipes take; closes a pipe once the input is over and it is empty. */
static void flush_wires(struct par *P)
{
    for (unsigned i = 0; i < P->started; i++) {
        struct worker *w = &P->w[i];
        if (w->wire < 0) continue;
        while (w->out.len > w->out.off) {
            ssize_t k = write(w->wire, w->out.p + w->out.off, w->out.len - w->out.off);
            if (k < 0 && errno == EINTR) continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (k <= 0) { /* the worker is gone: its requests are answered when its end is seen */
                close_wire(w);
                break;
            }
            w->out.off += (size_t)k;
        }
        if (w->wire >= 0 && w->out.len == w->out.off && (P->input_done || P->stopping))
            close_wire(w);
    }
}

static size_t index_of(const char *rec)
{
    return (size_t)strtoull(rec, NULL, 10);
}

static int is_end(const char *rec)
{
    return rec[0] == 'S' && rec[1] == '\t';
}

/* A result or no-line record: its line (if any) to out and counted here (so a worker that dies
 * leaves its results counted), its request answered. */
static void take_result(struct par *P, const char *rec, size_t len)
{
    const char *tab = memchr(rec, '\t', len);
    if (!tab) return;
    if ((size_t)(tab - rec) + 2 < len) {
        spate_results_add(P->out, 0, tab + 1, len - (size_t)(tab + 1 - rec));
        char *sp;
        unsigned long long k = strtoull(rec, &sp, 10);
        k = *sp == ' ' ? strtoull(sp + 1, NULL, 10) : SPATE_E_INPUT;
        P->sum->finished++;
        if (k == SPATE_OK) {
            P->sum->ok++;
        } else {
            P->sum->failed++;
            P->sum->by_kind[k < SPATE_FETCH_PROCS_KINDS ? k : 0]++;
        }
    }
    spate_fetch_routed_remove(&P->routed, index_of(rec));
}

/* The end record: what only the worker knows (requests submitted, not started, lines it could
 * not write); the results themselves were counted as they came. */
static void take_end(struct par *P, struct worker *w, const char *rec, size_t len)
{
    char tmp[1024];
    struct spate_fetch_procs_counts c = {0};
    size_t n = len > 2 ? len - 2 : 0; /* the counts after the record's 2-byte tag */
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < sizeof(tmp) ? n : sizeof(tmp) - 1), rec + 2);
    add_counts(&c, tmp);
    P->sum->unstarted += c.unstarted;
    P->sum->submitted += c.submitted;
    P->sum->lost += c.lost;
    w->ended = 1;
}

/* Unordered: every whole record goes out as it comes. */
static void merge_any(struct par *P)
{
    for (unsigned i = 0; i < P->started; i++) {
        const char *rec;
        size_t len;
        while ((rec = spate_fetch_procs_record(&P->w[i].rd, &len))) {
            if (is_end(rec))
                take_end(P, &P->w[i], rec, len);
            else
                take_result(P, rec, len);
        }
    }
}

/* --ordered: the request routed first and not printed yet is printed as soon as its worker's
 * next record is there (each worker answers in the order it was given its requests). */
static void merge_ordered(struct par *P)
{
    for (;;) {
        for (unsigned i = 0; i < P->started; i++) { /* end records at the head: counted */
            const char *rec;
            size_t len;
            while ((rec = peek(&P->w[i].rd, &len)) && is_end(rec)) {
                take_end(P, &P->w[i], rec, len);
                P->w[i].rd.off += len;
            }
        }
        if (!P->fcount) return;
        size_t e = P->fifo[P->fhead];
        struct spate_fetch_routed_entry *ent = spate_fetch_routed_find(&P->routed, e);
        if (ent) {
            struct worker *w = &P->w[ent->worker];
            size_t len;
            const char *rec = peek(&w->rd, &len);
            if (rec && index_of(rec) < e) { /* not one of the routed ones: passed over */
                w->rd.off += len;
                continue;
            }
            if (rec && index_of(rec) == e) {
                take_result(P, rec, len);
                w->rd.off += len;
            } else if (!rec && w->rd.fd >= 0 && !w->dead) {
                return; /* its answer is still to come */
            } else if (w->dead || (rec && !w->ended)) {
                answer_lost(P, e);
            } else { /* the worker ended without starting it (an interrupt): no line */
                spate_fetch_routed_remove(&P->routed, e);
                P->leftover++;
            }
        }
        P->fhead = (P->fhead + 1) % P->a->window;
        P->fcount--;
    }
}

/* A clean stream ends with the end record. */
static int ends_clean(const struct worker *w)
{
    if (w->ended) return 1;
    const struct spate_fetch_procs_reader *r = &w->rd;
    if (r->len == r->off || r->buf[r->len - 1] != '\n') return 0;
    size_t s = r->len - 1;
    while (s > r->off && r->buf[s - 1] != '\n')
        s--;
    return r->len - s > 2 && is_end(r->buf + s);
}

/* Worker i's record stream is over: it is reaped (it has exited or is exiting, the kernel having
 * closed its pipe), and without its end record it is a worker that died. */
static void stream_over(struct par *P, unsigned i)
{
    struct worker *w = &P->w[i];
    close(w->rd.fd);
    w->rd.fd = -1;
    close_wire(w);
    while (!w->reaped) {
        if (waitpid(w->pid, &w->status, 0) >= 0)
            w->reaped = 1;
        else if (errno != EINTR)
            break;
    }
    if (ends_clean(w)) return;
    w->dead = 1;
    P->failed = 1;
    char cause[160];
    death_cause(P, i, cause, sizeof(cause));
    fprintf(stderr,
            "spate fetch: worker %u (pid %ld) ended without its summary (%s): each request it "
            "had not answered gets a line of kind canceled\n",
            i, (long)w->pid, cause);
    /* a record cut short is dropped; its request is answered as lost */
    size_t keep = w->rd.len;
    while (keep > w->rd.off && w->rd.buf[keep - 1] != '\n')
        keep--;
    w->rd.len = keep;
    if (!P->a->ordered) answer_all_lost(P, i);
}

/* Whether worker w's pipe is read now: always unordered; --ordered while what is held from it
 * is small or holds no whole record (the one the merge waits for may be big). */
static int may_read(const struct par *P, const struct worker *w)
{
    if (w->rd.fd < 0) return 0;
    if (!P->a->ordered || spate_fetch_procs_held(&w->rd) < HOLD_LIMIT) return 1;
    size_t len;
    return peek(&w->rd, &len) == NULL;
}

static void progress(struct par *P, int force, int *ms)
{
    if (!P->ops->progress) return;
    struct spate_fetch_procs_live s = {0};
    for (unsigned i = 0; i < P->started; i++) {
        const volatile struct spate_fetch_procs_live *l = &P->live[i];
        s.done += l->done;
        s.failed += l->failed;
        s.in_flight += P->w[i].dead ? 0 : l->in_flight;
        s.skipped += l->skipped;
        s.unstarted += l->unstarted;
    }
    s.done += P->lost_done;
    s.failed += P->lost_done;
    size_t gone = s.skipped + s.unstarted + P->leftover;
    size_t total = P->input_done && P->nrouted >= gone ? P->nrouted - gone : SIZE_MAX;
    int t = P->ops->progress(P->arg, &s, total, force);
    if (t < *ms) *ms = t;
}

static int open_streams(const struct par *P)
{
    for (unsigned i = 0; i < P->started; i++)
        if (P->w[i].rd.fd >= 0) return 1;
    return 0;
}

/* The loop ended with streams still open (no memory, poll failed): stop the workers and close
 * every pipe to them, so none waits on a parent that no longer reads or writes. */
static void abandon(struct par *P, const char *why)
{
    fprintf(stderr, "spate fetch: %s; stopping the workers\n", why);
    P->stopping = P->failed = 1;
    signal_all(P, SIGTERM);
    for (unsigned i = 0; i < P->started; i++) {
        struct worker *w = &P->w[i];
        if (w->wire >= 0) close(w->wire);
        if (w->rd.fd >= 0) close(w->rd.fd);
        w->wire = w->rd.fd = -1;
    }
}

/* The parent's loop: routes, writes, reads, merges until every stream is over. */
static void loop(struct par *P)
{
    size_t n = P->started;
    struct pollfd *pf = calloc(2 * n + 2, sizeof(*pf));
    unsigned *who = calloc(2 * n + 2, sizeof(*who));
    const char *broke = pf && who ? NULL : "out of memory";
    unsigned seen = 0;
    int closed_said = 0;
    while (!broke && (open_streams(P) || (!P->input_done && !P->stopping))) {
        route(P);
        flush_wires(P);
        unsigned np = 0;
        for (unsigned i = 0; i < n; i++) {
            struct worker *w = &P->w[i];
            if (may_read(P, w))
                pf[np] = (struct pollfd){.fd = w->rd.fd, .events = POLLIN};
            else
                continue;
            who[np++] = i;
        }
        unsigned nr = np;
        for (unsigned i = 0; i < n; i++)
            if (P->w[i].wire >= 0 && P->w[i].out.len > P->w[i].out.off) {
                pf[np] = (struct pollfd){.fd = P->w[i].wire, .events = POLLOUT};
                who[np++] = i;
            }
        if (P->input_wait_fd >= 0 && !P->have_pend)
            pf[np++] = (struct pollfd){.fd = P->input_wait_fd, .events = POLLIN};
        if (spate_interrupt_fd() >= 0)
            pf[np++] = (struct pollfd){.fd = spate_interrupt_fd(), .events = POLLIN};
        int ms = spate_results_tick(P->out, mono_s(), TICK_MS / 1e3);
        if (ms < 0 || ms > TICK_MS) ms = TICK_MS;
        progress(P, 0, &ms);
        if (poll(pf, np, ms) < 0 && errno != EINTR) {
            broke = strerror(errno);
            break;
        }
        if (spate_interrupt_count() != seen) { /* forwarded: each worker ends with whole lines */
            seen = spate_interrupt_count();
            spate_interrupt_drain();
            P->stopping = 1;
            signal_all(P, spate_interrupt_signal());
        }
        for (unsigned k = 0; k < nr; k++)
            if (pf[k].revents) {
                struct worker *w = &P->w[who[k]];
                for (int r = 0; r < 16 && may_read(P, w) && spate_fetch_procs_fill(&w->rd) > 0;
                     r++) {
                }
            }
        if (P->a->ordered)
            merge_ordered(P);
        else
            merge_any(P);
        for (unsigned i = 0; i < n; i++)
            if (P->w[i].rd.fd >= 0 && P->w[i].rd.eof) stream_over(P, (unsigned)i);
        if (P->a->ordered) merge_ordered(P);
        if (spate_results_done(P->out) && !closed_said) {
            closed_said = 1;
            P->stopping = 1;
            signal_all(P, SIGTERM);
        }
        if (P->stopping && P->have_pend) {
            P->have_pend = 0; /* read, never routed: left for --resume */
            P->leftover++;
        }
    }
    if (broke) abandon(P, broke);
    if (P->a->ordered) merge_ordered(P);
    progress(P, 1, &(int){0});
    free(pf);
    free(who);
}

/* Waits for every worker not reaped yet; the largest normal exit status (1 for one that died). */
static int reap(struct par *P)
{
    int worst = 0;
    for (unsigned i = 0; i < P->started; i++) {
        struct worker *w = &P->w[i];
        while (!w->reaped) {
            if (waitpid(w->pid, &w->status, 0) >= 0)
                w->reaped = 1;
            else if (errno != EINTR)
                break;
        }
        int code = w->reaped && WIFEXITED(w->status) ? WEXITSTATUS(w->status) : 1;
        if (w->dead) code = 1;
        if (code > worst) worst = code;
    }
    return worst;
}

/* Requests still held for workers that ended cleanly were never taken (an interrupt, a closed
 * output): no line, left for --resume; a dead worker's get their line. */
static void settle(struct par *P)
{
    for (unsigned i = 0; i < P->started; i++) {
        struct spate_fetch_routed_entry *e;
        if (P->w[i].dead) {
            answer_all_lost(P, i);
            continue;
        }
        while ((e = spate_fetch_routed_any(&P->routed, i))) {
            spate_fetch_routed_remove(&P->routed, e->index);
            P->leftover++;
        }
    }
    P->sum->unstarted += P->leftover;
}

int spate_fetch_procs_run(const struct spate_fetch_procs_run_args *a,
                          const struct spate_fetch_procs_ops *ops, void *arg,
                          struct spate_results *out, struct spate_fetch_procs_counts *sum,
                          int *stop_sig)
{
    struct par P = {.a = a, .ops = ops, .arg = arg, .out = out, .sum = sum, .input_wait_fd = -1};
    memset(sum, 0, sizeof(*sum));
    *stop_sig = 0;
    P.w = calloc(a->n, sizeof(*P.w));
    P.fifo = a->ordered ? calloc(a->window ? a->window : 1, sizeof(*P.fifo)) : NULL;
    void *shm =
        mmap(NULL, a->n * sizeof(*P.live), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
    if (!P.w || (a->ordered && !P.fifo) || shm == MAP_FAILED) {
        fprintf(stderr, "spate fetch: out of memory\n");
        free(P.w);
        free(P.fifo);
        if (shm != MAP_FAILED) munmap(shm, a->n * sizeof(*P.live));
        return 2;
    }
    P.live = shm;
    for (unsigned i = 0; i < a->n; i++)
        P.w[i].wire = P.w[i].rd.fd = -1;
    /* no signal may reach a worker before it catches them itself: blocked across the forks */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    for (; P.started < a->n; P.started++)
        if (start(&P, P.started)) {
            fprintf(stderr, "spate fetch: cannot start worker %u: %s\n", P.started,
                    strerror(errno));
            P.failed = 1;
            break;
        }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (P.failed) {
        signal_all(&P, SIGTERM);
        P.stopping = 1;
        for (unsigned i = P.started; i < a->n; i++)
            P.w[i].dead = 1;
    }
    loop(&P);
    settle(&P);
    int worst = reap(&P);
    *stop_sig = spate_interrupt_signal();
    for (unsigned i = 0; i < a->n; i++) {
        spate_fetch_procs_reader_fini(&P.w[i].rd);
        free(P.w[i].out.p);
        if (P.w[i].wire >= 0) close(P.w[i].wire);
        if (P.w[i].rd.fd >= 0) close(P.w[i].rd.fd);
    }
    spate_fetch_routed_fini(&P.routed);
    free(P.pend.p);
    free(P.fifo);
    free(P.w);
    munmap(shm, a->n * sizeof(*P.live));
    if (*stop_sig) return 128 + *stop_sig;
    if (out->closed) return 128 + SIGPIPE;
    return P.failed || worst == 1 ? 1 : worst;
}
