/* Growable byte buffer. */
#include "buf.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spate_buf_fini(struct spate_buf *b)
{
    if (!b) return;
    free(b->data);
    spate_buf_init(b);
}

int spate_buf_reserve(struct spate_buf *b, size_t n)
{
    if (b->cap - b->len >= n) return 0;
    if (b->off && b->cap - spate_buf_pending(b) >= n) {
        /* slide pending bytes down instead of growing */
        memmove(b->data, b->data + b->off, spate_buf_pending(b));
        b->len -= b->off;
        b->off = 0;
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > ((size_t)-1) / 2) return -ENOMEM;
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int spate_buf_printf(struct spate_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    int rc = spate_buf_reserve(b, (size_t)n + 1);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void spate_buf_consume(struct spate_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) b->off = b->len = 0;
}

int spate_buf_add_uint(struct spate_buf *b, unsigned long long v)
{
    char tmp[24];
    int n = sizeof(tmp);
    do
        tmp[--n] = (char)('0' + v % 10);
    while ((v /= 10));
    return spate_buf_add(b, tmp + n, sizeof(tmp) - (size_t)n);
}
