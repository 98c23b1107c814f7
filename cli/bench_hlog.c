/* The --hdr-log writer: per-second intervals, summed over the workers (see bench_hlog.h). */
#include "bench_hlog.h"
#include "hdrlog.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One worker's tagged line for a second, kept apart so the lines are written in worker order
 * whatever order the workers' reports arrive in. */
struct part {
    char *line;
    size_t len;
    FILE *mem; /* open_memstream over line; NULL until the worker sends this second */
};

/* A second still waiting for some workers: their sum so far and their own lines. */
struct second {
    struct spate_hist sum;
    double len;         /* the longest of the parts (the last second of a run is shorter) */
    unsigned nparts;    /* = workers */
    struct part *parts; /* written after the untagged sum, w0 first */
};

struct spate_bench_hlog {
    FILE *f;
    int started, failed;
    unsigned workers;
    uint64_t *next;       /* per worker: the next second it will send; UINT64_MAX = ended */
    struct second **wait; /* seconds first .. first + nwait - 1 */
    uint64_t first;
    size_t nwait;
};

int spate_bench_hlog_open(struct spate_bench_hlog **out, const char *path, unsigned workers,
                          char *err, size_t errlen)
{
    struct spate_bench_hlog *h = calloc(1, sizeof(*h));
    *out = NULL;
    if (!h || (workers && !(h->next = calloc(workers, sizeof(*h->next))))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    h->f = fopen(path, "w");
    if (!h->f) {
        int rc = -errno;
        snprintf(err, errlen, "--hdr-log: cannot create '%s': %s", path, strerror(errno));
        free(h->next);
        free(h);
        return rc;
    }
    h->workers = workers;
    *out = h;
    return 0;
}

int spate_bench_hlog_start(struct spate_bench_hlog *h, double base_unix)
{
    if (h->started) return 0;
    h->started = 1;
    int rc = spate_hdrlog_header(h->f, base_unix);
    if (rc) h->failed = 1;
    return rc;
}

static void free_second(struct second *s)
{
    if (!s) return;
    for (unsigned w = 0; w < s->nparts; w++) {
        if (s->parts[w].mem) fclose(s->parts[w].mem);
        free(s->parts[w].line);
    }
    free(s->parts);
    free(s);
}

/* The workers' lines of s in worker order. 0 or -errno. */
static int write_parts(FILE *f, struct second *s)
{
    for (unsigned w = 0; w < s->nparts; w++) {
        struct part *pt = &s->parts[w];
        if (!pt->mem) continue;
        if (fflush(pt->mem)) return -errno;
        if (pt->len && fwrite(pt->line, 1, pt->len, f) != pt->len) return -EIO;
    }
    return 0;
}

/* Writes the oldest waiting second: the sum, then the workers' lines. */
static int write_first(struct spate_bench_hlog *h)
{
    struct second *s = h->wait[0];
    int rc = 0;
    if (s) {
        rc = spate_hdrlog_interval(h->f, NULL, (double)h->first, s->len, &s->sum);
        if (!rc) rc = write_parts(h->f, s);
        if (!rc && fflush(h->f)) rc = -errno;
        free_second(s);
    }
    memmove(h->wait, h->wait + 1, (h->nwait - 1) * sizeof(*h->wait));
    h->nwait--;
    h->first++;
    if (rc) h->failed = 1;
    return rc;
}

/* Seconds every live worker has gone past are complete. */
static int flush_done(struct spate_bench_hlog *h)
{
    uint64_t low = UINT64_MAX;
    int rc = 0;
    for (unsigned w = 0; w < h->workers; w++)
        if (h->next[w] < low) low = h->next[w];
    while (!rc && h->nwait && h->first < low)
        rc = write_first(h);
    return rc;
}

static struct second *slot(struct spate_bench_hlog *h, uint64_t sec)
{
    if (!h->nwait) h->first = sec;
    if (sec < h->first) return NULL; /* cannot happen: workers send in order */
    uint64_t i = sec - h->first;
    if (i > 1u << 24) return NULL; /* months apart: not one run */
    if (i >= h->nwait) {
        struct second **v = realloc(h->wait, (size_t)(i + 1) * sizeof(*v));
        if (!v) return NULL;
        memset(v + h->nwait, 0, (size_t)(i + 1 - h->nwait) * sizeof(*v));
        h->wait = v;
        h->nwait = (size_t)i + 1;
    }
    if (!h->wait[i]) {
        struct second *s = calloc(1, sizeof(*s));
        if (!s) return NULL;
        s->parts = calloc(h->workers, sizeof(*s->parts));
        if (!s->parts) {
            free(s);
            return NULL;
        }
        s->nparts = h->workers;
        spate_hist_init(&s->sum);
        h->wait[i] = s;
    }
    return h->wait[i];
}

int spate_bench_hlog_put(struct spate_bench_hlog *h, int w, uint64_t sec, double len,
                         const struct spate_hist *x)
{
    if (w < 0 || !h->workers) {
        int rc = spate_hdrlog_interval(h->f, NULL, (double)sec, len, x);
        if (rc) h->failed = 1;
        return rc;
    }
    struct second *s = slot(h, sec);
    char tag[24];
    if (!s) return -ENOMEM;
    if ((unsigned)w >= s->nparts) return -EINVAL;
    struct part *pt = &s->parts[w];
    if (!pt->mem && !(pt->mem = open_memstream(&pt->line, &pt->len))) return -ENOMEM;
    snprintf(tag, sizeof(tag), "w%d", w);
    spate_hist_merge(&s->sum, x);
    if (len > s->len) s->len = len;
    int rc = spate_hdrlog_interval(pt->mem, tag, (double)sec, len, x);
    if (rc) return rc;
    if ((unsigned)w < h->workers) h->next[w] = sec + 1;
    return flush_done(h);
}

int spate_bench_hlog_done(struct spate_bench_hlog *h, unsigned w)
{
    if (w >= h->workers) return 0;
    h->next[w] = UINT64_MAX;
    return flush_done(h);
}

int spate_bench_hlog_close(struct spate_bench_hlog *h)
{
    if (!h) return 0;
    for (unsigned w = 0; w < h->workers; w++)
        h->next[w] = UINT64_MAX;
    int rc = flush_done(h);
    while (h->nwait) /* only after an error */
        free_second(h->wait[0]), memmove(h->wait, h->wait + 1, --h->nwait * sizeof(*h->wait));
    if (fclose(h->f) && !rc) rc = -errno;
    if (h->failed && !rc) rc = -EIO;
    free(h->wait);
    free(h->next);
    free(h);
    return rc;
}
