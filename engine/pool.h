/* The connection pool: one entry per scheme+host+port (the engine's TLS settings are global, so
 * they are part of every key implicitly), its idle connections, how many are open, and the
 * requests waiting for a connection slot of that host. */
#ifndef SPATE_POOL_H
#define SPATE_POOL_H
#include "conn.h"
#include <stddef.h>

struct spate_req;

struct spate_host {
    struct spate_host *hnext;   /* hash chain */
    struct spate_target target; /* strings point into key storage */
    char *key;                  /* "scheme://host:port" (owned) */
    struct spate_conn *idle;    /* idle connections, most recently used first */
    unsigned nconns;            /* open connections, including ones still connecting */
    unsigned nidle;
    struct spate_req *wait_head, *wait_tail; /* FIFO of requests waiting for a slot here */
    struct spate_host *wnext;                /* engine's list of hosts that have waiters */
    unsigned char in_wlist;
    uint64_t hold_until;           /* ns: the server asked us to wait (Retry-After) */
    struct spate_timer hold_timer; /* wakes the host's waiters when the hold ends */
    void *owner;                   /* the engine, for the hold timer */
};

struct spate_pool {
    struct spate_host **buckets;
    size_t nbuckets, nhosts;
    struct spate_conn *lru_head, *lru_tail; /* every idle connection, least recently used last */
    unsigned nidle, nconns;
};

int spate_pool_init(struct spate_pool *p);
/* Closes every idle connection and frees the host entries. Busy connections must be gone. */
void spate_pool_fini(struct spate_pool *p);

/* Finds or creates the entry for target. NULL on allocation failure. */
struct spate_host *spate_pool_host(struct spate_pool *p, const char *scheme, const char *host,
                                   int host_ip, unsigned port);

/* Puts an idle connection in its host's list (c->target must be h->target). */
void spate_pool_put(struct spate_pool *p, struct spate_host *h, struct spate_conn *c);
/* Removes c from the idle lists (it is about to be used or closed). */
void spate_pool_unlink(struct spate_pool *p, struct spate_host *h, struct spate_conn *c);
/* Takes the most recently used idle connection of h that still looks healthy; dead ones found
 * on the way are closed. NULL when there is none. */
struct spate_conn *spate_pool_take(struct spate_pool *p, struct spate_host *h);
/* The least recently used idle connection anywhere, for eviction; NULL if none. */
static inline struct spate_conn *spate_pool_oldest(const struct spate_pool *p)
{
    return p->lru_tail;
}

#endif
