/* An input read as it is needed, line by line. */
#include "lines.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536 /* one read of a regular file */

int spate_lines_open(struct spate_lines *l, const char *path)
{
    memset(l, 0, sizeof(*l));
    l->fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    if (l->fd < 0) return -errno;
    struct stat st;
    if (fstat(l->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            if (l->fd) close(l->fd);
            l->fd = -1;
            return -EISDIR;
        }
        l->seekable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
    }
    return 0;
}

void spate_lines_fini(struct spate_lines *l)
{
    if (l->fd > 0) close(l->fd);
    free(l->buf);
    memset(l, 0, sizeof(*l));
    l->fd = -1;
}

/* Room for CHUNK more bytes after end: what was returned is moved out, then the buffer grows
 * (up to one longest line plus a chunk). 0 or -1 (no memory). */
static int make_room(struct spate_lines *l)
{
    if (l->start) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->start = 0;
    }
    if (l->cap - l->end >= CHUNK) return 0;
    size_t cap = l->end + CHUNK;
    char *b = realloc(l->buf, cap);
    if (!b) return -1;
    l->buf = b;
    l->cap = cap;
    return 0;
}

/* Reads once: 1 bytes came, 0 nothing ready (or an interrupted read), -1 end or error. */
static int fill(struct spate_lines *l, int wait)
{
    if (!l->seekable && !wait) {
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 1) return 0;
    }
    if (make_room(l)) {
        l->err = ENOMEM;
        return -1;
    }
    ssize_t n = read(l->fd, l->buf + l->end, l->cap - l->end);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n < 0) l->err = errno;
    if (n <= 0) return -1;
    l->end += (size_t)n;
    return 1;
}

int spate_lines_next(struct spate_lines *l, const char **line, size_t *len, int wait)
{
    for (;;) {
        char *s = l->buf + l->start;
        size_t have = l->end - l->start;
        char *nl = have ? memchr(s, '\n', have) : NULL;
        if (nl || (l->eof && have)) {
            size_t n = nl ? (size_t)(nl - s) : have;
            l->start += nl ? n + 1 : n;
            l->lineno++;
            if (l->skipping) { /* the tail of a line too long */
                l->skipping = 0;
                return 2;
            }
            *line = s;
            *len = n;
            return n > SPATE_LINES_MAX ? 2 : 1;
        }
        if (l->eof) return -1;
        if (have > SPATE_LINES_MAX) { /* drop what is held; the line ends later */
            if (!l->skipping) l->skipping = 1;
            l->start = l->end;
        }
        int rc = fill(l, wait);
        if (rc < 0) l->eof = 1;
        if (rc == 0) return 0; /* with wait: an interrupted read, for the caller to judge */
    }
}

int spate_lines_restart(struct spate_lines *l, int fd)
{
    if (l->fd > 0 && l->fd != fd) close(l->fd);
    l->fd = fd;
    l->seekable = 1;
    l->start = l->end = l->lineno = 0;
    l->eof = l->err = l->skipping = 0;
    return lseek(fd, 0, SEEK_SET) < 0 ? -errno : 0;
}
