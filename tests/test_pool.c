/* Unit tests for engine/pool.c: the host table (keys, growth), idle lists and the engine-wide
 * LRU, take() closing connections whose idle check fails, and host entries freed once nothing
 * uses them. Connections are built by hand with a fake transport whose idle check answers what
 * the test wants. */
#include "clock.h"
#include "conn.h"
#include "ctx.h"
#include "limit.h"
#include "pool.h"
#include "tap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct spate_ctx ctx;
static int released;   /* fake transport release() calls */
static int idle_asked; /* fake idle_ok() calls */

static struct spate_conn *of_tr(struct spate_transport *t)
{
    return spate_container_of(t, struct spate_conn, tr);
}

/* c->user points at an int: nonzero = the connection looks healthy. */
static int fake_idle_ok(struct spate_transport *t)
{
    idle_asked++;
    return *(int *)of_tr(t)->user;
}

static void fake_release(struct spate_transport *t)
{
    (void)t;
    released++;
}

static const struct spate_transport_ops fake_ops = {.idle_ok = fake_idle_ok,
                                                    .release = fake_release};

static struct spate_conn *mkconn(const struct spate_host *h, int *healthy)
{
    struct spate_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->ctx = &ctx;
    c->io.fd = -1;
    c->tr.fd = -1;
    c->tr.ops = &fake_ops;
    c->target = &h->target;
    c->user = healthy;
    c->state = SPATE_CONN_RECEIVING;
    spate_timer_init(&c->timer, NULL);
    spate_list_init(&c->link);
    spate_list_init(&c->lru);
    return c;
}

/* Checks a list of conns (node at offset off) against want[0..n) in order, both directions. */
static int conns_are(const struct spate_list *head, size_t off, struct spate_conn *const *want,
                     size_t n)
{
    size_t i = 0;
    const struct spate_list *prev = head;
    for (const struct spate_list *l = head->next; l != head; prev = l, l = l->next, i++)
        if (i >= n || (const char *)l - off != (const char *)want[i] || l->prev != prev) return 0;
    return i == n && head->prev == prev;
}

/* Checks the host's idle list against want[0..n) (most recent first), both directions. */
static int idle_list_is(const struct spate_host *h, struct spate_conn *const *want, size_t n)
{
    return conns_are(&h->idle, offsetof(struct spate_conn, link), want, n) && h->nidle == n;
}

/* Checks the pool LRU against want[0..n) (most recent first), both directions. */
static int lru_is(const struct spate_pool *p, struct spate_conn *const *want, size_t n)
{
    if (!conns_are(&p->lru, offsetof(struct spate_conn, lru), want, n) || p->nidle != n) return 0;
    return spate_pool_oldest(p) == (n ? want[n - 1] : NULL);
}

static void test_hosts(void)
{
    struct spate_pool p;
    if (!is_int(spate_pool_init(&p, &ctx.loop), 0, "pool init")) return;
    struct spate_host *a = spate_pool_host(&p, 0, "example.com", 0, 80);
    if (!ok(a != NULL, "create http://example.com:80")) return;
    is_str(a->key, "http://example.com:80", "key string");
    is_str(a->target.host, "example.com", "target host is the bare name");
    ok(a->target.port == 80 && a->target.https == 0 && a->target.host_ip == 0,
       "target port 80, plain, a name");
    ok(a->nconns == 0 && a->nidle == 0 && spate_list_empty(&a->idle) && a->wait_head == NULL,
       "a new host has no connections or waiters");
    is_int((long long)p.hosts.n, 1, "one host");
    ok(spate_pool_host(&p, 0, "example.com", 0, 80) == a, "same triple finds the same host");
    is_int((long long)p.hosts.n, 1, "  still one host");
    struct spate_host *b = spate_pool_host(&p, 1, "example.com", 0, 443);
    struct spate_host *c = spate_pool_host(&p, 1, "example.com", 0, 80);
    struct spate_host *d = spate_pool_host(&p, 0, "example.com", 0, 8080);
    struct spate_host *e = spate_pool_host(&p, 0, "127.0.0.1", 4, 80);
    struct spate_host *f = spate_pool_host(&p, 0, "::1", 6, 80);
    ok(b && c && d && e && f, "five more hosts created");
    ok(b != a && c != a && c != b && d != a && e != a && f != e,
       "scheme, port and host each make a different entry");
    is_str(b ? b->key : NULL, "https://example.com:443", "https key");
    ok(b && b->target.https == 1 && b->target.port == 443, "https target flags");
    is_str(c ? c->key : NULL, "https://example.com:80", "https on port 80 is its own key");
    is_str(f ? f->key : NULL, "http://::1:80", "IPv6 key (bare address)");
    ok(e && e->target.host_ip == 4 && f && f->target.host_ip == 6, "host_ip kept");
    is_int((long long)p.hosts.n, 6, "six hosts");
    ok(spate_pool_host(&p, 1, "example.com", 0, 443) == b, "https host found again");
    ok(spate_pool_host(&p, 0, "EXAMPLE.com", 0, 80) != a,
       "keys are exact strings (callers lower-case hosts)");
    char longhost[400];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = 0;
    ok(spate_pool_host(&p, 0, longhost, 0, 80) == NULL, "a 399-byte host is refused");
    spate_pool_fini(&p);
}

