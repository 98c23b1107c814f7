/* The engine's one hash table: intrusive, chained, keyed by a hash the caller computes (FNV-1a of
 * a string, spate_hash_str) and compared by the caller, with the bucket array doubling when the
 * table holds more entries than buckets. A node stores its hash, so growing and removing never
 * hash again. Bottom layer: includes nothing of the project. The caller owns every node; the
 * table owns only its bucket array. */
#ifndef SPATE_HTABLE_H
#define SPATE_HTABLE_H
#include <stddef.h>

struct spate_hnode {
    struct spate_hnode *next; /* the chain */
    size_t hash;
};

struct spate_htable {
    struct spate_hnode **b;
    size_t nb; /* buckets, a power of two */
    size_t n;  /* nodes in the table */
};

/* FNV-1a of a NUL-terminated string. */
size_t spate_hash_str(const char *s);

/* An empty table of nb buckets (a power of two). 0 or -ENOMEM. */
int spate_htable_init(struct spate_htable *t, size_t nb);
/* Frees the bucket array; the nodes are the caller's (take them out first with
 * spate_htable_drain). NULL-safe on a table that was never initialised with success. */
void spate_htable_fini(struct spate_htable *t);

/* The first node of the chain where nodes of this hash live, or NULL; walk it with ->next and
 * compare ->hash and then the key. */
static inline struct spate_hnode *spate_htable_chain(const struct spate_htable *t, size_t hash)
{
    return t->b[hash & (t->nb - 1)];
}
/* Adds n (in no table) under hash; may grow the bucket array (without memory it keeps the old
 * one: longer chains, still correct). O(1) amortised. */
void spate_htable_insert(struct spate_htable *t, struct spate_hnode *n, size_t hash);
/* Takes n (which must be in t) out. O(chain). */
void spate_htable_remove(struct spate_htable *t, struct spate_hnode *n);
/* Takes some node out of t and returns it, or NULL when t is empty: for emptying a table. *at
 * (0 before the first call) keeps the scan's place, so emptying is O(buckets + nodes). */
struct spate_hnode *spate_htable_drain(struct spate_htable *t, size_t *at);

#endif
