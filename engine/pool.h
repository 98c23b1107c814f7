/* The connection pool: one entry per scheme+host+port (the engine's TLS settings are global, so
 * they are part of every key implicitly), its idle connections, how many are open, and the
 * requests waiting for a connection slot of that host. An entry lives while something uses it
 * (a request, a connection, a Retry-After hold); unused entries wait in a short LRU and are freed
 * after the loop batch they fell out of it in, so memory follows the hosts in use, not the hosts
 * ever seen. */
#ifndef SPATE_POOL_H
#define SPATE_POOL_H
#include "conn.h"
#include "htable.h"
#include "list.h"
#include "loop.h"
#include <stddef.h>
#include <string.h>

struct spate_req;

struct spate_host {
    struct spate_hnode hnode;   /* in the pool's table, hashed on key */
    struct spate_target target; /* strings point into key storage */
    struct spate_list idle;     /* idle connections (spate_conn.link), most recently used first */
    unsigned nconns;            /* open connections, including ones still connecting */
    unsigned nidle;
    unsigned nrefs; /* requests pointing at this entry (spate_pool_host / spate_pool_unref) */
    struct spate_req *wait_head, *wait_tail; /* FIFO of requests waiting for a slot here */
    struct spate_list wlink; /* in the limiter's list of hosts with waiters, else on no list */
    unsigned char unused;    /* in the pool's list of unused entries */
    struct spate_list unused_link; /* that list, most recently unused first */
    uint64_t hold_until;           /* ns: the server asked us to wait (Retry-After) */
    struct spate_timer hold_timer; /* wakes the host's waiters when the hold ends */
    void *owner;                   /* the limiter, for the hold timer */
    char key[]; /* "scheme://host:port", NUL, the bare host (target.host points here) */
};

#define SPATE_POOL_UNUSED_MAX 256 /* unused entries kept for a quick return of their host */

struct spate_pool {
    struct spate_htable hosts; /* spate_host.hnode; hosts.n entries */
    struct spate_list lru; /* every idle connection (spate_conn.lru), least recently used last */
    unsigned nidle, nconns;
    struct spate_host *last;    /* the last entry looked up (a fast path) */
    struct spate_list unused;   /* entries nothing uses, oldest last */
    size_t nunused, unused_max; /* beyond unused_max the oldest are freed */
    struct spate_loop *loop;    /* runs the deferred trim; NULL = trim at once */
    struct spate_reap trim;     /* queued on loop while trim_queued */
    int trim_queued;
};

/* loop (not owned, must outlive the pool) runs deferred frees: an entry is never freed inside
 * the callback that released it, where a caller up the stack may still hold it. 0 or -ENOMEM. */
int spate_pool_init(struct spate_pool *p, struct spate_loop *loop);
/* Closes every idle connection and frees the host entries. Busy connections must be gone. */
void spate_pool_fini(struct spate_pool *p);

/* Finds or creates the entry for http(s)://host:port (https 0 or 1; host_ip 0, 4 or 6 as the URL
 * parser says) and takes one reference for the caller, who gives it back with spate_pool_unref.
 * NULL on allocation failure (no reference then). O(1). */
struct spate_host *spate_pool_lookup(struct spate_pool *p, int https, const char *host, int host_ip,
                                     unsigned port);
/* spate_pool_lookup, with the common case inline: the same host as the last lookup. */
static inline struct spate_host *spate_pool_host(struct spate_pool *p, int https, const char *host,
                                                 int host_ip, unsigned port)
{
    struct spate_host *h = p->last;
    if (h && !h->unused && h->target.port == port && h->target.https == https &&
        !strcmp(h->target.host, host)) {
        h->nrefs++;
        return h;
    }
    return spate_pool_lookup(p, https, host, host_ip, port);
}
/* Call after h lost a user other than a reference (a connection closed, a hold ended): an
 * entry nothing uses any more joins the unused list. Cheap when h is still in use. */
void spate_pool_release(struct spate_pool *p, struct spate_host *h);
/* Gives back a reference from spate_pool_host; h may be freed after the current loop batch. */
static inline void spate_pool_unref(struct spate_pool *p, struct spate_host *h)
{
    if (--h->nrefs == 0) spate_pool_release(p, h);
}
/* 1 while anything points at h: a reference, a connection, a waiter or a Retry-After hold. */
int spate_pool_host_in_use(const struct spate_host *h);

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
    return spate_list_entry(spate_list_last(&p->lru), struct spate_conn, lru);
}

/* The entry a connection opened through the pool belongs to. */
static inline struct spate_host *spate_pool_host_of(const struct spate_conn *c)
{
    return spate_container_of(c->target, struct spate_host, target);
}
/* Open connections (connecting, busy or idle), pool-wide. */
static inline unsigned spate_pool_open_count(const struct spate_pool *p)
{
    return p->nconns;
}
/* Counts a connection the caller is about to open toward h; spate_pool_open_failed takes the
 * count back when the open fails, spate_pool_close when the connection ends. */
static inline void spate_pool_opening(struct spate_pool *p, struct spate_host *h)
{
    h->nconns++;
    p->nconns++;
}
static inline void spate_pool_open_failed(struct spate_pool *p, struct spate_host *h)
{
    h->nconns--;
    p->nconns--;
}
/* Closes c (busy, or taken from the idle lists) and counts it out; its host entry may be freed
 * after the current loop batch if nothing else uses it. */
void spate_pool_close(struct spate_pool *p, struct spate_conn *c);
/* An idle connection died (spate_conn_ops.idle_dead): off the idle lists, closed, counted out. */
void spate_pool_drop_idle(struct spate_pool *p, struct spate_conn *c);
/* Closes the least recently used idle connection anywhere. 1 if there was one, else 0. */
int spate_pool_evict(struct spate_pool *p);

#endif
