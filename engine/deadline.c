/* The FIFO deadline list. Removing the head does not re-arm the timer (most entries leave long
 * before they fall due): when it fires early it is simply set again for the current head. */
#include "deadline.h"

static struct spate_deadline *first(const struct spate_deadlines *q)
{
    return spate_list_entry(spate_list_first(&q->list), struct spate_deadline, link);
}

static void on_timer(struct spate_timer *t)
{
    struct spate_deadlines *q = spate_container_of(t, struct spate_deadlines, timer);
    uint64_t now = q->loop->now;
    struct spate_deadline *d;
    while ((d = first(q)) && d->at <= now) {
        spate_deadlines_del(q, d);
        q->expired(q, d); /* may add or remove entries */
    }
    if ((d = first(q))) spate_loop_timer(q->loop, &q->timer, d->at);
}

void spate_deadlines_init(struct spate_deadlines *q, struct spate_loop *loop,
                          spate_deadline_cb expired)
{
    spate_list_init(&q->list);
    spate_timer_init(&q->timer, on_timer);
    q->loop = loop;
    q->expired = expired;
}

void spate_deadlines_fini(struct spate_deadlines *q)
{
    if (q->loop) spate_loop_untimer(q->loop, &q->timer);
}

void spate_deadlines_add(struct spate_deadlines *q, struct spate_deadline *d, uint64_t at)
{
    spate_list_remove(&d->link);
    d->at = at;
    spate_list_append(&q->list, &d->link);
    if (!spate_timer_armed(&q->timer)) spate_loop_timer(q->loop, &q->timer, first(q)->at);
}

void spate_deadlines_del(struct spate_deadlines *q, struct spate_deadline *d)
{
    if (spate_list_empty(&d->link)) return;
    spate_list_remove(&d->link);
    if (spate_list_empty(&q->list)) spate_loop_untimer(q->loop, &q->timer); /* nothing to time */
}
