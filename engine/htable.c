/* Chained hash table with doubling (see htable.h). */
#include "htable.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

size_t spate_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: the 64-bit offset basis; the prime below */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

int spate_htable_init(struct spate_htable *t, size_t nb)
{
    t->n = 0;
    t->nb = nb;
    t->b = calloc(nb, sizeof(*t->b));
    return t->b ? 0 : -ENOMEM;
}

void spate_htable_fini(struct spate_htable *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}

static void grow(struct spate_htable *t)
{
    size_t nb = t->nb * 2;
    struct spate_hnode **b = calloc(nb, sizeof(*b));
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nb; i++) {
        while (t->b[i]) {
            struct spate_hnode *n = t->b[i];
            t->b[i] = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

void spate_htable_insert(struct spate_htable *t, struct spate_hnode *n, size_t hash)
{
    if (t->n >= t->nb) grow(t);
    struct spate_hnode **head = &t->b[hash & (t->nb - 1)];
    n->hash = hash;
    n->next = *head;
    *head = n;
    t->n++;
}

void spate_htable_remove(struct spate_htable *t, struct spate_hnode *n)
{
    struct spate_hnode **pp = &t->b[n->hash & (t->nb - 1)];
    while (*pp != n)
        pp = &(*pp)->next;
    *pp = n->next;
    n->next = NULL;
    t->n--;
}

struct spate_hnode *spate_htable_drain(struct spate_htable *t, size_t *at)
{
    for (; t->n && *at < t->nb; ++*at) {
        struct spate_hnode *n = t->b[*at];
        if (n) {
            t->b[*at] = n->next;
            n->next = NULL;
            t->n--;
            return n;
        }
    }
    return NULL;
}