static void test_many_hosts(void)
{
    struct spate_pool p;
    if (spate_pool_init(&p, &ctx.loop)) return;
    enum { N = 1000 };
    struct spate_host **hs = calloc(N, sizeof(*hs));
    char name[64];
    int made = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "h%d.example", i);
        hs[i] = spate_pool_host(&p, i % 2, name, 0, (unsigned)(1000 + i % 7));
        made += hs[i] != NULL;
    }
    is_int(made, N, "%d hosts created", N);
    is_int((long long)p.hosts.n, N, "nhosts counts them");
    ok(p.hosts.nb >= N, "the table grew (%zu buckets)", p.hosts.nb);
    int found = 0, keys = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "h%d.example", i);
        found += spate_pool_host(&p, i % 2, name, 0, (unsigned)(1000 + i % 7)) == hs[i];
        char want[96];
        snprintf(want, sizeof want, "%s://%s:%u", i % 2 ? "https" : "http", name, 1000 + i % 7);
        keys += hs[i] && !strcmp(hs[i]->key, want) && !strcmp(hs[i]->target.host, name);
    }
    is_int(found, N, "after growth every host is found again (same pointer)");
    is_int(keys, N, "every key and host string intact");
    is_int((long long)p.hosts.n, N, "lookups created nothing new");
    size_t chained = 0;
    for (size_t i = 0; i < p.hosts.nb; i++)
        for (struct spate_hnode *n = p.hosts.b[i]; n; n = n->next)
            chained++;
    is_int((long long)chained, N, "every host is in exactly one chain");
    free(hs);
    spate_pool_fini(&p);
}

static void test_idle_lists(void)
{
    struct spate_pool p;
    if (spate_pool_init(&p, &ctx.loop)) return;
    struct spate_host *h = spate_pool_host(&p, 0, "a.test", 0, 80);
    struct spate_host *g = spate_pool_host(&p, 0, "b.test", 0, 80);
    int yes = 1;
    struct spate_conn *c1 = mkconn(h, &yes), *c2 = mkconn(h, &yes), *c3 = mkconn(h, &yes);
    struct spate_conn *d1 = mkconn(g, &yes);
    h->nconns = 3;
    g->nconns = 1;
    p.nconns = 4;
    spate_pool_put(&p, h, c1);
    ok(c1->state == SPATE_CONN_IDLE, "put parks the connection idle");
    spate_pool_put(&p, h, c2);
    spate_pool_put(&p, g, d1);
    spate_pool_put(&p, h, c3);
    ok(idle_list_is(h, (struct spate_conn *[]){c3, c2, c1}, 3),
       "host idle list: most recent first, links consistent, nidle 3");
    ok(idle_list_is(g, (struct spate_conn *[]){d1}, 1), "other host has its one");
    ok(lru_is(&p, (struct spate_conn *[]){c3, d1, c2, c1}, 4), "engine LRU spans hosts");
    ok(spate_pool_oldest(&p) == c1, "oldest is the least recently put (c1)");
    is_int(p.nidle, 4, "pool nidle 4");
    /* unlink from the middle, the tail and the head */
    spate_pool_unlink(&p, h, c2);
    ok(idle_list_is(h, (struct spate_conn *[]){c3, c1}, 2) && spate_list_empty(&c2->link) &&
           spate_list_empty(&c2->lru),
       "unlink from the middle clears c2's links");
    ok(lru_is(&p, (struct spate_conn *[]){c3, d1, c1}, 3), "  and the LRU closes the gap");
    spate_pool_unlink(&p, h, c1);
    ok(spate_pool_oldest(&p) == d1, "unlinking the oldest: d1 is now the oldest");
    ok(lru_is(&p, (struct spate_conn *[]){c3, d1}, 2), "  LRU c3, d1");
    spate_pool_unlink(&p, h, c3);
    ok(spate_list_empty(&h->idle) && h->nidle == 0, "host h has no idle connections");
    ok(lru_is(&p, (struct spate_conn *[]){d1}, 1), "  LRU holds d1 only");
    /* putting back makes c1 the most recent */
    spate_pool_put(&p, h, c1);
    ok(lru_is(&p, (struct spate_conn *[]){c1, d1}, 2) && spate_pool_oldest(&p) == d1,
       "re-put c1 goes to the LRU head");
    spate_pool_unlink(&p, g, d1);
    spate_pool_unlink(&p, h, c1);
    ok(lru_is(&p, NULL, 0) && spate_pool_oldest(&p) == NULL, "empty LRU: oldest NULL");
    ok(spate_pool_take(&p, h) == NULL, "take on an empty host is NULL");
    is_int(p.nconns, 4, "unlink never touches nconns");
    free(c1);
    free(c2);
    free(c3);
    free(d1);
    spate_pool_fini(&p);
}

