/* TTL cache for resolved names: a hash table (engine/htable.h) of entries keyed by host name, in
 * the shape of c-ares' ares_qcache (entries carry their own expiry; stale ones are replaced
 * lazily), with an LRU list of the entries no query holds that bounds the table at `cap` entries.
 */
#include "cache.h"
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64

int spate_dns_cache_init(struct spate_dns_cache *c, size_t cap)
{
    memset(c, 0, sizeof(*c));
    c->cap = cap;
    spate_list_init(&c->lru);
    return spate_htable_init(&c->tab, INITIAL_BUCKETS);
}

static void free_entry(struct spate_dns_entry *e)
{
    if (e->ip != e->inl) free(e->ip);
    free(e);
}

void spate_dns_cache_fini(struct spate_dns_cache *c)
{
    if (!c || !c->tab.b) return;
    size_t at = 0;
    struct spate_hnode *n;
    while ((n = spate_htable_drain(&c->tab, &at)))
        free_entry(spate_container_of(n, struct spate_dns_entry, hnode));
    spate_htable_fini(&c->tab);
    c->n = 0;
    spate_list_init(&c->lru);
}

static void lru_del(struct spate_dns_entry *e)
{
    spate_list_remove(&e->lru);
}

static void lru_push(struct spate_dns_cache *c, struct spate_dns_entry *e)
{
    spate_list_push(&c->lru, &e->lru);
}

struct spate_dns_entry *spate_dns_cache_get(struct spate_dns_cache *c, const char *host)
{
    size_t hash = spate_hash_str(host);
    for (struct spate_hnode *n = spate_htable_chain(&c->tab, hash); n; n = n->next) {
        struct spate_dns_entry *e = spate_container_of(n, struct spate_dns_entry, hnode);
        if (n->hash == hash && strcmp(e->host, host) == 0) {
            if (!e->refs && c->lru.next != &e->lru) { /* held entries are not in the list */
                lru_del(e);
                lru_push(c, e);
            }
            return e;
        }
    }
    return NULL;
}

/* Drops least recently used idle entries while more than max are cached. Held entries are not
 * in the list, so each step is O(1) and a query's entry is never the one dropped. */
static void evict(struct spate_dns_cache *c, size_t max)
{
    struct spate_list *last;
    while (c->n > max && (last = spate_list_last(&c->lru))) {
        struct spate_dns_entry *e = spate_container_of(last, struct spate_dns_entry, lru);
        lru_del(e);
        spate_htable_remove(&c->tab, &e->hnode);
        free_entry(e);
        c->n--;
    }
}

struct spate_dns_entry *spate_dns_cache_add(struct spate_dns_cache *c, const char *host)
{
    if (c->n >= c->cap) evict(c, c->cap ? c->cap - 1 : 0);
    size_t len = strlen(host);
    struct spate_dns_entry *e = calloc(1, sizeof(*e) + len + 1);
    if (!e) return NULL;
    memcpy(e->host, host, len + 1);
    e->status = SPATE_DNS_UNANSWERED;
    e->ip = e->inl;
    spate_htable_insert(&c->tab, &e->hnode, spate_hash_str(host));
    c->n++;
    lru_push(c, e);
    return e;
}

void spate_dns_cache_hold(struct spate_dns_cache *c, struct spate_dns_entry *e)
{
    (void)c;
    if (e->refs++ == 0) lru_del(e);
}

void spate_dns_cache_release(struct spate_dns_cache *c, struct spate_dns_entry *e)
{
    if (--e->refs) return;
    lru_push(c, e);
    evict(c, c->cap);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Points e->ip at room for n addresses; returns how many fit. */
static unsigned make_room(struct spate_dns_entry *e, unsigned n)
{
    const unsigned inl = sizeof(e->inl) / sizeof(e->inl[0]);
    if (e->ip != e->inl) free(e->ip);
    e->ip = e->inl;
    if (n <= inl) return n;
    struct spate_dns_ip *more = malloc(n * sizeof(*more));
    if (!more) return inl; /* the first addresses still serve */
    e->ip = more;
    return n;
}

void spate_dns_entry_set(struct spate_dns_entry *e, const struct spate_dns_ip *ip, unsigned n,
                         uint64_t now, uint64_t ttl_ns)
{
    if (n > SPATE_DNS_MAX_ADDRS) n = SPATE_DNS_MAX_ADDRS;
    n = make_room(e, n);
    memcpy(e->ip, ip, n * sizeof(*ip));
    e->n = n;
    e->status = 0;
    e->expires = add_sat(now, ttl_ns);
}

void spate_dns_entry_set_negative(struct spate_dns_entry *e, int status, uint64_t now,
                                  uint64_t ttl_ns)
{
    e->n = make_room(e, 0);
    e->status = status;
    e->expires = add_sat(now, ttl_ns);
}

int spate_dns_ip_from_sa(struct spate_dns_ip *ip, const struct sockaddr *sa, socklen_t len)
{
    memset(ip, 0, sizeof(*ip));
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        ip->family = AF_INET;
        memcpy(ip->b, &s4->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        ip->family = AF_INET6;
        ip->scope = s6->sin6_scope_id;
        memcpy(ip->b, &s6->sin6_addr, 16);
        return 0;
    }
    return -1;
}

int spate_dns_ip_in(const struct spate_dns_ip *ip, const struct spate_dns_ip *list, unsigned n)
{
    size_t len = ip->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < n; i++)
        if (list[i].family == ip->family && memcmp(list[i].b, ip->b, len) == 0) return 1;
    return 0;
}

socklen_t spate_dns_ip_to_sa(const struct spate_dns_ip *ip, unsigned port,
                             struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (ip->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, ip->b, 4);
        return sizeof(*s4);
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)sa;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    s6->sin6_scope_id = ip->scope;
    memcpy(&s6->sin6_addr, ip->b, 16);
    return sizeof(*s6);
}
