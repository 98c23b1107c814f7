/* A deadline list: deadlines that are set in the order they fall due (every attempt gets the same
 * --timeout), kept as a FIFO list under one loop timer. A FIFO does what a heap would, in O(1) and
 * without touching other entries. Bottom layer: the loop, a timer and the list. The caller owns
 * the list and every entry (embedded in its own objects); the list only links them. */
#ifndef SPATE_DEADLINE_H
#define SPATE_DEADLINE_H
#include "list.h"
#include "loop.h"
#include <stdint.h>

struct spate_deadline {
    struct spate_list link; /* on the list while it runs; on no list (self-linked) otherwise */
    uint64_t at;            /* monotonic ns */
};

struct spate_deadlines;
/* Called for an entry whose deadline passed; the entry is already off the list. */
typedef void (*spate_deadline_cb)(struct spate_deadlines *q, struct spate_deadline *d);

struct spate_deadlines {
    struct spate_list list; /* oldest (first due) first */
    struct spate_timer timer;
    struct spate_loop *loop; /* not owned */
    spate_deadline_cb expired;
};

/* An empty list on loop (which must outlive it). */
void spate_deadlines_init(struct spate_deadlines *q, struct spate_loop *loop,
                          spate_deadline_cb expired);
/* Stops the timer; the entries still listed are the caller's to forget. */
void spate_deadlines_fini(struct spate_deadlines *q);
/* An entry on no list (embedded entries start here). */
static inline void spate_deadline_init(struct spate_deadline *d)
{
    spate_list_init(&d->link);
}
/* Puts d last, due at `at` (no earlier than the ones listed, for the FIFO to hold); d may be on
 * the list already (it moves). */
void spate_deadlines_add(struct spate_deadlines *q, struct spate_deadline *d, uint64_t at);
/* Takes d off the list; harmless when it is on none. */
void spate_deadlines_del(struct spate_deadlines *q, struct spate_deadline *d);

#endif