static void test_take(void)
{
    struct spate_pool p;
    if (spate_pool_init(&p, &ctx.loop)) return;
    struct spate_host *h = spate_pool_host(&p, 0, "t.test", 0, 80);
    struct spate_host *g = spate_pool_host(&p, 0, "u.test", 0, 80);
    int yes = 1, no = 0;
    /* put order: good1, good2, dead1, dead2 -> idle list dead2, dead1, good2, good1 */
    struct spate_conn *good1 = mkconn(h, &yes), *good2 = mkconn(h, &yes);
    struct spate_conn *dead1 = mkconn(h, &no), *dead2 = mkconn(h, &no);
    struct spate_conn *other = mkconn(g, &yes);
    h->nconns = 4;
    g->nconns = 1;
    p.nconns = 5;
    spate_pool_put(&p, h, good1);
    spate_pool_put(&p, g, other);
    spate_pool_put(&p, h, good2);
    spate_pool_put(&p, h, dead1);
    spate_pool_put(&p, h, dead2);
    /* a wait passes: connections idle since an earlier batch are looked at before reuse (in the
     * batch they went idle in, the look is skipped: tested below) */
    ctx.loop.batch++;
    released = idle_asked = 0;
    struct spate_conn *t = spate_pool_take(&p, h);
    ok(t == good2, "take skips the two dead ones and returns the most recent healthy one");
    is_int(idle_asked, 3, "  asked the transport about three connections");
    ok(dead1->state == SPATE_CONN_CLOSED && dead2->state == SPATE_CONN_CLOSED,
       "  the dead ones are closed");
    is_int(released, 2, "  and their transports released");
    ok(dead1->reap.fn != NULL && dead2->reap.fn != NULL, "  their frees are deferred");
    ok(h->nconns == 2 && p.nconns == 3, "  nconns drops by two (host %u, pool %u)", h->nconns,
       p.nconns);
    ok(idle_list_is(h, (struct spate_conn *[]){good1}, 1), "  good1 stays idle");
    ok(lru_is(&p, (struct spate_conn *[]){other, good1}, 2), "  LRU: other, good1");
    ok(spate_list_empty(&t->link) && spate_list_empty(&t->lru), "  the taken one is unlinked");
    ok(t->state == SPATE_CONN_IDLE, "  and still idle (the caller sends on it)");
    /* the loop frees closed connections after the batch: ASan would flag a leak otherwise */
    spate_loop_once(&ctx.loop, 0);
    ok(ctx.loop.reap == NULL, "closed connections reaped by the next loop pass");
    /* a connection that is not idle fails the check without asking the transport */
    good1->state = SPATE_CONN_RECEIVING;
    idle_asked = 0;
    ok(spate_pool_take(&p, h) == NULL, "a non-idle connection in the list is not handed out");
    is_int(idle_asked, 0, "  decided by state, transport not asked");
    ok(h->nconns == 1 && p.nconns == 2 && h->nidle == 0, "  it was closed and counted out");
    /* every remaining one dead */
    int flip = 1;
    struct spate_conn *x = mkconn(h, &flip);
    h->nconns++;
    p.nconns++;
    spate_pool_put(&p, h, x);
    flip = 0; /* it died while idle */
    idle_asked = 0;
    struct spate_conn *same = spate_pool_take(&p, h);
    ok(same == x && idle_asked == 0,
       "in the batch it went idle in, a connection is handed out without a look");
    spate_pool_put(&p, h, x);
    ctx.loop.batch++;
    ok(spate_pool_take(&p, h) == NULL, "take returns NULL when the only idle one died");
    ok(h->nconns == 1 && p.nconns == 2 && h->nidle == 0 && p.nidle == 1,
       "  counts: host nconns %u, pool nconns %u, pool nidle %u", h->nconns, p.nconns, p.nidle);
    spate_loop_once(&ctx.loop, 0);
    /* fini closes what is still idle (other) */
    released = 0;
    spate_conn_close(t); /* the taken one: the owner closes it */
    spate_pool_fini(&p);
    is_int(released, 2, "pool_fini closes the remaining idle connection (plus the taken one)");
    spate_loop_once(&ctx.loop, 0);
    ok(ctx.loop.reap == NULL, "all reaped");
}

