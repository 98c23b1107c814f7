/* The command's text builder (see text.h). */
#include "text.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Most texts are one result line or one report: start at a size that holds a line whole. */
#define FIRST_CAP 256

void spate_text_fini(struct spate_text *t)
{
    if (!t) return;
    free(t->s);
    spate_text_init(t);
}

int spate_text_grow(struct spate_text *t, size_t n)
{
    if (t->cap - t->len > n) return 0;
    if (n > ((size_t)-1) / 2 - t->len) return -ENOMEM;
    size_t cap = t->cap ? t->cap : FIRST_CAP;
    while (cap - t->len <= n)
        cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) return -ENOMEM;
    if (!t->s) s[0] = 0;
    t->s = s;
    t->cap = cap;
    return 0;
}

int spate_text_printf(struct spate_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    char *p = spate_text_room(t, (size_t)n);
    if (!p) return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
    return 0;
}

int spate_text_uint(struct spate_text *t, unsigned long long v)
{
    size_t n = 1;
    for (unsigned long long x = v; x >= 10; x /= 10)
        n++;
    char *p = spate_text_room(t, n);
    if (!p) return -ENOMEM;
    for (char *d = p + n; d > p; v /= 10) /* the digits in place, last first */
        *--d = (char)('0' + v % 10);
    spate_text_wrote(t, n);
    return 0;
}

ssize_t spate_text_read(struct spate_text *t, int fd, size_t chunk)
{
    char *p = spate_text_room(t, chunk);
    if (!p) return -ENOMEM;
    ssize_t n = read(fd, p, chunk);
    if (n < 0) return -errno;
    spate_text_wrote(t, (size_t)n);
    return n;
}

void spate_text_cut(struct spate_text *t, size_t n)
{
    if (n >= t->len) {
        spate_text_reset(t);
        return;
    }
    memmove(t->s, t->s + n, t->len - n + 1); /* the 0 too */
    t->len -= n;
}

char *spate_text_take(struct spate_text *t)
{
    char *s = t->s ? t->s : strdup("");
    if (s) spate_text_init(t);
    return s;
}
