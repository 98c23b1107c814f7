/* Timer min-heap keyed by (deadline, sequence): timers with equal deadlines fire in arming order.
 * Timers are caller-owned and embedded in their owner; the heap only holds pointers. */
#ifndef SPATE_TIMER_H
#define SPATE_TIMER_H
#include <stddef.h>
#include <stdint.h>

struct spate_timer;
typedef void (*spate_timer_cb)(struct spate_timer *t);

struct spate_timer {
    uint64_t deadline; /* monotonic ns */
    uint64_t seq;
    size_t idx; /* position in the heap, SIZE_MAX when not armed */
    spate_timer_cb cb;
};

struct spate_timer_heap {
    struct spate_timer **v;
    size_t len, cap;
    uint64_t next_seq;
};

void spate_timer_heap_init(struct spate_timer_heap *h);
void spate_timer_heap_fini(struct spate_timer_heap *h);

/* Prepares an embedded timer; it is not armed. */
void spate_timer_init(struct spate_timer *t, spate_timer_cb cb);
static inline int spate_timer_armed(const struct spate_timer *t)
{
    return t->idx != SIZE_MAX;
}

/* Arms (or re-arms) t to fire at deadline. Returns 0 or -ENOMEM (t is then left unarmed). */
int spate_timer_start(struct spate_timer_heap *h, struct spate_timer *t, uint64_t deadline);
/* Disarms t; harmless when it is not armed. */
void spate_timer_stop(struct spate_timer_heap *h, struct spate_timer *t);

/* The earliest armed timer, or NULL. */
static inline struct spate_timer *spate_timer_peek(const struct spate_timer_heap *h)
{
    return h->len ? h->v[0] : NULL;
}

/* Fires every timer whose deadline is <= now, earliest first; a callback may arm or stop timers.
 * Returns the number fired. */
size_t spate_timer_run(struct spate_timer_heap *h, uint64_t now);

#endif