/* 1 when an entry with this key is in the table (looked up without taking a reference). */
static int in_table(const struct spate_pool *p, const char *key)
{
    for (size_t i = 0; i < p->hosts.nb; i++)
        for (const struct spate_hnode *n = p->hosts.b[i]; n; n = n->next)
            if (!strcmp(spate_container_of(n, struct spate_host, hnode)->key, key)) return 1;
    return 0;
}

/* Ends the current loop batch: deferred frees run. */
static void end_batch(void)
{
    spate_loop_once(&ctx.loop, 0);
}

static void test_free_unused(void)
{
    struct spate_pool p;
    if (spate_pool_init(&p, &ctx.loop)) return;
    p.unused_max = 0; /* free every unused entry at the end of its batch */
    struct spate_host *h = spate_pool_host(&p, 0, "a.test", 0, 80);
    ok(h && h->nrefs == 1 && spate_pool_host_in_use(h), "a looked-up host holds one reference");
    spate_pool_unref(&p, h);
    ok(in_table(&p, "http://a.test:80") && p.hosts.n == 1 && h->unused,
       "unreferenced: still there until the batch ends (a caller may still hold it)");
    end_batch();
    ok(!in_table(&p, "http://a.test:80") && p.hosts.n == 0 && p.nunused == 0 &&
           spate_list_empty(&p.unused),
       "after the batch the unused entry is freed");
    h = spate_pool_host(&p, 0, "a.test", 0, 80);
    ok(h && h->nrefs == 1 && p.hosts.n == 1,
       "looked up again: a fresh entry (the fast path forgot it)");
    spate_pool_unref(&p, h);
    struct spate_host *again = spate_pool_host(&p, 0, "a.test", 0, 80);
    end_batch();
    ok(again == h && !h->unused && h->nrefs == 1 && in_table(&p, "http://a.test:80"),
       "used again in the same batch: it leaves the unused list and survives");

    /* each kind of use keeps the entry; its end frees it */
    int yes = 1;
    struct spate_conn *c = mkconn(h, &yes);
    h->nconns = 1;
    p.nconns = 1;
    spate_pool_unref(&p, h);
    end_batch();
    ok(in_table(&p, "http://a.test:80") && !h->unused, "a busy connection keeps it");
    spate_pool_put(&p, h, c);
    end_batch();
    ok(in_table(&p, "http://a.test:80"), "an idle connection keeps it");
    spate_pool_unlink(&p, h, c);
    spate_conn_close(c);
    h->nconns = 0;
    p.nconns = 0;
    spate_pool_release(&p, h);
    end_batch();
    ok(!in_table(&p, "http://a.test:80") && p.hosts.n == 0, "its connection closed: freed");

    struct spate_req *fake = (struct spate_req *)&yes; /* only compared, never followed */
    h = spate_pool_host(&p, 0, "w.test", 0, 80);
    h->wait_head = h->wait_tail = fake;
    spate_pool_unref(&p, h);
    end_batch();
    ok(in_table(&p, "http://w.test:80"), "a waiting request keeps it");
    h->wait_head = h->wait_tail = NULL;
    spate_pool_release(&p, h);
    end_batch();
    ok(!in_table(&p, "http://w.test:80"), "no more waiters: freed");

    /* a Retry-After hold keeps it until the hold timer has fired */
    struct spate_limit l;
    spate_limit_init(&l, &ctx.loop, 1, 0, 0, NULL, NULL);
    l.pool = &p;
    h = spate_pool_host(&p, 0, "hold.test", 0, 80);
    uint64_t t0 = spate_clock_now();
    spate_limit_hold(&l, h, t0 + 30 * SPATE_NS_PER_MS);
    spate_pool_unref(&p, h);
    end_batch();
    ok(in_table(&p, "http://hold.test:80"), "a Retry-After hold keeps it");
    while (in_table(&p, "http://hold.test:80") && spate_clock_now() - t0 < SPATE_NS_PER_SEC)
        spate_loop_once(&ctx.loop, 10 * SPATE_NS_PER_MS);
    uint64_t gone = spate_clock_now() - t0;
    ok(!in_table(&p, "http://hold.test:80") && gone >= 30 * SPATE_NS_PER_MS,
       "the hold ended after 30 ms: freed (after %.0f ms)", (double)gone / 1e6);
    spate_limit_fini(&l);

    /* a short LRU of unused entries: the oldest beyond it go */
    p.unused_max = 2;
    const char *names[] = {"u1.test", "u2.test", "u3.test", "u4.test"};
    struct spate_host *u[4];
    for (int i = 0; i < 4; i++)
        u[i] = spate_pool_host(&p, 1, names[i], 0, 443);
    for (int i = 0; i < 4; i++)
        spate_pool_unref(&p, u[i]);
    spate_pool_unref(&p, spate_pool_host(&p, 1, "u1.test", 0, 443)); /* u1 used again */
    end_batch();
    ok(p.hosts.n == 2 && p.nunused == 2 && in_table(&p, "https://u1.test:443") &&
           in_table(&p, "https://u4.test:443"),
       "4 unused with room for 2: the two least recently used (u2, u3) are freed");
    ok(p.unused.next == &u[0]->unused_link && p.unused.prev == &u[3]->unused_link &&
           u[0]->unused_link.next == &u[3]->unused_link &&
           u[3]->unused_link.prev == &u[0]->unused_link,
       "  the unused list: u1 (most recent), u4");

    /* a trim still queued when the pool goes must not run afterwards */
    p.unused_max = 0;
    spate_pool_unref(&p, spate_pool_host(&p, 0, "late.test", 0, 80));
    ok(p.trim_queued, "a trim is queued");
    spate_pool_fini(&p);
    end_batch();
    ok(1, "pool_fini with a trim queued: nothing runs on the freed pool (ASan)");
}

/* Many distinct hosts used one after the other: the table stays at the hosts in use. */
static void test_many_unused(void)
{
    struct spate_pool p;
    if (spate_pool_init(&p, &ctx.loop)) return;
    char name[64];
    size_t peak = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "h%d.test", i);
        struct spate_host *h = spate_pool_host(&p, 0, name, 0, 80);
        if (!h) break;
        spate_pool_unref(&p, h);
        if (i % 100 == 99) end_batch();
        if (p.hosts.n > peak) peak = p.hosts.n;
    }
    end_batch();
    ok(p.hosts.n == SPATE_POOL_UNUSED_MAX && peak <= SPATE_POOL_UNUSED_MAX + 100,
       "20,000 hosts used in turn: %zu entries left, at most %zu at once", p.hosts.n, peak);
    spate_pool_fini(&p);
}

int main(void)
{
    memset(&ctx, 0, sizeof ctx);
    if (spate_loop_init(&ctx.loop)) {
        ok(0, "loop init");
        return done();
    }
    test_hosts();
    test_many_hosts();
    test_idle_lists();
    test_take();
    test_free_unused();
    test_many_unused();
    spate_loop_fini(&ctx.loop);
    return done();
}
