/* The resolver's TTL cache: one entry per host name (lowercased), holding the latest answer
 * (addresses or a negative status) and when it goes stale, in at most `cap` entries with the
 * least recently used evicted first. Knows nothing about c-ares. */
#ifndef SPATE_DNS_CACHE_H
#define SPATE_DNS_CACHE_H
#include "htable.h"
#include "list.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SPATE_DNS_MAX_ADDRS 128 /* same definition as in dns.h */
#define SPATE_DNS_MAX_NAME 254  /* 253 plus an optional trailing dot */

/* One address without a port. */
struct spate_dns_ip {
    uint16_t family; /* AF_INET or AF_INET6 */
    uint32_t scope;  /* IPv6 scope id, else 0 */
    unsigned char b[16];
};

#define SPATE_DNS_UNANSWERED (-1) /* entry status before its first answer */

struct spate_dns_entry {
    struct spate_hnode hnode; /* in the table, hashed on host */
    struct spate_list lru;    /* the LRU list, while no query holds the entry */
    uint64_t expires;         /* monotonic ns; the answer is fresh while now < expires */
    int status;    /* 0: ip[] holds the answer; SPATE_DNS_UNANSWERED; else the negative c-ares
                      status (NXDOMAIN, no data) */
    unsigned refs; /* held by the resolver (query in flight, dispatch): never evicted */
    void *pending; /* the resolver's in-flight query for this name, or NULL */
    unsigned n;
    struct spate_dns_ip *ip;    /* n addresses: inl, or owned when more than fit there */
    struct spate_dns_ip inl[2]; /* most names have one or two addresses: no second allocation */
    char host[];                /* the key */
};

/* Entries kept at most unless a query holds them; least recently used evicted beyond. */
#define SPATE_DNS_CACHE_DEFAULT 10000

struct spate_dns_cache {
    struct spate_htable tab; /* spate_dns_entry.hnode */
    size_t n;                /* entries (tab.n, kept here for readers of the cache) */
    size_t cap; /* entries kept at most; beyond it the least recently used idle ones go */
    struct spate_list lru; /* idle entries (spate_dns_entry.lru), least recently used last */
};

/* Returns 0 or -ENOMEM. cap 0 keeps nothing once its query is done (no caching): entries then
 * live only while held, for coalescing. */
int spate_dns_cache_init(struct spate_dns_cache *c, size_t cap);
/* Frees every entry, whatever its refs. NULL-safe. */
void spate_dns_cache_fini(struct spate_dns_cache *c);

/* The entry for host (exact, already lowercased), or NULL; a found entry becomes the most
 * recently used. */
struct spate_dns_entry *spate_dns_cache_get(struct spate_dns_cache *c, const char *host);
/* Adds an unanswered entry for host (which must not be present) as the most recently used,
 * first evicting least recently used idle entries while the cache is full. NULL on allocation
 * failure. The entry may be evicted by the next add or release unless it is held. */
struct spate_dns_entry *spate_dns_cache_add(struct spate_dns_cache *c, const char *host);
/* A query holds e (counted): it is out of the LRU and never evicted until released. */
void spate_dns_cache_hold(struct spate_dns_cache *c, struct spate_dns_entry *e);
/* Drops one hold; the last one makes e the most recently used idle entry, and evicts the least
 * recently used ones beyond the cap (e itself when the cap is 0). */
void spate_dns_cache_release(struct spate_dns_cache *c, struct spate_dns_entry *e);

/* Stores a positive answer (cut to SPATE_DNS_MAX_ADDRS) fresh until now + ttl_ns. Without memory
 * for more than two addresses it keeps the first two. */
void spate_dns_entry_set(struct spate_dns_entry *e, const struct spate_dns_ip *ip, unsigned n,
                         uint64_t now, uint64_t ttl_ns);
/* Stores a negative answer (status != 0) fresh until now + ttl_ns. */
void spate_dns_entry_set_negative(struct spate_dns_entry *e, int status, uint64_t now,
                                  uint64_t ttl_ns);
static inline int spate_dns_entry_fresh(const struct spate_dns_entry *e, uint64_t now)
{
    return e->status != SPATE_DNS_UNANSWERED && now < e->expires;
}

/* Fills ip from an AF_INET/AF_INET6 sockaddr; returns 0, or -1 for another family or length. */
int spate_dns_ip_from_sa(struct spate_dns_ip *ip, const struct sockaddr *sa, socklen_t len);
/* 1 when ip is in the list (address and family; the scope id is ignored). */
int spate_dns_ip_in(const struct spate_dns_ip *ip, const struct spate_dns_ip *list, unsigned n);
/* Writes ip with port into sa; returns the sockaddr length. */
socklen_t spate_dns_ip_to_sa(const struct spate_dns_ip *ip, unsigned port,
                             struct sockaddr_storage *sa);

#endif
