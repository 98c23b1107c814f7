/* Host table (htable.h, on the key string), idle connection lists, and the list of unused
 * entries that bounds the table by the hosts in use. */
#include "pool.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_trim(struct spate_reap *r);

int spate_pool_init(struct spate_pool *p, struct spate_loop *loop)
{
    memset(p, 0, sizeof(*p));
    p->unused_max = SPATE_POOL_UNUSED_MAX;
    p->loop = loop;
    p->trim.fn = run_trim;
    spate_list_init(&p->lru);
    spate_list_init(&p->unused);
    return spate_htable_init(&p->hosts, 64);
}

/* A trim still queued on the loop must not run on a pool that is gone. */
static void unqueue_trim(struct spate_pool *p)
{
    if (!p->trim_queued) return;
    for (struct spate_reap **pp = &p->loop->reap; *pp; pp = &(*pp)->next) {
        if (*pp == &p->trim) {
            *pp = p->trim.next;
            break;
        }
    }
    p->trim_queued = 0;
}

void spate_pool_fini(struct spate_pool *p)
{
    if (!p->hosts.b) return;
    unqueue_trim(p);
    size_t at = 0;
    struct spate_hnode *hn;
    while ((hn = spate_htable_drain(&p->hosts, &at))) {
        struct spate_host *h = spate_container_of(hn, struct spate_host, hnode);
        struct spate_list *n;
        while ((n = spate_list_first(&h->idle))) {
            struct spate_conn *c = spate_container_of(n, struct spate_conn, link);
            spate_pool_unlink(p, h, c);
            spate_conn_close(c);
        }
        free(h);
    }
    spate_htable_fini(&p->hosts);
}

int spate_pool_host_in_use(const struct spate_host *h)
{
    return h->nrefs || h->nconns || h->nidle || h->wait_head || !spate_list_empty(&h->wlink) ||
           spate_timer_armed(&h->hold_timer);
}

static void unused_del(struct spate_pool *p, struct spate_host *h)
{
    spate_list_remove(&h->unused_link);
    h->unused = 0;
    p->nunused--;
}

static void unhash(struct spate_pool *p, struct spate_host *h)
{
    spate_htable_remove(&p->hosts, &h->hnode);
    if (p->last == h) p->last = NULL;
}

/* Frees the oldest unused entries beyond the cap. Runs after a loop batch, when no caller holds
 * a host it released; an entry used again meanwhile has left the list already. */
static void trim(struct spate_pool *p)
{
    while (p->nunused > p->unused_max) {
        struct spate_host *h =
            spate_container_of(spate_list_last(&p->unused), struct spate_host, unused_link);
        unused_del(p, h);
        if (spate_pool_host_in_use(h)) continue; /* cannot happen: a user takes it off first */
        unhash(p, h);
        free(h);
    }
}

static void run_trim(struct spate_reap *r)
{
    struct spate_pool *p = spate_container_of(r, struct spate_pool, trim);
    p->trim_queued = 0;
    trim(p);
}

void spate_pool_release(struct spate_pool *p, struct spate_host *h)
{
    if (h->unused || spate_pool_host_in_use(h)) return;
    h->unused = 1;
    spate_list_push(&p->unused, &h->unused_link);
    if (++p->nunused <= p->unused_max) return;
    if (!p->loop) {
        trim(p);
    } else if (!p->trim_queued) {
        p->trim_queued = 1;
        spate_loop_defer(p->loop, &p->trim);
    }
}

static struct spate_host *ref(struct spate_pool *p, struct spate_host *h)
{
    if (h->unused) unused_del(p, h);
    h->nrefs++;
    p->last = h;
    return h;
}

struct spate_host *spate_pool_lookup(struct spate_pool *p, int https, const char *host, int host_ip,
                                     unsigned port)
{
    /* consecutive requests mostly go to the same host: skip formatting and hashing the key */
    struct spate_host *h = p->last;
    if (h && h->target.port == port && h->target.https == https && !strcmp(h->target.host, host))
        return ref(p, h);
    char key[400];
    int kl = snprintf(key, sizeof(key), "%s://%s:%u", https ? "https" : "http", host, port);
    if (kl < 0 || (size_t)kl >= sizeof(key))
        return NULL; /* hosts are at most 253 bytes: cannot happen for a parsed URL */
    size_t hash = spate_hash_str(key);
    for (struct spate_hnode *n = spate_htable_chain(&p->hosts, hash); n; n = n->next) {
        h = spate_container_of(n, struct spate_host, hnode);
        if (n->hash == hash && !strcmp(h->key, key)) return ref(p, h);
    }
    /* one allocation holds the entry, the key and, after its NUL, the bare host name */
    h = calloc(1, sizeof(*h) + (size_t)kl + 1 + strlen(host) + 1);
    if (!h) return NULL;
    memcpy(h->key, key, (size_t)kl + 1);
    strcpy(h->key + kl + 1, host);
    h->target.host = h->key + kl + 1;
    h->target.host_ip = host_ip;
    h->target.port = (uint16_t)port;
    h->target.https = https;
    spate_timer_init(&h->hold_timer, NULL);
    spate_list_init(&h->idle);
    spate_list_init(&h->unused_link);
    spate_list_init(&h->wlink);
    spate_htable_insert(&p->hosts, &h->hnode, hash);
    return ref(p, h);
}

void spate_pool_put(struct spate_pool *p, struct spate_host *h, struct spate_conn *c)
{
    spate_list_push(&h->idle, &c->link);
    h->nidle++;
    spate_list_push(&p->lru, &c->lru);
    p->nidle++;
    spate_conn_idle(c);
}

void spate_pool_unlink(struct spate_pool *p, struct spate_host *h, struct spate_conn *c)
{
    spate_list_remove(&c->link);
    h->nidle--;
    spate_list_remove(&c->lru);
    p->nidle--;
}

struct spate_conn *spate_pool_take(struct spate_pool *p, struct spate_host *h)
{
    struct spate_list *n;
    while ((n = spate_list_first(&h->idle))) {
        struct spate_conn *c = spate_container_of(n, struct spate_conn, link);
        spate_pool_unlink(p, h, c);
        if (spate_conn_idle_ok(c)) return c;
        /* the server closed it or sent bytes nobody asked for: never hand it out */
        h->nconns--;
        p->nconns--;
        spate_conn_close(c);
    }
    spate_pool_release(p, h); /* the dead ones may have been its last use */
    return NULL;
}

void spate_pool_close(struct spate_pool *p, struct spate_conn *c)
{
    struct spate_host *h = spate_pool_host_of(c);
    h->nconns--;
    p->nconns--;
    spate_conn_close(c);
    spate_pool_release(p, h);
}

void spate_pool_drop_idle(struct spate_pool *p, struct spate_conn *c)
{
    spate_pool_unlink(p, spate_pool_host_of(c), c);
    spate_pool_close(p, c);
}

int spate_pool_evict(struct spate_pool *p)
{
    struct spate_conn *c = spate_pool_oldest(p);
    if (!c) return 0;
    spate_pool_drop_idle(p, c);
    return 1;
}
