/* The engine's one intrusive doubly linked list, in the Linux kernel's list.h idiom: a circular
 * list whose head is a node like any other, so insert and remove never branch on an end; and the
 * one container_of, which turns a pointer to an embedded member back into its structure.
 * Bottom layer: includes nothing of the project. The caller owns every node and head; the list
 * only links them. */
#ifndef SPATE_LIST_H
#define SPATE_LIST_H
#include <stddef.h>

/* The structure of type T whose member m is at p. */
#define spate_container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

struct spate_list {
    struct spate_list *prev, *next;
};

/* An empty list (a head), or a node that is on no list: it points at itself. */
static inline void spate_list_init(struct spate_list *l)
{
    l->prev = l->next = l;
}

static inline int spate_list_empty(const struct spate_list *head)
{
    return head->next == head;
}

/* Links n (on no list) between a and b, which are adjacent. */
static inline void spate_list_link(struct spate_list *n, struct spate_list *a, struct spate_list *b)
{
    n->prev = a;
    n->next = b;
    a->next = n;
    b->prev = n;
}

/* Puts n first in head's list. */
static inline void spate_list_push(struct spate_list *head, struct spate_list *n)
{
    spate_list_link(n, head, head->next);
}

/* Puts n last in head's list. */
static inline void spate_list_append(struct spate_list *head, struct spate_list *n)
{
    spate_list_link(n, head->prev, head);
}

/* Takes n off its list; n is left on no list (spate_list_empty(n) is then 1), so removing it
 * twice is harmless. */
static inline void spate_list_remove(struct spate_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    spate_list_init(n);
}

/* The first and last nodes, or NULL when the list is empty. */
static inline struct spate_list *spate_list_first(const struct spate_list *head)
{
    return head->next == head ? NULL : head->next;
}
static inline struct spate_list *spate_list_last(const struct spate_list *head)
{
    return head->prev == head ? NULL : head->prev;
}

/* The entry of type T (member m) holding node n, or NULL for a NULL n. */
#define spate_list_entry(n, T, m) ((n) ? spate_container_of(n, T, m) : (T *)NULL)

/* Every node of head's list in order; the body may remove the current node (and only that). */
#define spate_list_foreach(n, tmp, head)                                                           \
    for ((n) = (head)->next, (tmp) = (n)->next; (n) != (head); (n) = (tmp), (tmp) = (n)->next)

#endif
