/* --resume's set of done ids. */
#include "idset.h"
#include "text.h"
#include "json.h"
#include "lines.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the bytes, then a splitmix64 finalizer so every input bit reaches every output
 * bit (the table indexes by the low bits). */
uint64_t spate_idset_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h ? h : 1;
}

static size_t find(const uint64_t *slot, size_t cap, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slot[i] && slot[i] != h)
        i = (i + 1) & (cap - 1);
    return i;
}

static int grow(struct spate_idset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *v = calloc(cap, sizeof(*v));
    if (!v) return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slot[i]) v[find(v, cap, s->slot[i])] = s->slot[i];
    free(s->slot);
    s->slot = v;
    s->cap = cap;
    return 0;
}

int spate_idset_add(struct spate_idset *s, uint64_t h)
{
    h = h ? h : 1;
    if ((s->n + 1) * 4 > s->cap * 3 && grow(s)) return -ENOMEM;
    size_t i = find(s->slot, s->cap, h);
    if (!s->slot[i]) {
        s->slot[i] = h;
        s->n++;
    }
    return 0;
}

int spate_idset_has(const struct spate_idset *s, uint64_t h)
{
    return s->cap && s->slot[find(s->slot, s->cap, h ? h : 1)];
}

void spate_idset_fini(struct spate_idset *s)
{
    free(s->slot);
    memset(s, 0, sizeof(*s));
}

/* One line of an earlier output: its id's hash joins the set when the line says ok true. */
static int take(struct spate_idset *s, const char *line, size_t len, struct spate_text *tmp)
{
    struct spate_json *v = NULL;
    char err[64];
    if (spate_json_parse(line, len, &v, err, sizeof(err))) return 0; /* a cut line: ignored */
    const struct spate_json *ok = spate_json_get(v, "ok"), *id = spate_json_get(v, "id");
    int rc = 0;
    if (ok && id && spate_json_type(ok) == SPATE_JSON_TRUE) {
        spate_text_reset(tmp);
        rc = spate_json_write(tmp, id) ? -ENOMEM
                                       : spate_idset_add(s, spate_idset_hash(tmp->s, tmp->len));
    }
    spate_json_free(v);
    return rc;
}

int spate_idset_load(struct spate_idset *s, const char *path, char *err, size_t errlen)
{
    struct spate_lines l;
    int rc = spate_lines_open(&l, path);
    if (rc) {
        snprintf(err, errlen, "--resume: cannot open '%s': %s", path, strerror(-rc));
        spate_lines_fini(&l);
        return rc;
    }
    struct spate_text tmp;
    spate_text_init(&tmp);
    const char *line;
    size_t len;
    while (rc == 0) {
        int k = spate_lines_next(&l, &line, &len, 1);
        if (k < 0) break;
        if (k == 1) rc = take(s, line, len, &tmp);
    }
    if (!rc && l.err) rc = -l.err;
    if (rc) snprintf(err, errlen, "--resume: cannot read '%s': %s", path, strerror(-rc));
    spate_text_fini(&tmp);
    spate_lines_fini(&l);
    return rc;
}
