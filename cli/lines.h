/* Lines of one `spate fetch` input, read as they are needed: from a regular file in chunks,
 * from a pipe, terminal or socket only what is there (a poll of zero time first), so the caller's
 * loop never blocks on a quiet producer. Memory: one buffer of the longest line so far. */
#ifndef SPATE_LINES_H
#define SPATE_LINES_H
#include <stddef.h>

#define SPATE_LINES_MAX (1u << 20) /* longest line accepted, newline excluded */

struct spate_lines {
    int fd;                 /* read, closed by fini unless it is stdin */
    int seekable;           /* a regular file: reads may block (briefly, on the disk) */
    char *buf;              /* owned */
    size_t cap, start, end; /* buf[start..end) holds bytes not yet returned */
    size_t lineno;          /* the number of the line returned last (1-based) */
    int eof;                /* the input ended (or failed: err != 0) */
    int err;                /* errno of a failed read, 0 = none */
    int skipping;           /* dropping the rest of a line longer than SPATE_LINES_MAX */
};

/* Opens path ("-" = stdin). 0, or -errno (a directory gives -EISDIR). */
int spate_lines_open(struct spate_lines *l, const char *path);
/* Frees the buffer and closes the file (not stdin). NULL-safe after a failed open too. */
void spate_lines_fini(struct spate_lines *l);

/* Starts over from the first byte of fd, a regular file, which replaces the input's own (closed
 * unless the same or stdin): how --strict reads an input a second time after checking it. 0 or
 * -errno. */
int spate_lines_restart(struct spate_lines *l, int fd);

/* The next line, without its '\n', at *line (valid until the next call) with *len.
 * Returns 1 for a line, 0 when none is ready yet (a pipe with nothing to read; call again
 * when its fd is readable), -1 at the end of the input (l->err says if a read failed), or
 * 2 for a line longer than SPATE_LINES_MAX (its lineno is set, its bytes are dropped).
 * wait: block until a line or the end is there (used to check a whole input first). */
int spate_lines_next(struct spate_lines *l, const char **line, size_t *len, int wait);

#endif
