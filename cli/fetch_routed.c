/* Routed requests not answered yet, by index. See fetch_routed.h. */
#include "fetch_routed.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 64

static size_t home(const struct spate_fetch_routed *t, size_t index)
{
    unsigned long long h = (unsigned long long)index * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (t->cap - 1);
}

/* Places e (its slot known free) without growing. */
static void place(struct spate_fetch_routed *t, const struct spate_fetch_routed_entry *e)
{
    size_t i = home(t, e->index);
    while (t->slot[i].used)
        i = (i + 1) & (t->cap - 1);
    t->slot[i] = *e;
}

static int grow(struct spate_fetch_routed *t)
{
    size_t cap = t->cap ? t->cap * 2 : MIN_CAP;
    struct spate_fetch_routed_entry *old = t->slot, *s = calloc(cap, sizeof(*s));
    if (!s) return -ENOMEM;
    size_t oldcap = t->cap;
    t->slot = s;
    t->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].used) place(t, &old[i]);
    free(old);
    return 0;
}

int spate_fetch_routed_add(struct spate_fetch_routed *t, size_t index, unsigned worker,
                           const char *rec, size_t len)
{
    if ((t->n + 1) * 2 > t->cap && grow(t)) return -ENOMEM;
    struct spate_fetch_routed_entry e = {
        .index = index, .worker = worker, .rec_len = len, .used = 1};
    if (!(e.rec = malloc(len ? len : 1))) return -ENOMEM;
    memcpy(e.rec, rec, len);
    place(t, &e);
    t->n++;
    return 0;
}

static size_t lookup(const struct spate_fetch_routed *t, size_t index)
{
    if (!t->cap) return (size_t)-1;
    for (size_t i = home(t, index);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slot[i].used) return (size_t)-1;
        if (t->slot[i].index == index) return i;
    }
}

struct spate_fetch_routed_entry *spate_fetch_routed_find(struct spate_fetch_routed *t, size_t index)
{
    size_t i = lookup(t, index);
    return i == (size_t)-1 ? NULL : &t->slot[i];
}

int spate_fetch_routed_remove(struct spate_fetch_routed *t, size_t index)
{
    size_t i = lookup(t, index);
    if (i == (size_t)-1) return 0;
    free(t->slot[i].rec);
    t->slot[i].used = 0;
    t->n--;
    /* shift back every later entry of the run that may no longer be reached past the hole */
    for (size_t j = (i + 1) & (t->cap - 1); t->slot[j].used; j = (j + 1) & (t->cap - 1)) {
        size_t h = home(t, t->slot[j].index);
        /* j's entry stays when its home lies cyclically in (i, j] */
        int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (stays) continue;
        t->slot[i] = t->slot[j];
        t->slot[j].used = 0;
        i = j;
    }
    return 1;
}

struct spate_fetch_routed_entry *spate_fetch_routed_any(struct spate_fetch_routed *t, unsigned w)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].used && t->slot[i].worker == w) return &t->slot[i];
    return NULL;
}

void spate_fetch_routed_fini(struct spate_fetch_routed *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].used) free(t->slot[i].rec);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}
