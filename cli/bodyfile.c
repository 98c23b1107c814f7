/* Body files: id -> safe file name, and the set of names this run has written. */
#include "bodyfile.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

size_t spate_bodyfile_name(char *out, const char *id, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0) {
        memcpy(out, "%22%22", 7);
        return 6;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        int keep = plain(c) && !(i == 0 && c == '.');
        if (o + (keep ? 1 : 3) > SPATE_BODYFILE_NAME_MAX) break;
        if (keep) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
    return o;
}

void spate_bodyfiles_init(struct spate_bodyfiles *b, const char *dir)
{
    memset(b, 0, sizeof(*b));
    b->dir = dir;
}

void spate_bodyfiles_fini(struct spate_bodyfiles *b)
{
    for (size_t i = 0; i < b->cap; i++)
        free(b->slots[i]);
    free(b->slots);
    memset(b, 0, sizeof(*b));
}

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return (size_t)h;
}

/* The slot holding s, or the empty slot where it would go. cap is a power of two, never full. */
static size_t find(const struct spate_bodyfiles *b, const char *s)
{
    size_t i = hash(s) & (b->cap - 1);
    while (b->slots[i] && strcmp(b->slots[i], s))
        i = (i + 1) & (b->cap - 1);
    return i;
}

static int grow(struct spate_bodyfiles *b)
{
    size_t cap = b->cap ? b->cap * 2 : 64;
    char **old = b->slots;
    size_t old_cap = b->cap;
    b->slots = calloc(cap, sizeof(*b->slots));
    if (!b->slots) {
        b->slots = old;
        return -1;
    }
    b->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) b->slots[find(b, old[i])] = old[i];
    free(old);
    return 0;
}

/* Takes ownership of path into the set; NULL when out of memory (path freed). */
static const char *remember(struct spate_bodyfiles *b, char *path)
{
    if ((b->n + 1) * 2 > b->cap && grow(b)) {
        free(path);
        return NULL;
    }
    b->slots[find(b, path)] = path;
    b->n++;
    return path;
}

static int taken(const struct spate_bodyfiles *b, const char *path)
{
    return b->cap && b->slots[find(b, path)];
}

int spate_bodyfiles_open(struct spate_bodyfiles *b, const char *id, size_t n, const char **path,
                         char *err, size_t errlen)
{
    char name[SPATE_BODYFILE_NAME_MAX + 1];
    spate_bodyfile_name(name, id, n);
    size_t len = strlen(b->dir) + 1 + sizeof(name) + 24;
    char *p = malloc(len);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *sep = b->dir[0] && b->dir[strlen(b->dir) - 1] == '/' ? "" : "/";
    snprintf(p, len, "%s%s%s", b->dir, sep, name);
    for (unsigned long k = 1; taken(b, p); k++)
        snprintf(p, len, "%s%s%s.%lu", b->dir, sep, name, k);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write '%s': %s", p, strerror(errno));
        free(p);
        return -1;
    }
    if (!(*path = remember(b, p))) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    return fd;
}

void spate_bodyfiles_discard(struct spate_bodyfiles *b, const char *path)
{
    if (!b->cap || !b->slots[find(b, path)]) return;
    unlink(path);
    /* deleting from linear probing: re-insert the rest of the cluster */
    size_t i = find(b, path);
    free(b->slots[i]);
    b->slots[i] = NULL;
    b->n--;
    for (size_t j = (i + 1) & (b->cap - 1); b->slots[j]; j = (j + 1) & (b->cap - 1)) {
        char *s = b->slots[j];
        b->slots[j] = NULL;
        b->slots[find(b, s)] = s;
    }
}
