/* The asynchronous resolver: c-ares driven by the spate loop, behind a TTL cache, with pins
 * (curl's --resolve), IP literals and localhost answered without DNS, and coalesced lookups. */
#ifndef SPATE_DNS_H
#define SPATE_DNS_H
#include "loop.h"
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

struct spate_dns;

struct spate_dns_opts {
    /* < 0: cache for the records' TTL (min over the addresses and CNAMEs, clamped to <= 1 h;
     * TTL 0 caches for 0 s, i.e. every resolve queries); >= 0: this many seconds instead. */
    double fixed_ttl;
    /* "ADDR", "ADDR:PORT", "[v6]" or "[v6]:PORT"; none = the system's resolv.conf. Given servers
     * also turn search domains off, so a name is always queried as written. */
    const char *const *servers;
    size_t n_servers;
    /* curl --resolve entries "HOST:PORT:ADDR[,ADDR...]" (ADDR may be [v6]). */
    const char *const *pins;
    size_t n_pins;
    /* Seconds per try (<= 0: 2). Two tries; c-ares doubles the second, so a silent server fails
     * a lookup after about 3 x timeout (per server), never after c-ares' 75 s default. */
    double timeout;
    /* Names (NXDOMAIN ones too) kept in the cache at most; the least recently used go first,
     * never one whose lookup is in flight. 0: SPATE_DNS_CACHE_DEFAULT (10,000); < 0: none kept
     * once answered (every resolve queries; concurrent ones still share a query). */
    long cache_size;
};

/* Addresses kept of one answer (also in cache.h): a name with more is cut to its first ones.
 * Enough for any answer that fits a UDP reply; memory per cached name follows its answer. */
#define SPATE_DNS_MAX_ADDRS 128
#define SPATE_DNS_NEG_TTL 5.0 /* seconds NXDOMAIN/no-data answers stay cached (or fixed_ttl) */

struct spate_dns_addr {
    struct sockaddr_storage sa; /* port already filled in */
    socklen_t len;
};

struct spate_dns_answer {
    int ok; /* 1 = addresses below; 0 = error */
    /* Valid only during the callback. IPv6 and IPv4 in the order the server gave them (no RFC 6724
     * sorting), at most SPATE_DNS_MAX_ADDRS. localhost gives 127.0.0.1 then ::1. */
    size_t n;
    const struct spate_dns_addr *addrs;
    /* When !ok: names the host and the reason, e.g. "could not resolve host nx.test (NXDOMAIN)",
     * "DNS lookup for sf.test failed (server failure, refused or unreachable)",
     * "DNS lookup for x.test timed out". Valid only during the callback. */
    const char *error;
    int cached; /* answered from the cache, a pin, a literal or localhost, without a query */
};

typedef void (*spate_dns_cb)(void *arg, const struct spate_dns_answer *a);
struct spate_dns_query; /* handle for spate_dns_cancel */

/* Creates a resolver on loop (which must outlive it). Returns 0, -ENOMEM, or -EINVAL with a
 * message in err (bad server or pin syntax, c-ares init failure). o may be NULL (defaults). */
int spate_dns_create(struct spate_dns **out, struct spate_loop *loop,
                     const struct spate_dns_opts *o, char *err, size_t errlen);

/* Tears the resolver down; pending callbacks are never called and outstanding handles become
 * invalid (do not cancel them afterwards). NULL-safe. May be called from inside a resolver
 * callback (teardown then happens when that callback returns). Socket records are released
 * through spate_loop_defer, so run or fini the loop afterwards. */
void spate_dns_destroy(struct spate_dns *d);

/* Resolves host (a name, or an IP literal, brackets optional) for port (0..65535).
 * cb is never called before this returns: it runs later from the loop, exactly once, unless
 * spate_dns_cancel(*q) comes first. Answers known at once (IP literal, pin, localhost, fresh
 * positive or negative cache entry, invalid name, c-ares answering synchronously from
 * /etc/hosts) are posted to the loop's queue and delivered in the order asked at the next
 * spate_loop_once turn, without waiting; the others when the lookup ends. Concurrent lookups of
 * one name share one c-ares query. On success *q (q may be NULL) is the handle, owned by the
 * resolver: valid until cb has returned or spate_dns_cancel. Returns 0, -ENOMEM or -EINVAL
 * (NULL host/cb, port > 65535, d already destroyed from inside a callback); on error *q is
 * NULL and cb is not called. */
int spate_dns_resolve(struct spate_dns *d, const char *host, unsigned port, spate_dns_cb cb,
                      void *arg, struct spate_dns_query **q);

/* cb will never be called for q, whether its answer is still being looked up or already posted
 * to the loop; frees q. q must be a live handle (its callback not yet run); from inside its own
 * callback it is a no-op. */
void spate_dns_cancel(struct spate_dns_query *q);

/* 1 if addr (AF_INET/AF_INET6; its port is ignored) is in host's latest positive answer, i.e. the
 * one the most recent callback for host delivered, fresh or not; 0 if the name was never
 * resolved, was evicted, or its latest answer is negative or lacks addr. Always 1 for IP literals,
 * localhost and pinned HOST:PORT (the port taken from addr). Used to stop reusing pooled
 * connections to an address that left the record set: resolve first (cheap when cached), then
 * check, so TTL-0 names keep their connections while the address stays. */
int spate_dns_addr_current(struct spate_dns *d, const char *host, const struct sockaddr *addr);

/* 1 when host's answer for port is at hand without a lookup: an IP literal, localhost, a pin, an
 * invalid name, or a fresh cache entry (counted as a cache hit). Otherwise starts a lookup with
 * nobody waiting (or leaves the one in flight) whose answer lands in the cache for the next
 * call, and returns 0 (1 if c-ares answered at once). Calls nobody back, now or later. For
 * deciding whether spate_dns_addr_current's verdict is worth trusting before reusing a pooled
 * connection. */
int spate_dns_fresh(struct spate_dns *d, const char *host, unsigned port);

struct spate_dns_stats {
    unsigned long queries;    /* c-ares lookups started (each sends A + AAAA) */
    unsigned long cache_hits; /* resolves answered by a fresh cache entry (positive or negative) */
};
void spate_dns_get_stats(const struct spate_dns *d, struct spate_dns_stats *s);

/* The c-ares this process runs with, as the library reports it ("1.18.1"). */
const char *spate_dns_library_version(void);

#endif
