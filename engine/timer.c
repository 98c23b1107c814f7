/* Binary min-heap of timers. Each timer knows its index, so stop and re-arm are O(log n). */
#include "timer.h"
#include <errno.h>
#include <stdlib.h>

static int before(const struct spate_timer *a, const struct spate_timer *b)
{
    if (a->deadline != b->deadline) return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void place(struct spate_timer_heap *h, size_t i, struct spate_timer *t)
{
    h->v[i] = t;
    t->idx = i;
}

static void sift_up(struct spate_timer_heap *h, size_t i)
{
    struct spate_timer *t = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->v[parent])) break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct spate_timer_heap *h, size_t i)
{
    struct spate_timer *t = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && before(h->v[c + 1], h->v[c])) c++;
        if (!before(h->v[c], t)) break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void spate_timer_heap_init(struct spate_timer_heap *h)
{
    h->v = NULL;
    h->len = h->cap = 0;
    h->next_seq = 0;
}

/* Timers still armed are not touched: their owners may already be freed (the engine frees
 * hosts, whose hold timers may be armed, before the loop). */
void spate_timer_heap_fini(struct spate_timer_heap *h)
{
    free(h->v);
    spate_timer_heap_init(h);
}

void spate_timer_init(struct spate_timer *t, spate_timer_cb cb)
{
    t->deadline = 0;
    t->seq = 0;
    t->idx = SIZE_MAX;
    t->cb = cb;
}

static int grow(struct spate_timer_heap *h)
{
    size_t cap = h->cap ? h->cap * 2 : 64;
    struct spate_timer **v = realloc(h->v, cap * sizeof(*v));
    if (!v) return -ENOMEM;
    h->v = v;
    h->cap = cap;
    return 0;
}

int spate_timer_start(struct spate_timer_heap *h, struct spate_timer *t, uint64_t deadline)
{
    spate_timer_stop(h, t);
    if (h->len == h->cap && grow(h) < 0) return -ENOMEM;
    t->deadline = deadline;
    t->seq = h->next_seq++;
    place(h, h->len++, t);
    sift_up(h, t->idx);
    return 0;
}

void spate_timer_stop(struct spate_timer_heap *h, struct spate_timer *t)
{
    size_t i = t->idx;
    if (i == SIZE_MAX) return;
    t->idx = SIZE_MAX;
    struct spate_timer *last = h->v[--h->len];
    if (i == h->len) return;
    place(h, i, last);
    if (i > 0 && before(last, h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

size_t spate_timer_run(struct spate_timer_heap *h, uint64_t now)
{
    size_t n = 0;
    struct spate_timer *t;
    while ((t = spate_timer_peek(h)) && t->deadline <= now) {
        spate_timer_stop(h, t);
        t->cb(t);
        n++;
    }
    return n;
}
