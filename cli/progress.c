/* Progress line: "\r" + text + erase-to-end, so a shorter line leaves nothing of a longer one.
 * The rate is measured over the last few seconds, so the ETA follows a run that slows down. */
#include "progress.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_S 0.25

void spate_progress_init(struct spate_progress *p, int fd, double now)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->t0 = now;
    p->next = now; /* the first line appears at once, before any request ends */
    p->interval = REDRAW_S;
    p->ring_t[0] = now;
    p->ring_n = 1;
}

/* "m:ss" or "h:mm:ss"; "--" when unknown. Elapsed time is shown whole seconds gone, an ETA
 * rounded up, so neither claims a second early. */
static void clock_text(char *buf, size_t len, double s, int up)
{
    if (!(s >= 0) || s > 360000 * 24) {
        snprintf(buf, len, "--");
        return;
    }
    unsigned long t = (unsigned long)s;
    if (up && (double)t < s) t++;
    if (t >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

size_t spate_progress_format(char *buf, size_t len, double elapsed, double rate,
                             const struct spate_progress_counts *c, unsigned width)
{
    char el[32], eta[32];
    clock_text(el, sizeof(el), elapsed, 0);
    int known = c->total != SIZE_MAX;
    size_t left = known && c->total > c->done ? c->total - c->done : 0;
    clock_text(eta, sizeof(eta), !known ? -1 : left == 0 ? 0 : rate > 0 ? left / rate : -1, 1);
    int n;
    if (known)
        n = snprintf(buf, len, "%zu/%zu done (%.1f%%)  elapsed %s  ETA %s  in flight %zu", c->done,
                     c->total, c->total ? 100.0 * c->done / c->total : 100.0, el, eta,
                     c->in_flight);
    else
        n = snprintf(buf, len, "%zu done  elapsed %s  in flight %zu", c->done, el, c->in_flight);
    size_t at = n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
    if (rate >= 0)
        n = snprintf(buf + at, len - at, "  %.0f req/s", rate);
    else
        n = snprintf(buf + at, len - at, "  -- req/s");
    at = n < 0 ? at : at + (size_t)n < len ? at + (size_t)n : len - 1;
    if (c->failed) {
        n = snprintf(buf + at, len - at, "  %zu failed", c->failed);
        at = n < 0 ? at : at + (size_t)n < len ? at + (size_t)n : len - 1;
    }
    if (width > 1 && at > width - 1) at = width - 1; /* a wrapped line cannot be redrawn */
    buf[at] = 0;
    return at;
}

/* Requests per second since the oldest sample (the last few seconds), -1 before 0.1 s. */
static double recent_rate(const struct spate_progress *p, double now, size_t done)
{
    unsigned oldest = (p->ring_head + SPATE_PROGRESS_RING - (p->ring_n - 1)) % SPATE_PROGRESS_RING;
    double span = now - p->ring_t[oldest];
    return span > 0.1 ? (double)(done - p->ring_done[oldest]) / span : -1;
}

/* One sample per timed redraw: forced redraws (after each batch of results) would shrink the
 * window to a fraction of a second. */
static void sample(struct spate_progress *p, double now, size_t done)
{
    p->ring_head = (p->ring_head + 1) % SPATE_PROGRESS_RING;
    p->ring_t[p->ring_head] = now;
    p->ring_done[p->ring_head] = done;
    if (p->ring_n < SPATE_PROGRESS_RING) p->ring_n++;
}

static unsigned term_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 0;
}

static void put(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* a progress line is not worth failing a run for */
        s += w;
        n -= (size_t)w;
    }
}

int spate_progress_tick(struct spate_progress *p, double now, const struct spate_progress_counts *c,
                        int force)
{
    int due = now >= p->next;
    if (force || due) {
        char line[512] = "\r";
        double rate = recent_rate(p, now, c->done);
        size_t n = 1 + spate_progress_format(line + 1, sizeof(line) - 8, now - p->t0, rate, c,
                                             term_width(p->fd));
        memcpy(line + n, "\033[K", 3);
        put(p->fd, line, n + 3);
        p->shown = 1;
    }
    if (due) {
        sample(p, now, c->done);
        p->next = now + p->interval;
    }
    double wait = p->next - now;
    return wait > 0 ? (int)(wait * 1e3) + 1 : 0;
}

void spate_progress_clear(struct spate_progress *p)
{
    if (!p->shown) return;
    put(p->fd, "\r\033[K", 4);
    p->shown = 0;
}
