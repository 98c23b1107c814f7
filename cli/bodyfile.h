/* `spate fetch -o DIR`: one file per response body, named after the request's id, never two
 * requests in one file. */
#ifndef SPATE_BODYFILE_H
#define SPATE_BODYFILE_H
#include <stddef.h>

#define SPATE_BODYFILE_NAME_MAX 200 /* encoded id, before a ".N" suffix: far below NAME_MAX */

/* The names written in this run (an open-addressing set), so a second request with the same id
 * gets `<id>.1` instead of the first one's file. */
struct spate_bodyfiles {
    const char *dir; /* not owned */
    char **slots;    /* owned names, NULL = empty */
    size_t cap, n;
};

/* The file name for an id of n bytes: every byte outside A-Za-z0-9._- and a leading '.' as %XX,
 * so no id can name a path outside DIR or a hidden file; an empty id becomes "%22%22" (its JSON
 * text). Cut at SPATE_BODYFILE_NAME_MAX bytes, never inside a %XX. Returns the length. out must
 * hold SPATE_BODYFILE_NAME_MAX + 1 bytes. */
size_t spate_bodyfile_name(char *out, const char *id, size_t n);

void spate_bodyfiles_init(struct spate_bodyfiles *b, const char *dir);
/* Frees the set (the files stay). */
void spate_bodyfiles_fini(struct spate_bodyfiles *b);

/* Creates (or truncates: a file from an earlier run is replaced, as curl -o does) DIR/<name>,
 * or DIR/<name>.1, .2, ... when an earlier request of this run took the name. Returns the open
 * descriptor with *path set to the path (owned by b, valid until fini), or -1 with err naming the
 * path and the system's reason. */
int spate_bodyfiles_open(struct spate_bodyfiles *b, const char *id, size_t n, const char **path,
                         char *err, size_t errlen);
/* Removes the file at path (from spate_bodyfiles_open) and frees its name for later requests. */
void spate_bodyfiles_discard(struct spate_bodyfiles *b, const char *path);

#endif
