/* A capped free list: objects a module is done with, kept for its next allocation instead of
 * freed, so a long batch does not pay a calloc per object; capped, so a burst does not keep its
 * peak memory for ever. Intrusive (the object embeds a node) and LIFO (the object freed last,
 * likeliest still in the cache, is reused first). Bottom layer: includes nothing of the project. */
#ifndef SPATE_FREELIST_H
#define SPATE_FREELIST_H
#include <stddef.h>

/* Embedded in each object that may be kept; its storage may be shared (a union) with a link the
 * object does not use while it is spare. */
struct spate_freelist_node {
    struct spate_freelist_node *next;
};

/* A zeroed one is empty. The list owns the objects on it: its owner takes them all back with
 * spate_freelist_pop (until NULL) and frees them at teardown. */
struct spate_freelist {
    struct spate_freelist_node *head;
    size_t count; /* objects on the list, never more than the cap given to push */
};

/* Keeps n (an object its caller owns, on no list) unless cap objects are kept already. 1: the
 * list owns it now; 0: full, n is still the caller's to free. */
static inline int spate_freelist_push(struct spate_freelist *f, struct spate_freelist_node *n,
                                      size_t cap)
{
    if (f->count >= cap) return 0;
    n->next = f->head;
    f->head = n;
    f->count++;
    return 1;
}

/* The object kept last, now the caller's (its content as it was pushed, n->next aside), or NULL
 * when none is kept. */
static inline struct spate_freelist_node *spate_freelist_pop(struct spate_freelist *f)
{
    struct spate_freelist_node *n = f->head;
    if (!n) return NULL;
    f->head = n->next;
    f->count--;
    return n;
}

#endif
