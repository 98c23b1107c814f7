/* The command's text: result lines, JSON reports, progress lines and messages are built in one of
 * these, piece by piece, then written out whole; files and worker pipes are read into one too.
 * The text is always a C string (s[len] is 0 once anything was added), so a finished text goes
 * to a parser, strdup or fputs as it is. Appends return 0 or -ENOMEM; on -ENOMEM the text is
 * unchanged, and the caller may go on appending and look at the result once at the end. */
#ifndef SPATE_TEXT_H
#define SPATE_TEXT_H
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

struct spate_text {
    char *s;    /* owned; NULL until the first byte */
    size_t len; /* bytes before the terminating 0 */
    size_t cap; /* bytes allocated, the 0 included */
};

static inline void spate_text_init(struct spate_text *t)
{
    t->s = NULL;
    t->len = t->cap = 0;
}
/* Frees the storage; t is then empty and may be used again. NULL-safe. */
void spate_text_fini(struct spate_text *t);
/* Empties t and keeps its storage: the next line is built where the last one was. */
static inline void spate_text_reset(struct spate_text *t)
{
    t->len = 0;
    if (t->s) t->s[0] = 0;
}

/* Room for n more bytes (and the 0 after them). 0 or -ENOMEM. */
int spate_text_grow(struct spate_text *t, size_t n);
/* Appends n bytes (which may hold NULs). Inline: a result line is many small pieces, most of
 * them literals whose length the compiler knows. */
static inline int spate_text_add(struct spate_text *t, const void *p, size_t n)
{
    if (t->cap - t->len <= n) {
        int rc = spate_text_grow(t, n);
        if (rc) return rc;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = 0;
    return 0;
}
/* Appends a C string. */
static inline int spate_text_adds(struct spate_text *t, const char *str)
{
    return spate_text_add(t, str, strlen(str));
}
/* Appends printf-formatted text. 0, -ENOMEM, or -EINVAL for a format printf refuses. */
int spate_text_printf(struct spate_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends v in decimal, without printf (result lines hold several numbers each). */
int spate_text_uint(struct spate_text *t, unsigned long long v);

/* For a writer that formats in place: a pointer to n writable bytes past the end (the 0 after
 * them is room too), NULL when out of memory; then spate_text_wrote says how many it used. */
static inline char *spate_text_room(struct spate_text *t, size_t n)
{
    if (t->cap - t->len <= n && spate_text_grow(t, n)) return NULL;
    return t->s + t->len;
}
/* n bytes (at most the room asked for) were written at spate_text_room: they join the text. */
static inline void spate_text_wrote(struct spate_text *t, size_t n)
{
    t->len += n;
    t->s[t->len] = 0;
}

/* Appends what one read(2) of fd gives, up to chunk bytes: the count, 0 at the end of the
 * input, or -errno (-EINTR and -EAGAIN included: the caller knows if it may block). */
ssize_t spate_text_read(struct spate_text *t, int fd, size_t chunk);
/* Drops the first n bytes (at most len): lines of a stream that were handled. */
void spate_text_cut(struct spate_text *t, size_t n);
/* Hands the string over: the caller frees it (an empty text gives an allocated ""); t is then
 * empty. NULL when out of memory (t unchanged). */
char *spate_text_take(struct spate_text *t);

#endif
