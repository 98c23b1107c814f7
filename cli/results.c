/* Result lines to stdout: batching, --ordered holding, and output failures. */
#include "results.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_MAX (1u << 16) /* a batch this big is written at once */

/* A slot of an index that prints nothing (skipped, or never started): the stream goes past it. */
static char gap_mark;
#define GAP (&gap_mark)

int spate_results_init(struct spate_results *r, int fd, size_t ordered, double flush_every,
                       double now)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    spate_text_init(&r->buf);
    if (ordered && !(r->held = calloc(ordered, sizeof(*r->held)))) return -ENOMEM;
    r->nheld = ordered;
    r->flush_every = flush_every;
    r->last_flush = now;
    struct stat st;
    r->is_pipe = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    return 0;
}

void spate_results_fini(struct spate_results *r)
{
    for (size_t i = 0; r->held && i < r->nheld; i++)
        if (r->held[i] != GAP) free(r->held[i]);
    free(r->held);
    spate_text_fini(&r->buf);
    memset(r, 0, sizeof(*r));
}

int spate_results_done(const struct spate_results *r)
{
    return r->closed || r->write_errno;
}

static size_t count_lines(const char *p, size_t n)
{
    size_t k = 0;
    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        k++;
    return k;
}

static void write_all(struct spate_results *r)
{
    const char *p = r->buf.s;
    size_t n = r->buf.len;
    if (r->around) r->around(r->arg, 1);
    while (n) {
        ssize_t w = write(r->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            r->lost += count_lines(p, n); /* a line cut short counts as lost */
            if (w < 0 && errno == EPIPE)
                r->closed = 1;
            else
                r->write_errno = w < 0 ? errno : EIO;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    if (r->around) r->around(r->arg, 0);
}

void spate_results_flush(struct spate_results *r, double now)
{
    r->last_flush = now;
    if (!r->buf.len) return;
    if (spate_results_done(r))
        r->lost += count_lines(r->buf.s, r->buf.len);
    else
        write_all(r);
    spate_text_reset(&r->buf);
}

static char **slot(struct spate_results *r, size_t index)
{
    return &r->held[index % r->nheld];
}

/* Moves next past every slot that is filled, in order. */
static void advance(struct spate_results *r)
{
    for (char **s; *(s = slot(r, r->next)); r->next++) {
        if (*s != GAP) {
            spate_text_adds(&r->buf, *s);
            free(*s);
        }
        *s = NULL;
        r->pending--;
    }
}

void spate_results_add(struct spate_results *r, size_t index, const char *line, size_t len)
{
    if (!r->held) {
        spate_text_add(&r->buf, line, len);
    } else if (index != r->next) {
        *slot(r, index) = strndup(line, len);
        r->pending++;
        return;
    } else {
        spate_text_add(&r->buf, line, len);
        r->next++;
        advance(r);
    }
    if (r->buf.len > BATCH_MAX) spate_results_flush(r, r->last_flush);
}

void spate_results_skip(struct spate_results *r, size_t index)
{
    if (!r->held) return;
    *slot(r, index) = GAP;
    r->pending++;
    advance(r);
}

void spate_results_release_held(struct spate_results *r)
{
    while (r->held && r->pending) {
        if (!*slot(r, r->next)) *slot(r, r->next) = GAP, r->pending++;
        advance(r);
    }
}

/* The write end of a pipe without readers polls as an error, a closed socket as a hang-up. */
static void watch(struct spate_results *r, double now, double every)
{
    if (!r->is_pipe || spate_results_done(r) || now - r->checked < every) return;
    r->checked = now;
    struct pollfd p = {.fd = r->fd, .events = 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) r->closed = 1;
}

int spate_results_tick(struct spate_results *r, double now, double check_every)
{
    watch(r, now, check_every);
    if (!r->buf.len) return -1;
    double due = r->last_flush + r->flush_every - now;
    if (due <= 0) {
        spate_results_flush(r, now);
        return -1;
    }
    return (int)(due * 1e3) + 1;
}
