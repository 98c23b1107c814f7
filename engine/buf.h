/* A growable byte buffer with a read offset: bytes [off, len) are pending. */
#ifndef SPATE_BUF_H
#define SPATE_BUF_H
#include <stddef.h>
#include <string.h>

struct spate_buf {
    char *data; /* owned */
    size_t off, len, cap;
};

static inline void spate_buf_init(struct spate_buf *b)
{
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}
void spate_buf_fini(struct spate_buf *b);
static inline size_t spate_buf_pending(const struct spate_buf *b)
{
    return b->len - b->off;
}
static inline void spate_buf_reset(struct spate_buf *b)
{
    b->off = b->len = 0;
}

/* Ensures room for n more bytes. 0 or -ENOMEM. */
int spate_buf_reserve(struct spate_buf *b, size_t n);
/* Appends n bytes / a C string. 0 or -ENOMEM. Inline: result lines and requests are built from
 * many small pieces, most of them literals whose length the compiler knows. */
static inline int spate_buf_add(struct spate_buf *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    if (b->cap - b->len < n) {
        int rc = spate_buf_reserve(b, n);
        if (rc) return rc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}
static inline int spate_buf_adds(struct spate_buf *b, const char *s)
{
    return spate_buf_add(b, s, strlen(s));
}
/* Appends printf-formatted text. 0 or -ENOMEM. */
int spate_buf_printf(struct spate_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a decimal number (no printf: result lines are formatted per request). 0 or -ENOMEM. */
int spate_buf_add_uint(struct spate_buf *b, unsigned long long v);
/* Consumes n pending bytes; resets to empty when everything is consumed. */
void spate_buf_consume(struct spate_buf *b, size_t n);

#endif
