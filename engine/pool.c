/* Host table (chained hash on the key string) and idle connection lists. */
#include "pool.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int spate_pool_init(struct spate_pool *p)
{
    memset(p, 0, sizeof(*p));
    p->nbuckets = 64;
    p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
    return p->buckets ? 0 : -ENOMEM;
}

void spate_pool_fini(struct spate_pool *p)
{
    if (!p->buckets) return;
    for (size_t i = 0; i < p->nbuckets; i++) {
        struct spate_host *h = p->buckets[i];
        while (h) {
            struct spate_host *next = h->hnext;
            while (h->idle) {
                struct spate_conn *c = h->idle;
                spate_pool_unlink(p, h, c);
                spate_conn_close(c);
            }
            free(h->key);
            free(h);
            h = next;
        }
    }
    free(p->buckets);
    p->buckets = NULL;
}

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void grow(struct spate_pool *p)
{
    size_t n = p->nbuckets * 2;
    struct spate_host **b = calloc(n, sizeof(*b));
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < p->nbuckets; i++) {
        struct spate_host *h = p->buckets[i];
        while (h) {
            struct spate_host *next = h->hnext;
            size_t j = hash(h->key) & (n - 1);
            h->hnext = b[j];
            b[j] = h;
            h = next;
        }
    }
    free(p->buckets);
    p->buckets = b;
    p->nbuckets = n;
}

struct spate_host *spate_pool_host(struct spate_pool *p, const char *scheme, const char *host,
                                   int host_ip, unsigned port)
{
    char key[400];
    int kl = snprintf(key, sizeof(key), "%s://%s:%u", scheme, host, port);
    if (kl < 0 || (size_t)kl >= sizeof(key))
        return NULL; /* hosts are at most 253 bytes: cannot happen for a parsed URL */
    size_t i = hash(key) & (p->nbuckets - 1);
    for (struct spate_host *h = p->buckets[i]; h; h = h->hnext)
        if (!strcmp(h->key, key)) return h;
    struct spate_host *h = calloc(1, sizeof(*h));
    /* one allocation holds the key and, after its NUL, the bare host name */
    char *k = malloc((size_t)kl + 1 + strlen(host) + 1);
    if (!h || !k) {
        free(h);
        free(k);
        return NULL;
    }
    memcpy(k, key, (size_t)kl + 1);
    strcpy(k + kl + 1, host);
    h->key = k;
    h->target.host = k + kl + 1;
    h->target.host_ip = host_ip;
    h->target.port = (uint16_t)port;
    h->target.https = !strcmp(scheme, "https");
    spate_timer_init(&h->hold_timer, NULL);
    h->hnext = p->buckets[i];
    p->buckets[i] = h;
    if (++p->nhosts > p->nbuckets) grow(p);
    return h;
}

void spate_pool_put(struct spate_pool *p, struct spate_host *h, struct spate_conn *c)
{
    c->prev = NULL;
    c->next = h->idle;
    if (h->idle) h->idle->prev = c;
    h->idle = c;
    h->nidle++;
    c->lru_prev = NULL;
    c->lru_next = p->lru_head;
    if (p->lru_head)
        p->lru_head->lru_prev = c;
    else
        p->lru_tail = c;
    p->lru_head = c;
    p->nidle++;
    spate_conn_idle(c);
}

void spate_pool_unlink(struct spate_pool *p, struct spate_host *h, struct spate_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        h->idle = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    h->nidle--;
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        p->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        p->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
    p->nidle--;
}

struct spate_conn *spate_pool_take(struct spate_pool *p, struct spate_host *h)
{
    while (h->idle) {
        struct spate_conn *c = h->idle;
        spate_pool_unlink(p, h, c);
        if (spate_conn_idle_ok(c)) return c;
        /* the server closed it or sent bytes nobody asked for: never hand it out */
        h->nconns--;
        p->nconns--;
        spate_conn_close(c);
    }
    return NULL;
}
