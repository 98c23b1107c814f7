/* `spate fetch --procs`: the requests the parent routed to a worker and the worker has not
 * answered yet, each with the record it was sent as, so that a worker that dies leaves a line
 * for every request it took with it. Bounded by what is in flight: the workers' read-ahead plus
 * the pipes and buffers between parent and workers. */
#ifndef SPATE_FETCH_ROUTED_H
#define SPATE_FETCH_ROUTED_H
#include <stddef.h>

struct spate_fetch_routed_entry {
    size_t index;    /* the request's global index (the key) */
    unsigned worker; /* the worker it went to */
    size_t seq;      /* its place among the requests routed to that worker, from 0 (set by the
                        caller after the add) */
    char *rec;       /* the record sent (owned), rec_len bytes */
    size_t rec_len;
    int used; /* the slot holds an entry */
};

/* An open-addressing table by index, linear probing, deletion by shifting back (no tombstones),
 * kept at most half full. */
struct spate_fetch_routed {
    struct spate_fetch_routed_entry *slot; /* owned, cap entries */
    size_t cap, n;
};

/* Adds request index sent to worker as rec[0..len) (copied). 0 or -ENOMEM. */
int spate_fetch_routed_add(struct spate_fetch_routed *t, size_t index, unsigned worker,
                           const char *rec, size_t len);
/* The entry of index, NULL when it is not held. Valid until the next add or remove. */
struct spate_fetch_routed_entry *spate_fetch_routed_find(struct spate_fetch_routed *t,
                                                         size_t index);
/* Forgets index (its record freed); 1 if it was held, else 0. */
int spate_fetch_routed_remove(struct spate_fetch_routed *t, size_t index);
/* Some entry of worker w, NULL when it holds none (for draining a dead worker's: take one,
 * answer it, remove it, again). */
struct spate_fetch_routed_entry *spate_fetch_routed_any(struct spate_fetch_routed *t, unsigned w);
/* Frees everything. */
void spate_fetch_routed_fini(struct spate_fetch_routed *t);

#endif
